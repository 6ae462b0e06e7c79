"""Server limits of the app (issue 9, "Limits"): a bounded queue that answers "full" instead of
hanging, one heavy event at a time, upload size, cache and state expiry, monitoring and
sharing off, no extra served paths, and a shutdown on SIGTERM that leaves no session folder
or upload behind. The 413 on an oversized upload is checked against the launched app in
tests/test_app_e2e.py."""

from __future__ import annotations

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


def test_launch_settings():
    from app import limits
    from app.server import launch_kwargs

    kw = launch_kwargs("127.0.0.1", 7860)
    assert kw["max_file_size"] == limits.MAX_FILE_SIZE == 20 * 2**20
    assert kw["share"] is False and launch_kwargs("127.0.0.1", 7860, share=True)["share"] is True
    assert kw["enable_monitoring"] is False and kw["allowed_paths"] == []
    assert kw["show_error"] is False  # only gr.Error messages reach users, never Python errors
    assert limits.QUEUE_MAX_SIZE == 16 and limits.HEAVY_CONCURRENCY == 1


SERVE_SCRIPT = """
import sys
import gradio as gr
from app.server import serve

with gr.Blocks(delete_cache=(1800, 3600)) as demo:
    gr.Textbox()
print("serving", flush=True)
serve(demo, "127.0.0.1", int(sys.argv[1]))
print("stopped cleanly", flush=True)
"""


def test_sigterm_removes_session_folders_and_gradio_uploads(tmp_path):
    """app.server.serve: SIGTERM closes Gradio (its upload cache is deleted) and removes the
    session folders, but leaves a folder that is not a session's alone."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    out, cache = tmp_path / "outputs", tmp_path / "gradio_cache"
    (out / "sessionA" / "run_0001").mkdir(parents=True)
    (out / "sessionA" / "run_0001" / "trajectory.json").write_text("{}")
    (out / "not_a_session").mkdir()
    (out / "not_a_session" / "notes.txt").write_text("keep me")
    port = _free_port()
    env = dict(os.environ, UNIHM_OUTPUT_DIR=str(out), GRADIO_TEMP_DIR=str(cache), GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.time() < deadline, "the server did not start"
            time.sleep(0.5)
        up = httpx.post(url + "gradio_api/upload", files={"files": ("depth.npy", b"\0" * 4096)}, timeout=30)
        assert up.status_code == 200
        assert any(p.is_file() for p in cache.rglob("*"))  # the upload sits in gradio's cache
        proc.send_signal(signal.SIGTERM)
        log, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped cleanly" in log, log[-2000:]
    assert not (out / "sessionA").exists()
    assert (out / "not_a_session" / "notes.txt").read_text() == "keep me"
    assert not [p for p in cache.rglob("*") if p.is_file()], "gradio's upload cache was not deleted"


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


def test_file_inputs_leave_nothing_in_gradio_cache(tmp_path):
    """The app's file inputs hand over the upload's path and create no file of their own
    (Gradio's gr.File(type="filepath") left one empty temp file per request)."""
    from gradio.data_classes import FileData, ListFiles

    from app.uploads import path_file

    upload = tmp_path / "upload" / "depth.png"
    upload.parent.mkdir()
    upload.write_bytes(b"png")
    component = path_file(file_types=[".png", ".npy"])
    component.GRADIO_CACHE = str(tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    for _ in range(3):
        assert component.preprocess(FileData(path=str(upload), orig_name="depth.png")) == str(upload)
    assert component.preprocess(ListFiles(root=[FileData(path=str(upload))])) == str(upload)
    assert component.preprocess(None) is None
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(gr.Error, match="one file"):
        component.preprocess(ListFiles(root=[FileData(path=str(upload)), FileData(path=str(upload))]))

