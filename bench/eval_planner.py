"""Evaluate the shipped planner on the unseen split and write the 'planner' section of docs/RESULTS.md.

Usage: ``python bench/eval_planner.py [--data DIR] [--checkpoint checkpoints/planner]``
(DIR: a rendered dataset, default ``data_cache/default``).

Measures, on every unseen-split sequence and each of its five instructions:

* pick success: the predicted pick cell lies on the target's top-down mask; and, as a
  second view, the pick's 3-D point (cell centre at the map height) projects into the
  target's image mask;
* place error [cm]: predicted vs final object x, y (overall and per task);
* trajectory final-pose error: the object trajectory generated from the first
  instruction's prediction (start = the true start pose, size, task and articulation from
  the record) against the sequence's final object pose — translation [cm] and rotation
  [deg]; and the same with the ground-truth place, which isolates the trajectory rules
  (e.g. random rotate angles and push lengths in the data) from the network;
* seconds per stage on a 640 x 480 frame: heightmap, network (one instruction), trajectory
  and q0 (median of repeated runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402
from unihm_core.planning import Planner, heightmap_from_rgbd, initial_hand_pose, object_trajectory  # noqa: E402
from unihm_core.planning.planner import place_height  # noqa: E402
from unihm_core.planning.trajectory import RETURN_TASKS, final_pose_error  # noqa: E402
from unihm_core.planning.train import build_examples, evaluate  # noqa: E402


def planner_dir() -> Path:
    from unihm_core.planning.planner import DEFAULT_CHECKPOINT

    return DEFAULT_CHECKPOINT


def _joint(rec: dict):
    from unihm_core.data.objects import JointSpec

    j = rec["target"].get("joint")
    return None if j is None else JointSpec(kind=j["kind"], axis=tuple(j["axis"]), origin=tuple(j["origin"]),
                                            lower=j["lower"], upper=j["upper"])


def _plan_final(task: str, start: np.ndarray, size: np.ndarray, place_xy: np.ndarray, hm, rec: dict) -> np.ndarray:
    """Final object pose of the trajectory the planner would generate."""
    if task in RETURN_TASKS or task in ("open", "close"):
        place = None
    elif task == "handover":
        place = np.array([place_xy[0], place_xy[1], start[2, 3] + 0.20])
    elif task == "pick_place":
        place = np.array([place_xy[0], place_xy[1], place_height(hm, place_xy, start[2, 3])])
    else:
        place = np.array([place_xy[0], place_xy[1], start[2, 3]])
    # open/close: the data drives the joint from closed (open) or 80 % open (close), the default
    return object_trajectory(task, start, size, place_xyz=place, joint=_joint(rec))[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data_cache/default")
    ap.add_argument("--checkpoint", default=None)
    args = ap.parse_args(argv)

    import torch

    from unihm_core.data.dataset import SyntheticDataset

    torch.set_num_threads(2)
    planner = Planner.load(args.checkpoint)
    cfg = planner.hm_config
    ex = build_examples(args.data, cfg)
    test_idx = np.flatnonzero(ex["split"] == "unseen")
    res = evaluate(planner, ex, test_idx)
    ds = SyntheticDataset(args.data)
    recs = {r["seq_id"]: r for r in ds.records}
    n_total = len(ds.records)

    img_hit, t_err, r_err, t_err_gt, r_err_gt, tasks = [], [], [], [], [], []
    timing = {"heightmap": [], "network": [], "trajectory": [], "initial_pose": []}
    for n, (i, j) in enumerate(zip(range(len(test_idx)), test_idx)):
        rec = recs[str(ex["seq_id"][j])]
        arr = ds.arrays(rec["seq_id"])
        cam = rec["scene"]["camera"]
        T_cw = np.asarray(cam["extrinsics"])
        t = time.perf_counter()
        hm = heightmap_from_rgbd(arr["rgb"], arr["depth_mm"].astype(np.float32) / 1000.0, cam["fx"], cam["fy"],
                                 cam["cx"], cam["cy"], T_cw, cfg)
        timing["heightmap"].append(time.perf_counter() - t)
        t = time.perf_counter()
        pp = planner.predict(hm, ex["emb"][j, 0].astype(np.float32))
        timing["network"].append(time.perf_counter() - t)
        for k in range(ex["emb"].shape[1]):  # image-mask view of every instruction's pick
            cell = res["pred"]["pick"][i, k]
            xy = cfg.cell_to_xy(cell)
            p = np.array([xy[0], xy[1], hm.height[tuple(cell)], 1.0])
            pc = np.linalg.inv(T_cw) @ p
            u = int(round(cam["fx"] * pc[0] / pc[2] + cam["cx"]))
            v = int(round(cam["fy"] * pc[1] / pc[2] + cam["cy"]))
            ok = 0 <= u < arr["mask"].shape[1] and 0 <= v < arr["mask"].shape[0]
            img_hit.append(bool(ok and arr["mask"][v, u] == 1))
        task = rec["task"]
        start = arr["object_poses"][0].astype(np.float64)
        size = np.asarray(rec["target"]["size_m"], dtype=np.float64)
        final = arr["object_poses"][-1].astype(np.float64)
        t = time.perf_counter()
        planned = _plan_final(task, start, size, res["pred"]["place_xy"][i, 0], hm, rec)
        timing["trajectory"].append(time.perf_counter() - t)
        if n < 20:
            t = time.perf_counter()
            initial_hand_pose("shadow", task, start, size)
            timing["initial_pose"].append(time.perf_counter() - t)
        dt, da = final_pose_error(planned, final)
        dt_gt, da_gt = final_pose_error(_plan_final(task, start, size, final[:2, 3], hm, rec), final)
        t_err.append(dt)
        r_err.append(da)
        t_err_gt.append(dt_gt)
        r_err_gt.append(da_gt)
        tasks.append(task)
    ds.close()
    tasks = np.array(tasks)
    t_err, r_err = 100 * np.array(t_err), np.degrees(r_err)
    t_err_gt, r_err_gt = 100 * np.array(t_err_gt), np.degrees(r_err_gt)

    s = res["summary"]
    lines = [
        "## Planner (CLIPort-style pick/place + object trajectories)",
        "",
        "Written by `bench/eval_planner.py` (checkpoint `checkpoints/planner`, trained by "
        "`unihm train planner`). Held-out set: the **unseen** split of the rendered dataset "
        f"`{Path(args.data).name}` ({n_total} sequences in all; {s['n_sequences']} unseen sequences × 5 instructions = {s['n_instructions']} queries; "
        "unseen object instances and phrasings). Heightmaps use the stored camera extrinsics.",
        "",
        f"- pick success (pick cell on the target's top-down mask): **{100 * s['pick_success']:.1f} %**; "
        f"pick point projected into the image lands on the target's image mask: "
        f"{100 * np.mean(img_hit):.1f} %",
        f"- place error (x, y of the object's final pose): mean **{s['place_error_cm_mean']:.1f} cm**, "
        f"median {s['place_error_cm_median']:.1f} cm, within 5 cm: {100 * s['place_within_5cm']:.1f} %",
        f"- trajectory final-pose error (first instruction's prediction → generated trajectory vs the "
        f"sequence's final object pose): translation mean {t_err.mean():.1f} cm / median "
        f"{np.median(t_err):.1f} cm, rotation mean {r_err.mean():.1f}°; with the ground-truth place: "
        f"{t_err_gt.mean():.1f} cm / {r_err_gt.mean():.1f}° (what the trajectory rules alone miss)",
        "",
        "| task | sequences | pick success | place error mean / median [cm] | final-pose error [cm] / [deg] "
        "| with GT place [cm] / [deg] |",
        "|---|---|---|---|---|---|",
    ]
    for task, m in res["per_task"].items():
        sel = tasks == task
        lines.append(f"| {task} | {m['n_sequences']} | {100 * m['pick_success']:.1f} % | "
                     f"{m['place_error_cm_mean']:.1f} / {m['place_error_cm_median']:.1f} | "
                     f"{t_err[sel].mean():.1f} / {r_err[sel].mean():.1f} | "
                     f"{t_err_gt[sel].mean():.1f} / {r_err_gt[sel].mean():.1f} |")
    med = {k: 1000 * float(np.median(v)) for k, v in timing.items()}
    lines += [
        "",
        "Time per stage on one 640 × 480 frame (median, 2 CPU threads, shared machine, load average "
        f"{os.getloadavg()[0]:.1f} at the end of the run) [ms]: "
        + ", ".join(f"{k} {v:.1f}" for k, v in med.items()),
        "",
        "Notes: grab / rotate / pour return the object to its start, so their place is the start; "
        "push / pull lengths (8–18 cm) and rotate angles (±60–120°) are random in the data and not "
        "stated in the instructions, so part of that error is irreducible; the hand-over point lies "
        "above the table towards the viewer (its x, y clipped to the map).",
    ]
    train = json.loads((Path(args.checkpoint or planner_dir()) / "metrics.json").read_text())["train"]
    lines += [
        "",
        f"Training: {train['steps']} steps of batch {train['batch_size']} in {train['seconds']:.0f} s on "
        f"{train['train_sequences']} seen sequences on one CPU thread (a fixed step count, so the run is "
        "deterministic; the shipped run before this one stopped at a 540 s wall-time cap after 374 steps and "
        "reached 50.9 % pick success, 20.4 cm mean place error). Pick and place are still far from CLIPort's "
        "numbers: the network is small and trained for minutes on synthetic scenes. `plan()` therefore takes "
        "the place from language grounding when grounding finds one and starts the trajectory at the grounded "
        "target.",
    ]
    body = "\n".join(lines)
    print(body)
    write_section("planner", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
