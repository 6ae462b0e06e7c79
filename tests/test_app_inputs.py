"""Upload adapters and per-session folders of the app (same functions the handlers call)."""

import json

import numpy as np
import pytest

from unihm_core import InputError
from unihm_core.pipeline import GenerateOptions, check_instruction


def test_intrinsics_parsing(tmp_path):
    from app.session import parse_intrinsics

    d = parse_intrinsics('{"fx": 600, "fy": 600, "cx": 320, "cy": 240}', None, (480, 640, 3))
    assert d["width"] == 640 and d["height"] == 480
    f = tmp_path / "camera.json"
    f.write_text(json.dumps({"fx": 500, "fy": 500, "cx": 100, "cy": 80}))
    assert parse_intrinsics("ignored", str(f), (160, 200, 3))["fx"] == 500
    with pytest.raises(InputError, match="not valid JSON"):
        parse_intrinsics("{fx: 1", None, None)
    with pytest.raises(InputError, match="missing"):
        parse_intrinsics("  ", None, None)
    with pytest.raises(InputError, match="object"):
        parse_intrinsics("[1, 2]", None, None)


def test_rgb_and_depth_adapters():
    from app.session import depth_path, rgb_array

    assert rgb_array(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    assert rgb_array(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(InputError, match="no colour image"):
        rgb_array(None)
    with pytest.raises(InputError, match="no depth map"):
        depth_path(None)
    with pytest.raises(InputError, match=r"\.png"):
        depth_path("/x/depth.exr")
    assert depth_path("/x/d.npy") == "/x/d.npy"


def test_session_folders_are_private_and_removed(tmp_path, monkeypatch):
    import app.session as s

    monkeypatch.setattr(s, "OUTPUT_DIR", tmp_path)
    a1, a2 = s.new_run_dir("sessionA"), s.new_run_dir("sessionA")
    b1 = s.new_run_dir("../../etc")  # hostile hash: sanitised, stays inside OUTPUT_DIR
    assert a1 != a2 and a1.parent == a2.parent
    assert b1.resolve().is_relative_to(tmp_path.resolve())
    s.remove_session("sessionA")
    assert not a1.exists() and b1.exists()


@pytest.mark.parametrize("text,msg", [("", "empty"), ("   \n\t ", "empty"), ("x" * 10_000, "characters"),
                                      ("把红色杯子放进碗里", "English")])
def test_bad_instructions(text, msg):
    with pytest.raises(InputError, match=msg):
        check_instruction(text)


def test_instruction_normalised():
    assert check_instruction("  pick   up\nthe can ") == "pick up the can"


def test_options_validated():
    with pytest.raises(InputError, match="temperature"):
        GenerateOptions(temperature=-1)
    with pytest.raises(InputError, match="top_p"):
        GenerateOptions(top_p=0)


def test_physics_check_needs_a_result():
    import gradio as gr

    from app.generate_tab import make_physics_check

    with pytest.raises(gr.Error, match="Generate first"):
        make_physics_check(lambda: None)(None, None)


def test_runs_bounded_and_abandoned_sessions_pruned(tmp_path, monkeypatch):
    import os
    import time

    import app.session as s

    monkeypatch.setattr(s, "OUTPUT_DIR", tmp_path)
    runs = [s.new_run_dir("busy") for _ in range(6)]
    kept = sorted(p.name for p in (tmp_path / "busy").iterdir())
    assert kept == [r.name for r in runs[-s.RUNS_KEPT_PER_SESSION:]]
    old = s.new_run_dir("abandoned").parent
    past = time.time() - s.SESSION_TTL_S - 10
    os.utime(old, (past, past))
    s.new_run_dir("other")
    assert not old.exists() and (tmp_path / "busy").exists()


def _synthetic_scene():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from perception_synth import BLUE, CX, CY, FX, FY, H, RED, W, Obj, render
    from unihm_core.perception import Intrinsics, perceive

    objs = [Obj("cylinder", (-0.1, 0.05), (0.03, 0.09), BLUE), Obj("cylinder", (0.1, 0.05), (0.03, 0.09), BLUE),
            Obj("box", (0.0, -0.1), (0.08, 0.05, 0.1), RED)]
    rgb, depth, T, _ = render(objs, noise=0.001, seed=3)
    return perceive(rgb, depth, Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H), extrinsics=T)


def test_click_and_refusal_view_in_the_generate_tab(tmp_path):
    """A click gives the pixel to generate; a refusal keeps the numbered overlay and the
    instance list, with an ambiguity's candidates outlined in yellow."""
    from types import SimpleNamespace

    import gradio as gr

    from app import selection
    from app.generate_tab import make_generate
    from unihm_core.perception import AmbiguityError, ground

    assert selection.select_point(SimpleNamespace(index=[120, 80]))[0] == (120.0, 80.0)
    assert selection.select_point(SimpleNamespace(index=None))[0] is None
    scene = _synthetic_scene()
    with pytest.raises(AmbiguityError) as err:
        ground(scene, "pick up the blue cylinder")
    exc = err.value
    exc.scene = scene  # as the pipeline attaches it
    overlay, rows, text = selection.refusal_view(exc, scene)
    assert overlay.shape == scene.rgb.shape and len(rows) == len(scene.instances)
    yellow = np.all(overlay == (255, 215, 0), axis=-1)
    for k in range(len(scene.instances)):
        assert yellow[scene.instances[k].mask].any() == (k in exc.candidates)
    assert "choose" in text and "#" in text and rows[exc.candidates[0]][2] != ""

    calls = {}

    class Refusing:  # a pipeline whose grounding refuses; records the click it was given
        def generate(self, *args, click=None, **kwargs):
            calls["click"] = click
            raise exc

    generate = make_generate(lambda: Refusing())
    request = SimpleNamespace(session_hash="click-session")
    intr = json.dumps({"fx": 600, "fy": 600, "cx": 320, "cy": 240})
    depth = tmp_path / "d.npy"  # the inputs are checked before the pipeline is asked: a real depth map
    np.save(depth, np.full(scene.rgb.shape[:2], 0.8, np.float32))
    with pytest.raises(gr.Error, match="almost equally"):
        generate(scene.rgb, str(depth), intr, None, "pick up the blue cylinder", "allegro", 0, 0.7, 0.95,
                 False, False, 1000.0, 1.0, 1.0, 1.0, (12.0, 34.0), request=request)
    assert calls["click"] == (12.0, 34.0)
    shown = selection.show_refusal(request)
    assert shown[0].shape == scene.rgb.shape and len(shown[1]) == len(scene.instances)
    assert selection.show_refusal(request)[0] == gr.update()  # shown once, then forgotten
