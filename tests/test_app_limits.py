"""Server limits of the app (issue 9, "Limits"): a bounded queue that answers "full" instead of
hanging, one heavy event at a time, upload size, cache and state expiry, monitoring and
sharing off, no extra served paths. The 413 on an oversized upload is checked against the
launched app in tests/test_app_e2e.py."""

from __future__ import annotations

import ast
import socket
import time
from pathlib import Path

import gradio as gr
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_queue_full_requests_are_told_busy_not_lost():
    """max_size=1 and one slow event at a time (the app's heavy-event settings, scaled down):
    of 4 simultaneous requests one runs, one waits, and the rest get "queue is full" at once."""
    from gradio_client import Client

    def slow(x: str) -> str:
        time.sleep(2.0)
        return x.upper()

    with gr.Blocks() as demo:
        box, out = gr.Textbox(), gr.Textbox()
        box.submit(slow, box, out, api_name="slow", concurrency_limit=1, concurrency_id="heavy")
    demo.queue(max_size=1, default_concurrency_limit=1)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(),
                            quiet=True, enable_monitoring=False)
    try:
        client = Client(url, verbose=False)
        t0 = time.perf_counter()
        jobs = [client.submit(f"r{k}", api_name="/slow") for k in range(4)]
        served, busy, other = [], [], []
        for job in jobs:
            try:
                served.append(job.result(timeout=30))
            except Exception as exc:  # noqa: BLE001 - every outcome is sorted below
                (busy if "queue is full" in str(exc).lower() else other).append(str(exc))
        elapsed = time.perf_counter() - t0
    finally:
        demo.close()
    assert other == [], other  # no request fails any other way
    assert len(served) + len(busy) == 4  # every request got an answer
    assert 1 <= len(served) <= 2 and len(busy) >= 2, (served, busy)
    assert all(s in {"R0", "R1", "R2", "R3"} for s in served)
    assert elapsed < 20  # the rejected ones were not left hanging


def _calls(tree: ast.AST, attr: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == attr]


def test_app_py_launches_with_the_limits():
    from app import limits

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    (queue,) = _calls(tree, "queue")
    (launch,) = _calls(tree, "launch")
    q = {k.arg: k.value for k in queue.keywords}
    kw = {k.arg: k.value for k in launch.keywords}
    assert ast.unparse(q["max_size"]) == "QUEUE_MAX_SIZE" and limits.QUEUE_MAX_SIZE == 16
    assert ast.unparse(q["default_concurrency_limit"]) == "HEAVY_CONCURRENCY" and limits.HEAVY_CONCURRENCY == 1
    assert ast.unparse(kw["max_file_size"]) == "MAX_FILE_SIZE" and limits.MAX_FILE_SIZE == 20 * 2**20
    assert ast.literal_eval(kw["enable_monitoring"]) is False
    assert ast.literal_eval(kw["allowed_paths"]) == []
    assert ast.literal_eval(kw["show_error"]) is False  # only gr.Error messages reach users
    assert ast.unparse(kw["share"]) == "args.share"
    share_flag = [c for c in _calls(tree, "add_argument") if ast.literal_eval(c.args[0]) == "--share"]
    assert {k.arg: ast.literal_eval(k.value) for k in share_flag[0].keywords}["action"] == "store_true"


def test_gradio_version_and_demo_settings():
    from app.ui import build_demo

    major, minor = (int(x) for x in gr.__version__.split(".")[:2])
    assert (major, minor) >= (6, 20), gr.__version__
    demo = build_demo(lambda: pytest.fail("no pipeline is needed to build the UI"))
    assert demo.delete_cache == (1800, 3600)  # gradio's upload cache: files older than 1 h, every 30 min
    states = [b for b in demo.blocks.values() if isinstance(b, gr.State)]
    assert states and all(s.time_to_live == 3600 for s in states)
    heavy = {fn.name: fn for fn in demo.fns.values() if fn.concurrency_id == "heavy"}
    assert {"generate", "rerefine", "physics", "run"} <= set(heavy)
    assert all(fn.concurrency_limit == 1 for fn in heavy.values())
    instruction_boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Textbox) and b.label == "Instruction"]
    assert instruction_boxes and all(b.max_length == 500 for b in instruction_boxes)
