"""Chunk length L sweep for the tokenizer: reconstruction error vs tokens per 64 frames.

Trains the reference hand (Shadow) alone with a short schedule for each L and writes
``data_cache/tokenizer_chunk_sweep.json`` (read by ``bench/eval_tokenizer.py --chunk-sweep``)::

    python bench/tokenizer_chunk_sweep.py --data DATASET [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from unihm_core.tokenizer.data import load_hand_sequences
    from unihm_core.tokenizer.evaluate import reconstruction_errors
    from unihm_core.tokenizer.model import TokenizerConfig
    from unihm_core.tokenizer.train import TrainConfig, train_tokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default="data_cache/tokenizer_chunk_sweep.json")
    args = ap.parse_args()
    hands = ("shadow",)
    train = load_hand_sequences(args.data, hands, "seen")
    test = load_hand_sequences(args.data, hands, "unseen")
    rows = []
    for L in (2, 4, 8):
        tc = TrainConfig(hands=hands, ref_epochs=args.epochs, joint_epochs=0,
                         refresh_epochs=tuple(e for e in (3, 10, 20) if e < 0.7 * args.epochs))
        tok, _, _ = train_tokenizer(train, TokenizerConfig(chunk_len=L), tc)
        r = reconstruction_errors(tok, test)["shadow"]
        rows.append({"L": L, **r})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
