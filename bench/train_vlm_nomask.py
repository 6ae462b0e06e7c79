"""Train the "w/o masked training" ablation VLM of Table 4 into checkpoints/vlm_nomask.

Identical to ``unihm train vlm`` (same data, tokenizer, architecture and optimisation settings
as the shipped ``checkpoints/vlm``, read from its ``metrics.json``) except that the masking rate
is 0 in every epoch: the hand slots always carry the ground-truth previous token (teacher
forcing only, no curriculum of Eq. 10). ``unihm eval --ablation no_mask`` then runs it
autoregressively with its own samples fed back (:func:`unihm_core.eval.generate_feedback`).

The switch is ``TrainConfig(masked_curriculum=False)``; the training log records ``mask_rate`` 0
for every epoch.

    OMP_NUM_THREADS=1 .venv/bin/python bench/train_vlm_nomask.py --data DIR [--out checkpoints/vlm_nomask]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the dataset folder the shipped VLM was trained on")
    ap.add_argument("--out", default=str(ROOT / "checkpoints" / "vlm_nomask"))
    ap.add_argument("--reference", default=str(ROOT / "checkpoints" / "vlm"), help="VLM whose settings to mirror")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    from unihm_core.vlm.config import TrainConfig, VLMConfig
    from unihm_core.vlm.train import train_vlm

    ref = Path(args.reference)
    ref_metrics = json.loads((ref / "metrics.json").read_text())
    if Path(args.data).name != ref_metrics["data"]:
        print(f"warning: the reference VLM was trained on '{ref_metrics['data']}', not '{Path(args.data).name}'",
              file=sys.stderr)
    tc_dict = dict(ref_metrics["train_config"], masked_curriculum=False)
    if args.threads:
        tc_dict["threads"] = args.threads
    tc = TrainConfig(**tc_dict)
    ref_cfg = VLMConfig.load_yaml(ref / "config.yaml")
    arch = {k: getattr(ref_cfg, k) for k in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
                                              "intermediate_size", "max_positions", "max_text_tokens", "pc_points",
                                              "pc_seed", "pointnet_dims", "pc_slots", "traj_hidden", "rope_theta")}
    m = train_vlm(args.data, args.out, train_config=tc, vlm_config=VLMConfig(**arch))
    log = [json.loads(x) for x in (Path(args.out) / "training_log.jsonl").read_text().splitlines() if x.strip()]
    assert all(r["mask_rate"] == 0.0 for r in log), "the masking schedule was not disabled"
    meta = {"ablation": "w/o masked training: mask rate 0 in every epoch", "reference": str(ref.name),
            "heldout_unseen": m["heldout_unseen"], "train_seconds": m["train_seconds"]}
    (Path(args.out) / "ablation.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(json.dumps(meta, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
