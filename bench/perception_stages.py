"""Time per perception stage on a synthetic 640x480 RGB-D frame (every pixel valid).

Run: ``OMP_NUM_THREADS=1 python bench/perception_stages.py`` (prints a Markdown table).
The frame comes from the analytic renderer the tests use (tests/perception_synth.py).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from perception_synth import BLUE, GREEN, ORANGE, RED, WHITE, YELLOW, Obj, render  # noqa: E402

from unihm_core.perception import Intrinsics, get_text_encoder, ground, perceive  # noqa: E402


def main(repeats: int = 5) -> None:
    objs = [
        Obj("cylinder", (-0.12, 0.05), (0.033, 0.11), BLUE), Obj("cylinder", (0.0, 0.05), (0.033, 0.11), RED),
        Obj("box", (0.14, 0.0), (0.06, 0.05, 0.08), GREEN), Obj("box", (0.15, 0.2), (0.12, 0.08, 0.15), GREEN),
        Obj("sphere", (-0.02, -0.12), (0.04,), ORANGE), Obj("cylinder", (-0.22, -0.12), (0.07, 0.05), WHITE),
        Obj("cylinder", (-0.10, -0.14), (0.025, 0.08), YELLOW),
    ]
    rgb, depth, _, _ = render(objs, noise=0.0015, seed=0)
    intr = Intrinsics.realsense_like()
    perceive(rgb, depth, intr)  # warm-up: open3d start-up, colour lookup table
    t = time.perf_counter()
    enc = get_text_encoder()
    load_s = time.perf_counter() - t
    stages: dict[str, list[float]] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        scene = perceive(rgb, depth, intr)
        total = time.perf_counter() - t
        for k, v in scene.timings_s.items():
            stages.setdefault(k, []).append(v)
        t = time.perf_counter()
        ground(scene, "put the red can into the white bowl", encoder=enc)
        stages.setdefault("grounding", []).append(time.perf_counter() - t)
        stages.setdefault("perceive total", []).append(total)
    n_points = int((depth > 0).sum())
    print(f"640x480 frame, {n_points} valid points, {len(scene.instances)} objects; median of {repeats} runs")
    print("| stage | ms |\n|---|---|")
    for k, v in stages.items():
        print(f"| {k} | {1000 * statistics.median(v):.0f} |")
    print(f"| MiniLM load (once per process) | {1000 * load_s:.0f} |")


if __name__ == "__main__":
    main()
