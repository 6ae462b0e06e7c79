"""The Hands tab: pick a hand and a pose, see it rendered in SAPIEN with its joint table.

The joint table is editable: change a value and the hand is re-rendered (values outside a
joint's limits are clamped and the message says which).
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from app.handlers import user_errors
from app.rendering import frame_hand, get_renderer, render_unavailable_reason
from unihm_core import HAND_NAMES, load_hand
from unihm_core.hands.poses import PRESETS, preset_pose

HEADERS = ["joint", "finger and role", "value", "lower", "upper", "unit"]


def _table(hand, q: np.ndarray) -> list[list]:
    rows = []
    for i, r in enumerate(hand.joint_table()):
        if i < 6:
            continue  # the wrist is fixed at the origin in this view
        rows.append([r["joint"], r["meaning"] or r["kind"], round(float(q[i]), 4), round(r["lower"], 4), round(r["upper"], 4), r["unit"]])
    return rows


def _render(hand_name: str, q: np.ndarray):
    renderer = get_renderer()
    if renderer is None:
        raise gr.Error(f"SAPIEN rendering is unavailable: {render_unavailable_reason()}")
    hand = load_hand(hand_name)
    with renderer.lock:
        frame_hand(renderer, hand.fingertip_positions(q))
        return renderer.render_hand(hand_name, q)


def _hand_name(name) -> str:
    """The registered hand name (case and spaces do not matter: "Allegro " -> "allegro")."""
    from unihm_core.errors import UnknownHandError
    from unihm_core.hands import canonical_hand

    try:
        return canonical_hand(name)
    except UnknownHandError:
        raise gr.Error(f"Unknown hand {name!r}; choose one of {', '.join(HAND_NAMES)}.",
                       print_exception=False) from None


def show_preset(hand_name: str, preset: str):
    """Render ``hand_name`` in ``preset``; returns (image, joint table, summary)."""
    hand_name = _hand_name(hand_name)
    hand = load_hand(hand_name)
    q = preset_pose(hand, preset, wrist=np.array([0.0, 0.0, 0.1, 0.0, 0.0, 0.0]))
    summary = (f"**{hand.spec.display_name}**: {hand.dof} DoF (6 floating wrist + {hand.finger_dof} finger joints), "
               f"fingertips: {', '.join(hand.fingertip_links)}")
    return _render(hand_name, q), _table(hand, q), summary


def show_table(hand_name: str, table):
    """Render the configuration typed into the joint table (clamped to the limits)."""
    hand_name = _hand_name(hand_name)
    hand = load_hand(hand_name)
    rows = table.values.tolist() if hasattr(table, "values") else list(table)
    q = np.zeros(hand.dof)
    q[:6] = [0.0, 0.0, 0.1, 0.0, 0.0, 0.0]
    index = {n: i for i, n in enumerate(hand.joint_names)}
    for row in rows:
        if row and row[0] in index:
            try:
                q[index[row[0]]] = float(row[2])
            except (TypeError, ValueError):
                raise gr.Error(f"Joint {row[0]}: {row[2]!r} is not a number; type a value in radians or metres.")
    clamped = hand.clamp(q)
    moved = [hand.joint_label(i) for i in np.flatnonzero(np.abs(clamped - q) > 1e-9)]
    if moved:
        gr.Warning(f"Clamped to the joint limits: {', '.join(moved)}")
    return _render(hand_name, clamped), _table(hand, clamped)


def create_hands_tab() -> None:
    """Add the Hands tab to the current ``gr.Blocks``."""
    with gr.Tab("Hands"):
        gr.Markdown("Pick a hand and a pose. Edit a value in the joint table to move that joint.")
        with gr.Row():
            with gr.Column(scale=1):
                # typed or API values are read case-insensitively by the handlers ("Allegro")
                hand = gr.Dropdown(list(HAND_NAMES), value="shadow", label="Hand", allow_custom_value=True)
                preset = gr.Radio(sorted(PRESETS), value="power grasp", label="Pose")
                summary = gr.Markdown()
            with gr.Column(scale=2):
                image = gr.Image(label="SAPIEN render", type="numpy", interactive=False, height=360)
        table = gr.Dataframe(headers=HEADERS, label="Joints (value is editable)", interactive=True,
                             static_columns=[0, 1, 3, 4, 5])
        for trigger in (hand.change, preset.change):
            trigger(user_errors(show_preset), [hand, preset], [image, table, summary], api_name=False)
        show = gr.Button("Render table values")
        show.click(user_errors(show_table), [hand, table], [image, table], api_name="render_hand_joints")
        return hand, preset, image, table, summary
