"""Cross-hand tab: one time limit shared by all hands, hands not reached are reported."""

import time
from types import SimpleNamespace

import numpy as np

import app.crosshand_tab as ct
from unihm_core import HAND_NAMES


class _SlowPipeline:
    """Records the deadline of every call and takes 60 ms per hand."""

    def __init__(self):
        self.deadlines = []

    def generate(self, rgb, depth, intr, instruction, hand, seed, deadline_s=None):
        self.deadlines.append(deadline_s)
        time.sleep(0.06)
        q = np.zeros((10, 3))
        m = {"penetration_max_mm": 0.0, "contact_distance_mm": 1.0, "jerk_m_s3": 2.0}
        return SimpleNamespace(best=SimpleNamespace(q=q), tokens=[1, 2], metrics={"raw": m}, timings_s={"total": 0.06})


def test_time_limit_is_shared_and_skipped_hands_are_listed(monkeypatch, tmp_path):
    pipe = _SlowPipeline()
    monkeypatch.setattr(ct, "CROSSHAND_TIME_LIMIT_S", 0.1)
    monkeypatch.setattr(ct, "_still", lambda res, frame: None)
    monkeypatch.setattr(ct, "rgb_array", lambda rgb: np.zeros((480, 640, 3), np.uint8))
    monkeypatch.setattr(ct, "parse_intrinsics", lambda text, cam, shape: None)
    monkeypatch.setattr(ct, "depth_path", lambda f: f)
    run = ct.make_crosshand(lambda: pipe)
    gallery, rows, note = run(None, None, "{}", "lift the can", 0, progress=lambda *a, **k: None)
    assert 1 <= len(rows) < len(HAND_NAMES)
    assert all(d is not None and d <= 0.1 for d in pipe.deadlines)
    assert pipe.deadlines == sorted(pipe.deadlines, reverse=True)  # the budget shrinks hand by hand
    skipped = HAND_NAMES[len(rows):]
    assert "Time limit of 0.1 s" in note and all(h in note for h in skipped)
