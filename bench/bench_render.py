"""Render-time bench of the raw | refined video (unihm_core.sim.video) on a synthetic scene.

A Shadow hand closing over a box that is lifted along a 64-step plan, three other objects and the
table; rendered with the app's stride (2 -> 32 grid frames of four panels). Prints the median of
``--repeats`` runs. Usage: ``.venv/bin/python bench/bench_render.py [--hand shadow] [--stride 2]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_case(hand_name: str, steps: int = 64):
    """(q_raw, q_refined, target mesh, object poses, other objects, extrinsics) of a lift."""
    import trimesh

    from unihm_core import load_hand
    from unihm_core.hands.poses import preset_pose
    from unihm_core.sim.video import SceneObject

    hand = load_hand(hand_name)
    box = trimesh.creation.box(extents=(0.06, 0.06, 0.10))
    box.apply_translation((0, 0, 0.05))
    poses = np.repeat(np.eye(4)[None], steps, 0)
    poses[:, 0, 3] = 0.05
    poses[steps // 2:, 2, 3] = np.linspace(0, 0.15, steps - steps // 2)
    q0 = preset_pose(hand, "power grasp", wrist=np.array([0.05, -0.12, 0.08, 0.0, 0.0, 0.0]))
    q = np.repeat(q0[None], steps, 0)
    q[:, 1] += np.linspace(0, 0.06, steps)
    q[:, 2] += poses[:, 2, 3]
    raw = q.copy()
    raw[:, 1] += 0.03  # pushed into the box
    others = []
    for i, (x, y, rgb) in enumerate([(-0.15, 0.05, (0.2, 0.3, 0.8)), (0.2, 0.15, (0.9, 0.8, 0.1)),
                                      (-0.1, -0.2, (0.2, 0.7, 0.3))]):
        m = trimesh.creation.cylinder(radius=0.035, height=0.08, sections=24)
        m.apply_translation((x, y, 0.04))
        others.append(SceneObject(f"scene_{i}", np.asarray(m.vertices), np.asarray(m.faces), (*rgb, 1.0)))
    return raw, q, box, poses, others


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hand", default="shadow")
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--height", type=int, default=360)
    args = ap.parse_args()
    from unihm_core.sim.video import TrajectoryVideoRenderer, VideoSpec

    t0 = time.perf_counter()
    vr = TrajectoryVideoRenderer(VideoSpec(args.width, args.height, 15))
    print(f"renderer start + warm-up: {time.perf_counter() - t0:.2f} s")
    raw, ref, box, poses, others = synthetic_case(args.hand)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        frames = vr.frames(args.hand, raw, ref, box, poses, stride=args.stride, objects=others,
                           table_to_world=np.eye(4))
        times.append(time.perf_counter() - t0)
    print(f"{len(frames)} grid frames of {frames[0].shape[1]}x{frames[0].shape[0]}: "
          f"median {np.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})")
    if args.repeats:
        from PIL import Image

        Image.fromarray(frames[len(frames) // 2]).save("/tmp/bench_render_frame.png")


if __name__ == "__main__":
    main()
