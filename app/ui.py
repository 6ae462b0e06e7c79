"""The app's layout: one ``gr.Blocks`` with a tab per concern."""

from __future__ import annotations

import gradio as gr

from app.crosshand_tab import create_crosshand_tab
from app.generate_tab import cleanup_session, create_generate_tab
from app.hands_tab import create_hands_tab, show_preset
from app.pipeline_provider import get_pipeline
from app.warmup import WARMUP, WarmUp

TITLE = "UniHM: language-guided dexterous manipulation for many hands"
INTRO = ("Upload an RGB-D frame with its intrinsics (or pick an example), type an instruction and pick a hand. "
         "The target is segmented, its motion planned, the hand motion generated as tokens of a codebook shared "
         "by all hands, refined with physics-guided Gauss-Newton, rendered in SAPIEN and exported.")


def build_demo(pipeline_provider=get_pipeline, warmup: WarmUp = WARMUP) -> gr.Blocks:
    """Build the whole UI (no model is loaded here; the provider loads on first use, the
    warm-up starts in the background on the first page load)."""
    with gr.Blocks(title=TITLE, delete_cache=(1800, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}")
        warm_status = gr.Markdown(warmup.markdown(), elem_id="warmup-status")
        warm_timer = gr.Timer(1.0, active=not warmup.finished)

        def poll_warmup():
            return warmup.markdown(), gr.Timer(active=not warmup.finished)

        def start_warmup():
            warmup.start()
            return poll_warmup()

        warm_timer.tick(poll_warmup, None, [warm_status, warm_timer], show_progress="hidden", queue=False,
                        api_name=False)
        demo.load(start_warmup, None, [warm_status, warm_timer], show_progress="hidden", queue=False,
                  api_name=False)
        inputs = create_generate_tab(pipeline_provider)
        create_crosshand_tab(pipeline_provider, inputs)  # reuses the Generate tab's frame, camera, instruction
        hand, preset, image, table, summary = create_hands_tab()
        demo.load(show_preset, [hand, preset], [image, table, summary], api_name="show_hand")
        demo.unload(cleanup_session)
    return demo
