"""The app's layout: one ``gr.Blocks`` with a tab per concern."""

from __future__ import annotations

import gradio as gr

from app.hands_tab import create_hands_tab, show_preset

TITLE = "UniHM: language-guided dexterous manipulation for many hands"


def build_demo() -> gr.Blocks:
    """Build the whole UI (no network, no model loading happens here)."""
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}")
        hand, preset, image, table, summary = create_hands_tab()
        demo.load(show_preset, [hand, preset], [image, table, summary], api_name="show_hand")
    return demo
