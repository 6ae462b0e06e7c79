"""Load test: 8 concurrent gradio_client users for 2 minutes against a launched app (loopback only).

Each user loops: Generate on a bundled example (no video), timing each request. Every request
must end in a result or an error message (queue full = "busy"); nothing may hang. Reports
served / busy / failed, p50 / p95 latency, the app's peak RSS and the files left in the
output folder after the clients close. Writes the `load` section of docs/RESULTS.md.

Usage: python bench/load_test.py [--users 8] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "assets" / "examples" / "mug_into_bowl"


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    import psutil
    from gradio_client import Client, handle_file

    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = Path(tempfile.mkdtemp(prefix="unihm_load_"))
    cache = Path(tempfile.mkdtemp(prefix="unihm_load_gradio_"))
    env = dict(os.environ, UNIHM_OUTPUT_DIR=str(out), GRADIO_TEMP_DIR=str(cache))
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(1)
    proc = psutil.Process(app.pid)
    peak = [proc.memory_info().rss]
    stop = time.time() + args.seconds
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    instr = json.loads((EX / "example.json").read_text())["instruction"]

    def user(k: int) -> None:
        client = Client(url, verbose=False)
        while time.time() < stop:
            t = time.time()
            try:
                client.predict(handle_file(str(EX / "color.png")), handle_file(str(EX / "depth.png")),
                               (EX / "camera.json").read_text(), None, instr, "allegro", k, 0.7, 0.95, True, False,
                               1000.0, 1.0, 1.0, 1.0, api_name="/generate")
                kind = "served"
            except Exception as exc:  # noqa: BLE001 - every outcome is counted
                kind = "busy" if "queue" in str(exc).lower() or "busy" in str(exc).lower() else "failed"
            with lock:
                results.append((kind, time.time() - t))

    def watch() -> None:
        while time.time() < stop + 5:
            try:
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
            except psutil.Error:
                return
            time.sleep(1)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(args.users)] + [threading.Thread(target=watch)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=args.seconds + 600)
    hung = sum(th.is_alive() for th in threads)
    left_running = sum(1 for _ in out.rglob("*") if _.is_file())
    cache_running = sum(1 for _ in cache.rglob("*") if _.is_file())
    app.terminate()  # SIGTERM: app.server closes Gradio and removes the session folders
    exit_code = app.wait(timeout=60)
    left = sum(1 for _ in out.rglob("*") if _.is_file())
    cache_left = sum(1 for _ in cache.rglob("*") if _.is_file())
    # Gradio keeps its copies of example files on purpose at shutdown (``keep_in_cache``):
    # content-addressed, reused by the next start, so they do not accumulate
    example_hashes = {_sha256(p) for p in (ROOT / "assets" / "examples").rglob("*") if p.is_file()}
    cache_left_examples = sum(1 for p in cache.rglob("*") if p.is_file() and _sha256(p) in example_hashes)
    lat = np.array([t for kind, t in results if kind == "served"])
    counts = {k: sum(1 for kind, _ in results if kind == k) for k in ("served", "busy", "failed")}
    body = (f"`bench/load_test.py`: {args.users} concurrent gradio_client users for {args.seconds:.0f} s against a "
            f"launched app on loopback, Generate on the `mug_into_bowl` example (allegro, no video), queue max 16, "
            f"one heavy event at a time.\n\n"
            f"requests: {counts}; still running (hung) after the end: {hung}.\n"
            f"latency of served requests: p50 {np.percentile(lat, 50):.1f} s, p95 {np.percentile(lat, 95):.1f} s "
            f"(queueing included).\n" if len(lat) else f"requests: {counts}; none served.\n")
    body += (f"\nApp peak RSS {peak[0] / 2**20:.0f} MiB.\n\n"
             f"Files on disk at the end of the run, app still up: {left_running} in the session output folders "
             f"(each of the {args.users} client sessions keeps its last 3 runs), {cache_running} in Gradio's "
             f"upload/download cache (removed after 1 h by `delete_cache`). After SIGTERM (exit code {exit_code}): "
             f"{left} in the output folders and {cache_left} in Gradio's cache, of which {cache_left_examples} are "
             f"Gradio's copies of the bundled example images (kept on purpose at shutdown, content-addressed and "
             f"reused by the next start, so they do not accumulate); app.server closes Gradio, which deletes the "
             f"rest of its cache, and removes every session folder.")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    write_section("load", body)
    print(body)


if __name__ == "__main__":
    main()
