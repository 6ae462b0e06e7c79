"""Simulated success: the execution check on dataset and pipeline trajectories -> docs/RESULTS.md `physics`.

Every trajectory is executed by :func:`unihm_core.sim.execution.execution_check` (PD-driven hand,
squeeze at contact frames, articulated objects with their joint, one success rule per task
family; see that module). Three parts:

1. **Agreement and speed**: the default setting (300 Hz, 16/2 solver iterations) against the slow
   reference (600 Hz, 50/10) on ``--agreement`` (sequence, hand) pairs of the dataset: the share
   of pairs with the same success verdict, and the time per trajectory.
2. **Dataset, unseen split, every hand**: success per task family and per hand of the dataset's
   ground truth, of the raw VLM output (shipped checkpoints, seed 0, first instruction), and of
   both after paper Algorithm 1 (``RefineConfig(energy="paper")``) and after the whole-hand
   refinement (the default energy), with hand-link penetration (max / mean of the per-trajectory
   maxima) and the number of flung objects.
3. **Bundled examples x 8 hands** through :class:`unihm_core.pipeline.Pipeline`: raw, paper
   Algorithm 1, whole-hand.

The paper's Table 3 (real robot, unseen objects) is printed beside, marked as such.

Usage: ``python bench/eval_physics.py --data data_cache/phys500 [--unseen 100] [--agreement 100]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HANDS = ("shadow", "allegro", "schunk_svh", "leap", "ability", "inspire", "panda_gripper", "human")
FAMILIES = ("carried", "slid", "articulated")
PAPER_TABLE3 = {"grab": 60, "pick&place": 35, "push&pull": 55, "open&close": 45}


def _energies() -> tuple[str, ...]:
    """Refinement energies this checkout's RefineConfig offers (whole-hand may not exist yet)."""
    from unihm_core.refine import RefineConfig

    names = {f.name for f in dataclasses.fields(RefineConfig)}
    return ("paper", "whole_hand") if "energy" in names else ("paper",)


REFINE_TIMES: dict[tuple[str, str], list[float]] = defaultdict(list)  # (energy, hand) -> seconds per trajectory


def _refine(hand: str, q, points, normals, poses, energy: str):
    from unihm_core.refine import ObjectSurface, RefineConfig, refine

    cfg = RefineConfig(energy=energy) if "energy" in {f.name for f in dataclasses.fields(RefineConfig)} \
        else RefineConfig()
    res = refine(hand, q, ObjectSurface.build(points, normals), poses, config=cfg)
    REFINE_TIMES[(energy, hand)].append(res.timings["total_s"])
    return res.q


def refine_time_lines(energies) -> list[str]:
    lines = ["| refinement | " + " | ".join(HANDS) + " |", "|---" * (len(HANDS) + 1) + "|"]
    for e in energies:
        cells = [f"{1000 * np.median(REFINE_TIMES[(e, h)]):.0f}" if REFINE_TIMES[(e, h)] else "-" for h in HANDS]
        lines.append(f"| {e} (median ms per trajectory) | " + " | ".join(cells) + " |")
    return lines


class Tally:
    """Success counts per (variant, hand) and (variant, family), penetration and flung counts."""

    def __init__(self):
        self.rows: dict[str, list[tuple[str, str, object]]] = defaultdict(list)

    def add(self, variant: str, hand: str, rep) -> None:
        self.rows[variant].append((hand, rep.family, rep))

    def table(self, hands=HANDS) -> list[str]:
        head = "| trajectories | n | success | " + " | ".join(hands) + " | " + " | ".join(FAMILIES) + \
               " | link pen. max / mean [mm] | flung |"
        out = [head, "|" + "---|" * (head.count("|") - 1)]
        for variant, rows in self.rows.items():
            def rate(sel):
                s = [r.success for _, _, r in sel]
                return f"{100 * np.mean(s):.0f} % ({len(s)})" if s else "-"
            pen = np.array([r.max_link_penetration for _, _, r in rows]) * 1000
            cells = [rate([x for x in rows if x[0] == h]) for h in hands]
            cells += [rate([x for x in rows if x[1] == f]) for f in FAMILIES]
            flung = sum(r.failure == "flung" for _, _, r in rows)
            out.append(f"| {variant} | {len(rows)} | {rate(rows)} | " + " | ".join(cells) +
                       f" | {pen.max():.1f} / {pen.mean():.1f} | {flung} |")
        return out

    def reasons(self) -> list[str]:
        out = ["| trajectories | " + " | ".join(("knocked", "lost", "never_moved", "off_target", "short_travel",
                                                  "flung", "penetration")) + " |", "|---" * 8 + "|"]
        for variant, rows in self.rows.items():
            c = defaultdict(int)
            for _, _, r in rows:
                if r.failure:
                    c[r.failure] += 1
            out.append(f"| {variant} | " + " | ".join(str(c[k]) for k in ("knocked", "lost", "never_moved",
                                                                           "off_target", "short_travel", "flung",
                                                                           "penetration")) + " |")
        return out


def agreement(ds, records, n: int) -> list[str]:
    from unihm_core.sim.execution import ExecutionConfig, check_sequence

    fast, slow = ExecutionConfig(disturbance=False), ExecutionConfig.reference()
    slow = dataclasses.replace(slow, disturbance=False)
    pairs = [(r, h) for r in records for h in HANDS][:n]
    same = same_reason = 0
    times: dict[str, list[float]] = defaultdict(list)
    with_dist: dict[str, list[float]] = defaultdict(list)
    for r, h in pairs:
        a = ds.arrays(r["seq_id"])
        t = time.perf_counter()
        x = check_sequence(r, a, h, config=fast)
        times[h].append(time.perf_counter() - t)
        y = check_sequence(r, a, h, config=slow)
        same += x.success == y.success
        same_reason += x.failure == y.failure
    for r in records[:10]:  # the disturbance test's cost, on carried tasks
        for h in ("shadow", "allegro"):
            rep = check_sequence(r, ds.arrays(r["seq_id"]), h)
            if rep.disturbance is not None:
                with_dist[h].append(rep.timings["total_s"])
    lines = [f"Default setting vs the slow reference on {len(pairs)} (sequence, hand) pairs: same success verdict "
             f"on {same} ({100 * same / max(len(pairs), 1):.0f} %, target >= 95 %), same failure name on "
             f"{same_reason}.", "",
             "| hand | trajectories | median time per trajectory [s] (default, no disturbance test) | frames |",
             "|---|---|---|---|"]
    for h in HANDS:
        if times[h]:
            lines.append(f"| {h} | {len(times[h])} | {np.median(times[h]):.3f} | 60-90 |")
    for h, v in with_dist.items():
        lines.append(f"\nWith the six-direction disturbance test ({h}, carried tasks, {len(v)} runs): median "
                     f"{np.median(v):.3f} s.")
    return lines


def dataset_rows(ds, records, tally: Tally, energies, vlm: bool) -> None:
    from unihm_core.sim.execution import check_sequence

    models = None
    if vlm:
        from unihm_core.eval import EvalConfig, _generate, load_models

        models = load_models(EvalConfig(split="unseen"))
    for h in HANDS:
        for r in records:
            a = ds.arrays(r["seq_id"])
            key = "human_q" if h == "human" else f"q/{h}"
            if key not in a:
                continue
            pts, nrm, poses = (a[k].astype(np.float64) for k in ("obj_points", "obj_normals", "object_poses"))
            q_gt = a[key].astype(np.float64)
            tally.add("dataset ground truth", h, check_sequence(r, a, h))
            for e in energies:
                tally.add(f"dataset ground truth + {e}", h, check_sequence(r, a, h, _refine(h, q_gt, pts, nrm, poses, e)))
            if models is not None and h in models.vlm.config.hands:
                ex = models.vlm.make_example(h, r["instructions"][0], pts, poses, q_gt[0])
                tok = _generate(models.vlm, [ex], EvalConfig(split="unseen"), 0)[0]
                raw = models.vlm.decode(h, tok, poses)
                tally.add("VLM raw", h, check_sequence(r, a, h, raw))
                for e in energies:
                    tally.add(f"VLM + {e}", h, check_sequence(r, a, h, _refine(h, raw, pts, nrm, poses, e)))


def example_rows(tally: Tally, energies) -> None:
    import trimesh

    from unihm_core.data.examples import example_dirs, load_example
    from unihm_core.pipeline import GenerateOptions, Pipeline
    from unihm_core.sim.execution import execution_check

    pipe = Pipeline.load()
    for d in example_dirs():
        ex = load_example(d)
        for h in HANDS:
            res = pipe.generate(ex["rgb"], ex["depth"], ex["intrinsics"], ex["instruction"], hand=h, seed=0,
                                options=GenerateOptions(refine=False, physics=False))
            mesh = trimesh.Trimesh(res.target.points).convex_hull
            poses = res.plan.object_poses
            tally.add("examples raw", h, execution_check(h, res.raw.q, mesh, poses, res.plan.task))
            for e in energies:
                q = _refine(h, res.raw.q, res.target.points, res.target.normals, poses, e)
                tally.add(f"examples + {e}", h, execution_check(h, q, mesh, poses, res.plan.task))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "data_cache" / "phys500"), help="dataset folder")
    ap.add_argument("--unseen", type=int, default=100, help="unseen sequences (0: skip the dataset part)")
    ap.add_argument("--agreement", type=int, default=100, help="(sequence, hand) pairs (0: skip)")
    ap.add_argument("--no-vlm", action="store_true", help="skip the VLM rows of the dataset part")
    ap.add_argument("--no-examples", action="store_true", help="skip the bundled examples")
    ap.add_argument("--dry", action="store_true", help="print instead of writing docs/RESULTS.md")
    args = ap.parse_args()

    from bench.results import write_section
    from unihm_core.data.dataset import SyntheticDataset

    t0 = time.perf_counter()
    energies = _energies()
    lines = ["Written by `bench/eval_physics.py`: every trajectory executed by the execution check "
             "(`unihm_core/sim/execution.py`: PD-driven hand at 300 Hz, squeeze 5 mm past the surface at scheduled "
             "contacts, convex-hull rigid objects / jointed drawers and lids; success = carried within 3 cm and "
             "20 deg of the plan at every frame, push/pull final position within 3 cm, open/close >= 80 % of the "
             "joint travel; never flung (> 2 m/s) nor a hand link > 5 mm inside the object or table).", ""]
    tally = Tally()
    ds = SyntheticDataset(args.data) if Path(args.data).exists() else None
    if ds is not None and args.agreement:
        lines += ["### Agreement with the slow reference, speed", ""]
        lines += agreement(ds, ds.split("seen") + ds.split("unseen"), args.agreement) + [""]
    if ds is not None and args.unseen:
        recs = ds.split("unseen")[:args.unseen]
        dataset_rows(ds, recs, tally, energies, vlm=not args.no_vlm)
        lines.append(f"Dataset `{Path(args.data).name}`, unseen split: {len(recs)} sequences.")
    if not args.no_examples:
        example_rows(tally, energies)
    if tally.rows:
        lines += ["", "### Success", "", *tally.table(), "", "Failure reasons:", "", *tally.reasons()]
        lines += ["", "Refinement time (same runs, one core, 60-90 frames):", "", *refine_time_lines(energies)]
    if "whole_hand" not in energies:
        lines += ["", "The whole-hand refinement energy is not in this checkout: only paper Algorithm 1 is measured."]
    lines += ["", "For orientation, the paper's Table 3 (UniHM on a **real robot**, unseen objects; not a simulation "
              "and not comparable one to one): " + ", ".join(f"{k} {v} %" for k, v in PAPER_TABLE3.items()) + ".",
              "", f"Run time: {time.perf_counter() - t0:.0f} s."]
    body = "\n".join(["## Simulated success (execution check)", ""] + lines)
    if args.dry:
        print(body)
    else:
        write_section("physics", body)
        print(body)


if __name__ == "__main__":
    main()
