"""The Hands tab's handlers (same functions the UI calls) and the UI build."""

import numpy as np
import pytest

gr = pytest.importorskip("gradio")


def test_build_demo_has_hands_tab():
    from app.ui import build_demo

    demo = build_demo()
    labels = [getattr(b, "label", None) for b in demo.blocks.values()]
    assert "Hands" in labels and "Joints (value is editable)" in labels


def test_show_preset_renders_and_lists_joints():
    from app.hands_tab import show_preset
    from unihm_core import load_hand

    img, table, summary = show_preset("allegro", "pinch")
    assert img.shape == (360, 480, 3) and img.std() > 5
    hand = load_hand("allegro")
    assert [r[0] for r in table] == list(hand.finger_joint_names)
    assert all(r[3] <= r[2] <= r[4] for r in table)
    assert "22 DoF" in summary


def test_show_table_clamps_out_of_range_values():
    from app.hands_tab import show_preset, show_table

    _, table, _ = show_preset("inspire", "open")
    table[0][2] = 99.0  # far above the first joint's upper limit
    img, new_table = show_table("inspire", table)
    assert new_table[0][2] == pytest.approx(new_table[0][4])
    table[1][2] = "abc"
    with pytest.raises(gr.Error, match="not a number"):
        show_table("inspire", table)


def test_unknown_hand_is_a_clear_error():
    from app.hands_tab import show_preset

    with pytest.raises(gr.Error, match="Unknown hand"):
        show_preset("robotiq", "open")
