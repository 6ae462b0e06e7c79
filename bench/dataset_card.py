"""Write docs/DATASET.md (and the `dataset` section of docs/RESULTS.md) from a built dataset's card.

Usage: python bench/dataset_card.py [DATA_DIR]   (default data_cache/default)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def table(d: dict, k: str = "key", v: str = "count") -> str:
    rows = [f"| {k} | {v} |", "|---|---|"] + [f"| {a} | {b} |" for a, b in d.items()]
    return "\n".join(rows)


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data_cache" / "default"
    card = json.loads((data / "card.json").read_text())
    cfg = json.loads((data / "config.json").read_text())
    n = card["sequences"]
    attempts = card["human_attempts"]
    rule_rates = ", ".join(f"{k.replace('human: ', '')} {v / attempts:.1%}" for k, v in card["human_reject_reasons"].items())
    secs, built = card.get("build_seconds_this_run"), card.get("sequences_built_this_run", n)
    if secs and built:
        rate = secs / built
        build_text = (f"The last build run made {built} sequences in {secs / 60:.1f} min of wall time with "
                      f"{cfg['workers']} workers: {rate:.2f} s per sequence, i.e. {2000 * rate / 60:.1f} min for 2,000 "
                      f"sequences at that rate (target: <= 30 min on 2 cores). The machine's two cores were shared "
                      f"with other jobs during the build, so this is an upper bound."
                      + (f" Note: {card['build_note']}." if card.get("build_note") else ""))
    else:
        build_text = "The build was resumed over several runs; its total time was not recorded."
    oc = card["per_task"].get("open", 0) + card["per_task"].get("close", 0)
    hand_rows = "\n".join(f"| {h} | {c} | {c / n:.0%} | {card['hand_reject_reasons'].get(h, {})} |"
                          for h, c in card["hands_valid"].items())
    sim = card.get("sim_success") or {}
    if sim:
        fams = ("carried", "slid", "articulated")

        def cell(c):
            return f"{c[0]}/{c[1]} ({c[0] / c[1]:.0%})" if c and c[1] else "-"
        sim_rows = "\n".join(f"| {h} | " + " | ".join(cell(row.get(f)) for f in fams) + f" | {cell(row.get('all'))} |"
                             for h, row in sim.items())
        sim_text = f"""### Simulated success (the `sim` rule)

Every (sequence, hand) pair was executed in SAPIEN by the execution check
(`unihm_core/sim/execution.py`, disturbance test off): the PD-driven hand follows the stored
trajectory and the object must stay on its plan (carried: within 3 cm and 20 deg at every frame
after the grasp; pushed/pulled: final position within 3 cm; opened/closed: >= 80 % of the joint
travel). {"With `--sim-reject` a" if cfg.get("sim_reject") else "This build ran without `--sim-reject`, so a failure does not make a sequence invalid; with it, a"}
robot hand's sequence that fails counts as invalid for that hand (reason `sim: ...` above). The
human hand's row is its own demonstration, executed the same way.

| hand | carried | pushed / pulled | opened / closed | all |
|---|---|---|---|---|
{sim_rows}
"""
    else:
        sim_text = ("This build ran without `--sim-check`: the sequences were not executed in physics "
                    "(docs/RESULTS.md, physics section, measures that separately).")
    from unihm_core.data.objects import OBJECT_TYPES

    n_types = len(OBJECT_TYPES)
    body = f"""# The synthetic dataset

Built by `unihm data build` (module `unihm_core/data`); this page is written by
`bench/dataset_card.py` from the build's `card.json`. The build is deterministic from its seed
(sequence *i* uses `default_rng([seed, i])` only) and resumable.

Build configuration: `{json.dumps(cfg)}`

## Counts

- sequences: **{n}** (target: 2,000), split {card['per_split']}
- instructions: {card['instructions']} ({card['unique_instructions']} distinct)
- human motions attempted: {card['human_attempts']}; rejected by validation: {card['human_reject_rate']:.1%}
  ({card['human_reject_reasons']}; per rule, of all attempts: {rule_rates})

### Per task

{table(card['per_task'], 'task')}

### Per split and task

{table({s: d for s, d in card['per_split_task'].items()}, 'split', 'tasks')}

### Per target object type

{table(card['per_object_type'], 'object type')}

### Sequence length (frames at 30 fps)

{table(card['length_histogram'], 'frames')}

### Robot sequences passing validation (after retargeting and refinement)

| hand | valid | share | reject reasons |
|---|---|---|---|
{hand_rows}

Validation rules (`unihm_core/data/validation.py`): no fingertip deeper than 5 mm in the object;
at least two fingertips within 5 mm of the surface whenever the object moves; wrist drift
relative to the object under 1 cm while it moves. Every sequence is kept; invalid robot
sequences are flagged (`hands_valid`) and the learners skip them where it matters.

{sim_text}

## Build time

{build_text}

## Honest notes: how this differs from DexYCB / OakInk

- Objects are procedural primitives shaped like YCB objects ({n_types} types), without textures,
  printed labels, transparency or deformation; bowls and plates are the only receptacles.
- Human motions are synthesised from geometry (grasp frames per shape, each finger closed to
  its *first* contact along its closing path — the object, or the table — and minimum-jerk
  phases), not captured: they are smoother and more regular than real motion and have no
  tremor, re-grasps or failures. The hand holds the object rigidly while it moves.
- Where a hand can move the object by holding it, the robot trajectories are the hand's *own*
  motions, not the human's (`unihm_core/data/own_motions.py`, the record's `grasp_source`):
  carried objects are picked top-down thumb against fingers (`pinch_top`,
  `unihm_core/data/dexterous_grasp.py`) or, by the Panda gripper, antipodally from the top or
  the side (`antipodal_*`, `unihm_core/data/gripper_grasp.py`, where the object fits the 8 cm
  stroke); pushed and pulled objects are held the same way and slid along the table, or pushed
  by a flat hand from behind (`flat_push`); drawers and lids are opened and closed by pinching
  the handle or tab, thumb below and fingers above (`handle_pinch`). With `--sim-check` up to
  three candidates per pair are executed and the first that keeps the object on its plan is
  kept. Only the rest (`retargeted`) are the human's motion retargeted by dex-retargeting's
  position retargeting (free wrist), each frame starting from the previous solution moved with
  the object, then held rigidly while the object moves (`unihm_core/data/carry.py`). The human
  hand's own carried, pushed and handle sequences are replaced the same way (`grasp_source`
  `human`). The grasps are a fixed recipe, so the robot motions are more uniform than
  captured human ones: every carried object is taken from the top.
- Open/close targets (drawer, lidded box) are grasped at the drawer handle / the lid's tab;
  the task mix follows from uniform target types plus rejections ({oc} open/close sequences).
"""
    out = ROOT / "docs" / "DATASET.md"
    out.write_text(body)
    write_section("dataset", f"Dataset: {n} sequences ({card['per_split']}), human reject rate "
                             f"{card['human_reject_rate']:.1%}; robot-valid per hand {card['hands_valid']}. "
                             "Details in [DATASET.md](DATASET.md) (written by `bench/dataset_card.py`).")
    print(out)


if __name__ == "__main__":
    main()
