"""Cross-hand tab: it runs on the Generate tab's inputs, one time limit shared by all hands, hands
not reached are reported, and each hand's row says whether it achieves the task in simulation."""

import time
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

import app.crosshand_tab as ct
from unihm_core import HAND_NAMES
from unihm_core.paths import EXAMPLES_DIR

EX = EXAMPLES_DIR / "lift_soup_can"


def _result(success: bool | None):
    m = {"penetration_max_mm": 0.0, "contact_distance_mm": 1.0, "jerk_m_s3": 2.0}
    physics = {} if success is None else {"refined": SimpleNamespace(success=success,
                                                                    reason="" if success else "never moved")}
    return SimpleNamespace(best=SimpleNamespace(q=np.zeros((10, 3))), tokens=[1, 2], metrics={"raw": m},
                           timings_s={"total": 0.06}, physics=physics,
                           warnings=[] if success is not None else ["physics check skipped: no Vulkan device"])


class _SlowPipeline:
    """Records every call and takes 60 ms per hand."""

    def __init__(self, delay: float = 0.06):
        self.deadlines, self.calls, self.delay = [], [], delay

    def generate(self, rgb, depth, intr, instruction, hand, seed, click=None, deadline_s=None):
        self.deadlines.append(deadline_s)
        self.calls.append(dict(rgb=rgb, instruction=instruction, hand=hand, seed=seed, click=click))
        time.sleep(self.delay)
        return _result(success=hand != "shadow")


def _example_inputs():
    from PIL import Image

    rgb = np.asarray(Image.open(EX / "color.png").convert("RGB"))
    return rgb, str(EX / "depth.png"), (EX / "camera.json").read_text(), None


def test_time_limit_is_shared_and_skipped_hands_are_listed(monkeypatch):
    pipe = _SlowPipeline()
    monkeypatch.setattr(ct, "CROSSHAND_TIME_LIMIT_S", 0.1)
    monkeypatch.setattr(ct, "_still", lambda res, frame: None)
    run = ct.make_crosshand(lambda: pipe)
    gallery, rows, note = run(*_example_inputs(), "lift the can", 0, progress=lambda *a, **k: None)
    assert 1 <= len(rows) < len(HAND_NAMES)
    assert all(d is not None and d <= 0.1 for d in pipe.deadlines)
    assert pipe.deadlines == sorted(pipe.deadlines, reverse=True)  # the budget shrinks hand by hand
    skipped = HAND_NAMES[len(rows):]
    assert "Time limit of 0.1 s" in note and all(h in note for h in skipped)


def test_runs_every_hand_on_the_generate_inputs_with_a_success_row(monkeypatch):
    pipe = _SlowPipeline(delay=0.0)
    monkeypatch.setattr(ct, "_still", lambda res, frame: None)
    run = ct.make_crosshand(lambda: pipe)
    gallery, rows, note = run(*_example_inputs(), "", "3", click=[412.0, 260.0], progress=lambda *a, **k: None)
    assert [c["hand"] for c in pipe.calls] == list(HAND_NAMES)
    assert all(c["seed"] == 3 and c["click"] == (412.0, 260.0) for c in pipe.calls)  # the Generate tab's click
    assert all(c["rgb"] is pipe.calls[0]["rgb"] for c in pipe.calls)  # one checked frame for every hand
    assert [r[0] for r in rows] == list(HAND_NAMES)
    by_hand = {r[0]: r for r in rows}
    assert by_hand["shadow"][1:3] == ["no", "never moved"] and by_hand["allegro"][1:3] == ["yes", "—"]
    assert len(rows[0]) == len(ct.CROSSHAND_HEADERS)


def test_inputs_are_checked_before_any_model():
    def provider():
        raise AssertionError("the pipeline must not be asked for a bad input")

    run = ct.make_crosshand(provider)
    rgb, depth, intr, cam = _example_inputs()
    with pytest.raises(gr.Error, match="instruction is empty"):
        run(rgb, depth, intr, cam, "  ", 0, progress=lambda *a, **k: None)
    with pytest.raises(gr.Error, match="intrinsics are missing"):
        run(rgb, depth, "", None, "lift the can", 0, progress=lambda *a, **k: None)


def test_row_without_physics_says_why():
    row = ct.crosshand_row("leap", _result(success=None))
    assert row[:3] == ["leap", "not checked", "physics check skipped: no Vulkan device"]


def test_summary_names_what_the_generate_tab_still_needs():
    text = ct.inputs_summary(None, None, "", None, "lift the can")
    assert "a colour image" in text and "a depth map" in text and "camera intrinsics" in text
    rgb, depth, intr, cam = _example_inputs()
    assert ct.inputs_summary(rgb, depth, intr, cam, "lift the can") == (
        "Uses the Generate tab's frame, camera and instruction “lift the can”.")


def test_the_tab_is_wired_to_the_generate_inputs():
    from app.ui import build_demo

    demo = build_demo(pipeline_provider=lambda: None)
    cfg = demo.config
    ids = {c["id"]: c for c in cfg["components"]}
    fn = next(d for d in cfg["dependencies"] if d.get("api_name") == "crosshand")
    gen = next(d for d in cfg["dependencies"] if d.get("api_name") == "generate")
    labels = [ids[i]["props"].get("label") for i in fn["inputs"]]
    assert labels[:5] == [ids[i]["props"].get("label") for i in gen["inputs"][:5]]  # the same components
    assert fn["inputs"][:5] == gen["inputs"][:5] and len(fn["inputs"]) == 7
    assert "Instruction" in labels
