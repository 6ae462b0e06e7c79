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
    hand_rows = "\n".join(f"| {h} | {c} | {c / n:.0%} | {card['hand_reject_reasons'].get(h, {})} |"
                          for h, c in card["hands_valid"].items())
    body = f"""# The synthetic dataset

Built by `unihm data build` (module `unihm_core/data`); this page is written by
`bench/dataset_card.py` from the build's `card.json`. The build is deterministic from its seed
(sequence *i* uses `default_rng([seed, i])` only) and resumable.

Build configuration: `{json.dumps(cfg)}`

## Counts

- sequences: **{n}** (target was 2,000; see "Honest notes"), split {card['per_split']}
- instructions: {card['instructions']} ({card['unique_instructions']} distinct)
- human motions attempted: {card['human_attempts']}; rejected by validation: {card['human_reject_rate']:.1%}
  ({card['human_reject_reasons']})

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

## Honest notes: how this differs from DexYCB / OakInk

- Objects are procedural primitives shaped like YCB objects (25 types), without textures,
  printed labels, transparency or deformation; bowls and plates are the only receptacles.
- Human motions are synthesised from geometry (grasp frames per shape, finger closure by
  bisection to first contact) and minimum-jerk phases, not captured: they are smoother and
  more regular than real motion and have no tremor, re-grasps or failures.
- The robot trajectories are retargeted human motions (dex-retargeting) plus the paper's
  refinement, as in the paper, so their quality is bounded by the retargeting; for the Panda
  gripper and the Shadow hand few sequences pass the contact rules (size mismatch).
- Articulated objects (drawer, lidded box) are rare targets, so open/close sequences are
  few; push/pull of wide boxes is usually rejected by the contact rules.
- The build stopped at {n} sequences: on the shared 2-core machine of this session it ran at
  about 17 sequences per minute with other training jobs running (about 3 s of CPU per
  sequence: retargeting to seven hands dominates). `unihm data build --out data_cache/default
  --n 2000 --seed 0 --refine` resumes it to the full 2,000.
"""
    out = ROOT / "docs" / "DATASET.md"
    out.write_text(body)
    write_section("dataset", f"Dataset: {n} sequences ({card['per_split']}), human reject rate "
                             f"{card['human_reject_rate']:.1%}; robot-valid per hand {card['hands_valid']}. "
                             "Details in [DATASET.md](DATASET.md) (written by `bench/dataset_card.py`).")
    print(out)


if __name__ == "__main__":
    main()
