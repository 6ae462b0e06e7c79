"""Hand names are read case- and whitespace-insensitively everywhere (issue 18 item 8): the
registry, the pipeline API, the CLI's --hand and --hands lists, and the app's hand menus."""

from __future__ import annotations

import pytest

from unihm_core.errors import InputError, UnknownHandError
from unihm_core.hands import HAND_NAMES, canonical_hand, canonical_hands, load_hand
from unihm_core.paths import EXAMPLES_DIR

EX = EXAMPLES_DIR / "lift_soup_can"


@pytest.mark.parametrize("typed, name", [("Allegro", "allegro"), ("  ALLEGRO\t", "allegro"), ("Schunk SVH", "schunk_svh"),
                                         ("schunk-svh", "schunk_svh"), ("Panda  Gripper", "panda_gripper"),
                                         ("LEAP", "leap"), ("shadow", "shadow")])
def test_canonical_hand_variants(typed, name):
    assert canonical_hand(typed) == name
    assert load_hand(typed) is load_hand(name)  # one cached model, not one per spelling
    assert load_hand(typed).name == name


@pytest.mark.parametrize("bad", ["robotiq", "", "   ", "allegro2", "shadow hand", None, 3])
def test_unknown_hands_are_refused_with_the_list(bad):
    with pytest.raises(UnknownHandError) as info:
        canonical_hand(bad)
    assert all(h in str(info.value) for h in HAND_NAMES)


def test_hand_lists():
    assert canonical_hands("Shadow, LEAP ,allegro,") == ("shadow", "leap", "allegro")
    assert canonical_hands(["Inspire", " human "]) == ("inspire", "human")
    assert canonical_hands("") == ()
    with pytest.raises(UnknownHandError):
        canonical_hands("shadow, robotiq")


def test_pipeline_check_inputs_reads_any_case():
    from unihm_core.pipeline import check_inputs, resolve_hand

    _, _, hand, _, _ = check_inputs(EX / "color.png", EX / "depth.png", EX / "camera.json", "pick up the can",
                                    "  Inspire ", 0)
    assert hand == "inspire"
    with pytest.raises(InputError, match="unknown hand 'robotiq'"):
        resolve_hand("robotiq")


def test_cli_generate_and_lists_read_any_case(tmp_path):
    from unihm_core.cli import _hand_list, build_parser, check_generate_args

    args = build_parser().parse_args(["generate", "--rgb", str(EX / "color.png"), "--depth", str(EX / "depth.png"),
                                      "--intrinsics", str(EX / "camera.json"), "--instruction", "pick up the can",
                                      "--hand", "Allegro", "--out", str(tmp_path / "o")])
    assert check_generate_args(args)[2] == "allegro"
    assert _hand_list("Shadow,Schunk SVH") == ("shadow", "schunk_svh")
    with pytest.raises(UnknownHandError):
        _hand_list("shadow,robotiq")


def test_app_hand_menus_pass_typed_names_to_the_handlers():
    """Gradio refuses a value outside a Dropdown's choices before the handler runs unless custom
    values are allowed; both hand menus allow them, and the handlers resolve the name."""
    import gradio as gr

    from app.ui import build_demo

    demo = build_demo(pipeline_provider=lambda: None)
    menus = [b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Hand"]
    assert len(menus) == 2
    for menu in menus:
        assert menu.preprocess("Allegro") == "Allegro"  # reaches the handler, which reads it as allegro
