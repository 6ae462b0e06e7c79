"""End-to-end timings and memory of the pipeline on the bundled examples.

Writes the `app` section of docs/RESULTS.md: per-stage time of a 64-frame generation on this
machine (median over examples x hands; the ``physics`` stage is the execution check of the
refined trajectory, whose success rates are in the ``physics`` section written by
``bench/eval_physics.py``), the 64-frame raw|refined video render after warm-up (the renderer
is built and warmed up first, as ``app.py`` does at start, and that cost is reported on its
own) and process RSS.

Usage: python bench/bench_app.py
(about 10 minutes on 2 CPU cores; set OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

HANDS = ("allegro", "inspire", "shadow")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args = ap.parse_args()

    import psutil

    from app.generate_tab import render_video, video_renderer
    from unihm_core.data.examples import example_dirs, load_example
    from unihm_core.pipeline import Pipeline

    proc = psutil.Process()
    t = time.perf_counter()
    pipe = Pipeline.load()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    have_video = video_renderer() is not None  # what app.py does before serving
    warm_s = time.perf_counter() - t
    examples = [load_example(d) for d in example_dirs()]
    stages: dict[str, list[float]] = {}
    render_s: dict[str, list[float]] = {h: [] for h in HANDS}
    render_at: list[tuple[float, str, str]] = []
    for ex in examples:
        for hand in HANDS:
            res = pipe.generate(ex["rgb"], ex["depth"], ex["intrinsics"], ex["instruction"], hand=hand, seed=0)
            for k, v in res.timings_s.items():
                stages.setdefault(k, []).append(v)
            if have_video:
                with tempfile.TemporaryDirectory() as d:
                    t = time.perf_counter()
                    render_video(res, Path(d))
                    render_s[hand].append(time.perf_counter() - t)
                    render_at.append((render_s[hand][-1], ex["name"], hand))
    rss = proc.memory_info().rss / 2**20

    rows = ["| stage | median [s] | max [s] |", "|---|---|---|"]
    rows += [f"| {k} | {np.median(v):.3f} | {np.max(v):.3f} |" for k, v in stages.items()]
    n = len(examples) * len(HANDS)
    if have_video:
        allr = [x for v in render_s.values() for x in v]
        first = [v[0] for v in render_s.values()]
        video = (f"Video (64-frame plan rendered at stride 2 -> 32 frames, 2x2 grid of 320x240 views, H.264), "
                 f"{len(allr)} renders after the warm-up: median {np.median(allr):.2f} s, max {np.max(allr):.2f} s "
                 f"({max(render_at)[1]}, {max(render_at)[2]}; target <= 5 s); all renders: "
                 + ", ".join(f"{s:.1f}" for s, _, _ in render_at) + "; first render of each hand: "
                 + ", ".join(f"{h} {s:.2f} s" for h, s in zip(HANDS, first))
                 + f". Building and warming up the renderer (shader compilation on lavapipe), done once when the "
                   f"app starts: {warm_s:.1f} s. An earlier version of this benchmark timed that warm-up inside "
                   f"the first render; that was the earlier max of 13.8 s.")
    else:
        video = "Video: no Vulkan device on this machine, not measured."
    body = (f"Written by `bench/bench_app.py`. Pipeline on the {len(examples)} bundled examples x {len(HANDS)} hands "
            f"({', '.join(HANDS)}), 64-frame plans, seed 0, this machine (2 CPU cores shared with other jobs). "
            f"Model loading once: {load_s:.1f} s.\n\n"
            + "\n".join(rows)
            + f"\n\nTarget <= 2 s per generation without rendering: median total "
              f"{np.median(stages['total']):.2f} s.\n\n{video}\n\n"
              f"Process RSS after the run: {rss:.0f} MiB.\n\n"
              "The `physics` stage is the execution check of the refined trajectory (every Generate runs it); "
              "what it finds is in the `physics` section (`bench/eval_physics.py`).")
    write_section("app", body)
    print(body)


if __name__ == "__main__":
    main()
