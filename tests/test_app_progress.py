"""Progress of a run (app/progress.py): every stage, frames one by one, elapsed and remaining time."""

from __future__ import annotations

import re

import pytest

import app.progress as pr
from app.progress import RunProgress, generate_stages


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_stages_frames_and_time_left():
    clock, seen = Clock(), []
    expected = {"a": 1.0, "video": 4.0, "c": 1.0}
    run = RunProgress(["a", "video", "c"], lambda f, m: seen.append((f, m)), expected=expected, clock=clock,
                      learn=False)
    run.stage("a")
    assert seen[-1][0] == 0.0 and seen[-1][1].startswith("step 1/3: a · 0.0 s elapsed")
    clock.t += 2.0  # "a" took twice as long as expected: the run is slow
    run.stage("video")
    f, m = seen[-1]
    assert f == pytest.approx(1 / 6)
    assert "step 2/3: video" in m and "2.0 s elapsed" in m
    assert re.search(r"about 10 s left", m), m  # (4 + 1) s expected x pace 2
    for k in range(1, 5):
        clock.t += 1.0
        run.frame(k, 4)
        assert f"(frame {k}/4)" in seen[-1][1]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)  # never goes backwards
    assert seen[-1][0] == pytest.approx(5 / 6)
    run.stage("c")
    clock.t += 1.0
    summary = run.finish()
    assert summary == "✅ Done in 7.0 s: a 2.0 s · video 4.0 s · c 1.0 s"


def test_the_pipeline_callback_and_skipped_stages():
    clock, seen = Clock(), []
    run = RunProgress(generate_stages(render=False), lambda f, m: seen.append(m), clock=clock, learn=False)
    assert "rendering video" not in run.stages and generate_stages(True).index("rendering video") == 8
    run.pipeline_callback("perception", 0.0)
    clock.t += 1
    run.pipeline_callback("metrics", 0.75)  # stages in between were not reported: count them done
    assert all(run.seconds[s] == 0.0 for s in ("grounding", "planning", "vlm", "decoding", "refinement"))
    assert seen[-1].startswith("step 7/10: metrics")
    run.stage("a stage nobody listed")  # inserted after the current one
    assert run.stages[7] == "a stage nobody listed" and len(run.stages) == 11


def test_an_unlisted_first_stage_goes_first():
    clock = Clock()
    run = RunProgress(generate_stages(render=True), None, clock=clock, learn=False)
    run.stage("waiting for the warm-up")
    assert run.stages[0] == "waiting for the warm-up" and run.message().startswith("step 1/13: waiting")
    clock.t += 5
    for stage in ("perception", "rendering video"):
        run.stage(stage)
        clock.t += 1
    assert run.finish() == "✅ Done in 7.0 s: waiting for the warm-up 5.0 s · perception 1.0 s · rendering video 1.0 s"


def test_finished_runs_teach_the_expected_durations(monkeypatch):
    monkeypatch.setattr(pr, "EXPECTED_S", {"perception": 1.0, "render": 4.0})
    clock = Clock()
    run = RunProgress(["perception", "render"], None, clock=clock)
    assert run.expected == {"perception": 1.0, "render": 4.0}
    run.stage("perception")
    clock.t += 3.0
    run.stage("render")
    clock.t += 2.0
    run.finish()
    assert pr.EXPECTED_S == {"perception": 2.0, "render": 3.0}  # halfway to what was measured
    assert RunProgress(["x"], None, learn=False).finish().startswith("✅ Done in")


def test_video_frames_report_each_frame():
    """TrajectoryVideoRenderer.frames calls on_frame after every rendered frame."""
    from conftest import skip_or_fail

    from unihm_core import RenderError, load_hand

    try:
        from unihm_core.sim.video import TrajectoryVideoRenderer, VideoSpec

        vr = TrajectoryVideoRenderer(VideoSpec(width=64, height=48, fps=15))
    except RenderError as exc:
        skip_or_fail(f"no Vulkan renderer: {exc}")
    import numpy as np
    import trimesh

    hand = load_hand("panda_gripper")
    q = np.repeat(hand.zero()[None], 5, 0)
    poses = np.repeat(np.eye(4)[None], 5, 0)
    calls = []
    frames = vr.frames("panda_gripper", q, q, trimesh.creation.box(extents=(0.05, 0.05, 0.05)), poses, stride=2,
                       on_frame=lambda k, n: calls.append((k, n)))
    assert len(frames) == 3 and calls == [(1, 3), (2, 3), (3, 3)]
