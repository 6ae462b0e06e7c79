"""The background warm-up (app/warmup.py): the page is served first, warm-ups run after."""

from __future__ import annotations

import threading

import gradio as gr
import pytest

from app.warmup import DONE, FAILED, RUNNING, WAITING, WarmUp


def test_steps_run_in_order_in_the_background_and_failures_are_kept():
    order, gate = [], threading.Event()

    def first():
        order.append("first")
        gate.wait(10)

    def broken():
        order.append("broken")
        raise RuntimeError("no Vulkan device")

    w = WarmUp([("first", first), ("broken", broken), ("last", lambda: order.append("last"))])
    assert not w.started and w.wait() is True  # never started: handlers do not wait
    assert "Warming up" in w.markdown() and "first waiting" in w.markdown()
    assert w.start() is True and w.start() is False  # one thread only
    while w.state["first"] != RUNNING:
        pass
    assert w.state == {"first": RUNNING, "broken": WAITING, "last": WAITING}
    assert "first running…" in w.markdown()
    assert w.wait(timeout_s=0.2, poll_s=0.05) is False  # still blocked on the gate
    messages = []
    gate.set()
    assert w.wait(progress=lambda f, m: messages.append((f, m)), poll_s=0.01) is True
    assert order == ["first", "broken", "last"]
    assert w.state == {"first": DONE, "broken": FAILED, "last": DONE}
    assert w.errors == {"broken": "no Vulkan device"}
    assert w.finished and w.markdown().startswith("✅ Ready") and "no Vulkan device" in w.markdown()
    assert all(0.0 <= f <= 1.0 and "warm-up" in m for f, m in messages)


def test_waiting_handler_reports_progress():
    gate = threading.Event()
    w = WarmUp([("models", lambda: gate.wait(10))])
    w.start()
    seen = []

    def progress(frac, msg):
        seen.append(msg)
        gate.set()

    assert w.wait(progress=progress, poll_s=0.01)
    assert seen and "models" in seen[0] and "0/1" in seen[0]


def test_page_shows_the_warm_up_and_its_timer():
    from app.ui import build_demo

    w = WarmUp([("models", lambda: None)])
    demo = build_demo(lambda: pytest.fail("no pipeline is needed to build the UI"), warmup=w)
    status = [b for b in demo.blocks.values() if isinstance(b, gr.Markdown) and b.elem_id == "warmup-status"]
    timers = [b for b in demo.blocks.values() if isinstance(b, gr.Timer)]
    assert len(status) == 1 and "Warming up" in status[0].value
    assert len(timers) == 1 and timers[0].active
    assert not w.started  # building the page does not start it; the first page load does
    load = [fn for fn in demo.fns.values() if fn.name == "start_warmup"]
    assert load and load[0].fn() is not None and w.started
    w.wait()
    text, timer = [fn for fn in demo.fns.values() if fn.name == "poll_warmup"][0].fn()
    assert text.startswith("✅ Ready") and timer.active is False  # the timer turns itself off


def test_app_py_does_not_warm_up_before_serving():
    """app.py serves first: nothing heavy is imported or called before launch."""
    from pathlib import Path

    src = (Path(__file__).resolve().parents[1] / "app.py").read_text()
    for heavy in ("get_renderer()", "video_renderer()", "warm_up_refinement()", "get_pipeline()"):
        assert heavy not in src
    assert "WARMUP.start_later" in src
