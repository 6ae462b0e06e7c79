"""Tokenizer measurements -> the ``tokenizer`` section of docs/RESULTS.md.

Reads the ``metrics.json`` written next to each checkpoint by ``unihm train tokenizer`` (errors
on the dataset's unseen split, code usage, refresh events, translation table, added hands)::

    unihm train tokenizer --data D --out checkpoints/tokenizer                      # shipped (MLP)
    unihm train tokenizer --data D --out data_cache/tok_conv --arch conv --schedule-scale 0.25    # Table B1 1D-Conv
    unihm train tokenizer --data D --out data_cache/tok_mlp_q --schedule-scale 0.25  # MLP on the same schedule
    unihm train tokenizer --data D --out data_cache/tok_loo --leave-out ability     # leave-one-out
    unihm train tokenizer --data D --out data_cache/tok_loo --add-hand ability
    python bench/eval_tokenizer.py --mlp checkpoints/tokenizer --conv data_cache/tok_conv --loo data_cache/tok_loo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402

PAPER_B1 = {  # Table B1, DexYCB validation set (MAE / RMSE in rad)
    "mlp": {"allegro": (0.0268, 0.0545), "shadow": (0.0450, 0.0886), "schunk_svh": (0.0293, 0.0656),
            "leap": (0.0348, 0.0656), "ability": (0.0432, 0.0913), "panda_gripper": (0.0221, 0.0630),
            "overall": (0.0350, 0.0736)},
    "conv": {"allegro": (0.0216, 0.0465), "shadow": (0.0297, 0.0654), "schunk_svh": (0.0221, 0.0551),
             "leap": (0.0257, 0.0531), "ability": (0.0327, 0.0705), "panda_gripper": (0.0182, 0.0519),
             "overall": (0.0256, 0.0581)},
}


def _load(path: str | None) -> dict | None:
    if not path:
        return None
    p = Path(path) / "metrics.json"
    return json.loads(p.read_text()) if p.exists() else None


def _f(v: float | None, nd: int = 4) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def _schedule(m: dict) -> str:
    t = m["train"]
    return (f"{t['ref_epochs']} reference / {t['distill_epochs']} + {t['finetune_epochs']} per-hand / "
            f"{t['joint_epochs']} joint epochs, {m['train_seconds']:.0f} s")


def table_b1(mlp: dict | None, conv: dict | None, mlp_matched: dict | None = None) -> str:
    """MAE / RMSE per hand; ``mlp_matched`` is an MLP trained on the conv run's schedule."""
    runs = {k: v for k, v in (("mlp", mlp), ("mlp (conv's schedule)", mlp_matched), ("conv", conv)) if v}
    hands = list(next(iter(runs.values()))["unseen"])
    lines = ["| metric | variant | " + " | ".join(hands) + " |", "|---|---|" + "---|" * len(hands)]
    for metric, i in (("MAE", 0), ("RMSE", 1)):
        key = "mae_rad" if i == 0 else "rmse_rad"
        for name, m in runs.items():
            lines.append(f"| {metric} (ours) | {name} | " + " | ".join(_f(m["unseen"][h].get(key)) for h in hands) + " |")
        for name in ("mlp", "conv"):
            if name in runs:
                lines.append(f"| {metric} (paper, DexYCB) | {name} | "
                             + " | ".join(_f(PAPER_B1[name].get(h, (None, None))[i]) for h in hands) + " |")
    for name, m in runs.items():
        lines.append(f"| wrist pos. err. [mm] | {name} | " + " | ".join(_f(m["unseen"][h]["wrist_mm"], 1) for h in hands) + " |")
        lines.append(f"| fingertip err. [mm] | {name} | " + " | ".join(_f(m["unseen"][h]["tip_mm"], 1) for h in hands) + " |")
    out = "\n".join(lines)
    out += "\n\nSchedules: " + "; ".join(f"{name}: {_schedule(m)}" for name, m in runs.items()) + "."
    ref = mlp_matched or mlp
    if ref and conv:
        robot = [h for h in hands if h != "overall"]
        wins = [h for h in robot if conv["unseen"][h]["mae_rad"] < ref["unseen"][h]["mae_rad"]]
        which = "the MLP on the same schedule" if mlp_matched else "the MLP"
        out += (f"\n\nAgainst {which}, 1D-Conv has the lower finger-joint MAE on {len(wins)}/{len(robot)} hands "
                f"({', '.join(wins) or 'none'}; in the paper it wins on every hand) and a "
                f"{'lower' if conv['unseen']['overall']['tip_mm'] < ref['unseen']['overall']['tip_mm'] else 'higher'} "
                f"fingertip error overall ({conv['unseen']['overall']['tip_mm']:.1f} vs "
                f"{ref['unseen']['overall']['tip_mm']:.1f} mm).")
    return out


def usage_text(m: dict, name: str) -> str:
    u = m["usage_unseen"]["all"]
    ev = m.get("refresh_events", [])
    lines = [f"**{name}**: K = {m['config']['codebook_size']}, unseen-split tokens {u['tokens']}: "
             f"{u['used']} codes used, {u['dead']} never used, perplexity {u['perplexity']}.",
             "", "| stage | epoch | codes used in that epoch | cold codes (< tau_c) replaced |", "|---|---|---|---|"]
    lines += [f"| {e['stage']} | {e['epoch']} | {e['used_in_epoch']} | {e['cold_before']} |" for e in ev]
    return "\n".join(lines)


def translation_text(m: dict) -> str:
    t = m["translation_tip_mm"]
    hands = list(t)
    lines = ["| from \\ to | " + " | ".join(hands) + " |", "|---|" + "---|" * len(hands)]
    lines += [f"| {i} | " + " | ".join(f"{t[i][j]:.1f}" for j in hands) + " |" for i in hands]
    return "\n".join(lines)


def loo_text(loo: dict, joint: dict) -> str:
    rows = ["| hand | trained | finger MAE [rad] | RMSE [rad] | wrist [mm] | fingertip [mm] | time [s] |",
            "|---|---|---|---|---|---|---|"]
    for h, r in loo.get("added_hands", {}).items():
        u = r["unseen"]
        rows.append(f"| {h} | added later (frozen codebook) | {u['mae_rad']:.4f} | {u['rmse_rad']:.4f} | "
                    f"{u['wrist_mm']:.1f} | {u['tip_mm']:.1f} | {r['seconds']} |")
        if h in joint["unseen"]:
            j = joint["unseen"][h]
            rows.append(f"| {h} | jointly (shipped run) | {j['mae_rad']:.4f} | {j['rmse_rad']:.4f} | "
                        f"{j['wrist_mm']:.1f} | {j['tip_mm']:.1f} | {joint.get('train_seconds')} (all hands) |")
        rows.append("\nTranslation fingertip error [mm] of the added hand: "
                    + ", ".join(f"{k}: {v:.1f}" for k, v in r["translation_tip_mm"].items()))
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mlp", default="checkpoints/tokenizer")
    ap.add_argument("--conv", default="data_cache/tok_conv")
    ap.add_argument("--loo", default="data_cache/tok_loo")
    ap.add_argument("--mlp-matched", default="data_cache/tok_mlp_q",
                    help="an MLP run on the conv run's schedule (fair Table B1 comparison)")
    ap.add_argument("--chunk-sweep", default=None, help="JSON file of the chunk-length sweep (optional)")
    args = ap.parse_args()
    mlp, conv, loo, mlp_q = _load(args.mlp), _load(args.conv), _load(args.loo), _load(args.mlp_matched)
    main_run = mlp or conv
    if main_run is None:
        print("no tokenizer metrics found; train first (see the docstring)", file=sys.stderr)
        return 1
    d = main_run["data"]
    body = [
        "## Tokenizer (shared codebook, Sec. 3.2 / App. B.2)",
        "",
        f"Written by `bench/eval_tokenizer.py` from the checkpoints' `metrics.json`. Data: synthetic dataset "
        f"`{d['path_name']}` ({d['train_sequences']} seen sequences for training, {d['unseen_sequences']} unseen for "
        f"testing). Chunk length L = {main_run['config']['chunk_len']} frames per token (64 frames = "
        f"{64 // main_run['config']['chunk_len']} tokens). Errors are on the unseen split. The paper's numbers are on "
        "DexYCB (real captures, different hands' retargeting, per-frame codes, K = 8192) — a different data set, "
        "listed only for scale.",
        "",
        "### Table B1: finger-joint MAE / RMSE [rad] on the unseen split",
        "",
        table_b1(mlp, conv, mlp_q),
        "",
        ("The paper's 1D-Conv overall is MAE 0.0256 / RMSE 0.0581 (DexYCB). " + (
            "No 1D-Conv run was found: the variant is implemented and tested (`--arch conv`) but was not trained "
            "here; on the shared 2-core CPU one conv step took 2.5-5x an MLP step, beyond the training budget."
            if not conv else "")),
        "",
        "### Codebook usage and cold-code refresh",
        "",
    ]
    for name, m in (("MLP (shipped)", mlp), ("1D-Conv", conv)):
        if m:
            body += [usage_text(m, name), ""]
    body += ["### Cross-hand translation (Eq. 6): fingertip error [mm] vs the dex-retargeting trajectory of the target hand",
             "", "Rows encode with hand i, columns decode with hand j; the diagonal is plain reconstruction.", "",
             translation_text(main_run), ""]
    if loo and mlp:
        body += ["### Leave one hand out, add it later", "",
                 f"The leave-one-out run trained the other hands with {loo['train']['ref_epochs']} reference epochs "
                 f"and the added hand with {loo['train']['distill_epochs']} distillation + "
                 f"{loo['train']['finetune_epochs']} fine-tuning epochs; the shipped (joint) run used "
                 f"{mlp['train']['ref_epochs']} reference epochs and {mlp['train']['finetune_epochs']} fine-tuning "
                 "epochs per hand plus a joint stage, so the gap mixes the two effects. Times are wall-clock seconds "
                 "on a CPU shared with other jobs.", "", loo_text(loo, mlp), ""]
    if args.chunk_sweep and Path(args.chunk_sweep).exists():
        sweep = json.loads(Path(args.chunk_sweep).read_text())
        body += ["### Chunk length L (Shadow only, short schedule)", "",
                 "| L | tokens / 64 frames | finger MAE [rad] | wrist [mm] | fingertip [mm] |", "|---|---|---|---|---|"]
        body += [f"| {r['L']} | {64 // r['L']} | {r['mae_rad']:.4f} | {r['wrist_mm']:.1f} | {r['tip_mm']:.1f} |"
                 for r in sweep]
    write_section("tokenizer", "\n".join(body))
    print("wrote the tokenizer section of docs/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
