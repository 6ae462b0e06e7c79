"""Training of the DexHand VLM (``unihm train vlm``; paper Sec. 3.3 "Training Stage", App. C.4).

Data: the synthetic dataset (:class:`~unihm_core.data.dataset.SyntheticDataset`). Every
sequence of the ``seen`` split gives one example per hand: the human hand (``human_q``) and
each robot hand whose retargeted sequence passed validation (``hands_valid``; ``q/<hand>``).
The hand tokenizer (frozen) turns the joint trajectory into the labels
``E_h(Q)`` (one code per L frames) and L copies of frame 0 into the pose token E_h(q0). The
object's surface samples (``obj_points``, object frame) and its trajectory
(``object_poses``, world frame) are the other conditions. Each optimiser step draws one of
the sequence's five instructions per example. The ``unseen`` split (object instances and
phrasings never seen in training) is held out for validation, at inference conditions
(every context slot [MASK], argmax).

Text: a byte-level BPE is trained on the *seen* instructions only (or the base model's own
tokenizer is used); sentence embeddings of every instruction are computed once with the
frozen MiniLM encoder and cached.

Optimisation: AdamW, linear warm-up then cosine decay, gradient clipping, the masking
curriculum of :mod:`unihm_core.vlm.masking` per epoch, cross-entropy on hand-token labels.
Everything is seeded by ``TrainConfig.seed``; torch runs on ``TrainConfig.threads`` threads.

Files written to the output folder: the checkpoint (see :meth:`DexHandVLM.save`),
``training_log.jsonl`` (one line per epoch: loss, token accuracy, mask rate, learning rate,
held-out loss/accuracy, seconds) and ``metrics.json`` (final held-out numbers, model size,
training time, decoding speed).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from unihm_core.errors import InputError
from unihm_core.vlm.conditioning import trajectory_features
from unihm_core.vlm.config import VLM_HANDS, TrainConfig, VLMConfig
from unihm_core.vlm.masking import mask_rate
from unihm_core.vlm.model import DexHandVLM, VLMExample, tokenizer_fingerprint
from unihm_core.vlm.pointnet import preprocess_points
from unihm_core.vlm.vocab import BPETextTokenizer

LOG_FILE = "training_log.jsonl"
METRICS_FILE = "metrics.json"


@dataclass
class TrainItem:
    """One (sequence, hand) pair with all five instructions pre-tokenised."""

    seq_id: str
    hand: str
    instructions: list[str]
    text_ids: list[np.ndarray]
    sentences: np.ndarray      # (5, sentence_dim)
    points: np.ndarray
    size: float
    traj: np.ndarray
    pose_token: int
    tokens: np.ndarray

    def example(self, k: int) -> VLMExample:
        return VLMExample(hand=self.hand, text_ids=self.text_ids[k], sentence=self.sentences[k], points=self.points,
                          size=self.size, traj=self.traj, pose_token=self.pose_token, tokens=self.tokens)


def hand_trajectory(arrays: dict[str, np.ndarray], record: dict, hand: str) -> np.ndarray | None:
    """(T, D) joint trajectory of ``hand`` in a sequence, or None when absent / flagged invalid."""
    if hand == "human":
        return arrays.get("human_q")
    if not record.get("hands_valid", {}).get(hand, False):
        return None
    return arrays.get(f"q/{hand}")


def build_items(model: DexHandVLM, dataset, records: list[dict], hands: tuple[str, ...]) -> list[TrainItem]:
    """Tokenise every (sequence, hand) pair of ``records`` (model's hand tokenizer and text side)."""
    cfg = model.config
    tok = model._hand_tok()
    items: list[TrainItem] = []
    for rec in records:
        arr = dataset.arrays(rec["seq_id"])
        poses = arr["object_poses"].astype(np.float64)
        traj = trajectory_features(poses, cfg.chunk_len)
        if len(traj) > model.max_hand_tokens():
            continue
        pts, size = preprocess_points(arr["obj_points"], cfg.pc_points, cfg.pc_seed)
        instr = list(rec["instructions"])
        text_ids = [model.text_ids(s) for s in instr]
        sents = np.stack([model.sentence_embedding(s) for s in instr])
        for hand in hands:
            q = hand_trajectory(arr, rec, hand)
            if q is None:
                continue
            codes = np.asarray(tok.encode(hand, q, poses), dtype=np.int64).reshape(-1)
            if len(codes) != len(traj):
                raise InputError(f"hand tokenizer gave {len(codes)} tokens for {len(q)} frames of {rec['seq_id']}/"
                                 f"{hand}; expected ceil(T/L) = {len(traj)}")
            items.append(TrainItem(rec["seq_id"], hand, instr, text_ids, sents, pts, size, traj,
                                   model.encode_pose(hand, q[0], poses[0]), codes))
    return items


def _prefetch_sentences(model: DexHandVLM, records: list[dict]) -> None:
    """Encode all instructions in one batch (fills the model's per-string cache)."""
    todo = sorted({s for r in records for s in r["instructions"]} - set(model._sentence_cache))
    if not todo:
        return
    if model.text_encoder is None:
        from unihm_core.perception.text_encoder import get_text_encoder

        model.text_encoder = get_text_encoder()
    emb = np.asarray(model.text_encoder.encode(todo), dtype=np.float32)
    model._sentence_cache.update(zip(todo, emb))


@torch.no_grad()
def evaluate(model: DexHandVLM, items: list[TrainItem], batch_size: int = 64) -> dict:
    """Held-out loss and argmax token accuracy at inference conditions (all context [MASK]).

    Item j uses instruction ``j % 5``, so all phrasings are covered deterministically.
    """
    if not items:
        return {"loss": float("nan"), "token_acc": float("nan"), "tokens": 0}
    was = model.training
    model.eval()
    tot_loss, correct, count = 0.0, 0, 0
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        batch = model.collate([it.example((i + j) % len(it.instructions)) for j, it in enumerate(chunk)], 1.0)
        loss, corr = model.loss(batch)
        n = int(batch.valid.sum())
        tot_loss += float(loss) * n
        correct += int(corr)
        count += n
    model.train(was)
    return {"loss": tot_loss / count, "token_acc": correct / count, "tokens": count}


def token_baselines(train_items: list[TrainItem], val_items: list[TrainItem]) -> dict:
    """Held-out token accuracy of trivial predictors, to read the model's accuracy against.

    ``majority``: the most frequent training token of the same hand at every slot;
    ``pose_copy``: the initial-pose token E_h(q0) at every slot (the hand holding still).
    """
    if not val_items:
        return {}
    majority = {}
    for h in {it.hand for it in train_items}:
        toks = np.concatenate([it.tokens for it in train_items if it.hand == h])
        majority[h] = int(np.bincount(toks).argmax())
    n = sum(len(it.tokens) for it in val_items)
    maj = sum(int(np.sum(it.tokens == majority.get(it.hand, -1))) for it in val_items)
    pose = sum(int(np.sum(it.tokens == it.pose_token)) for it in val_items)
    return {"majority": maj / n, "pose_copy": pose / n}


def truncated_fraction(model: DexHandVLM, records: list[dict]) -> float:
    """Fraction of instructions longer than ``max_text_tokens`` text tokens (they are cut)."""
    texts = [s for r in records for s in r["instructions"]]
    if not texts:
        return 0.0
    return sum(len(model.text_tokenizer.encode(s)) > model.config.max_text_tokens for s in texts) / len(texts)


def _lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def train_loop(model: DexHandVLM, train_items: list[TrainItem], val_items: list[TrainItem], tc: TrainConfig,
               log_path: Path | None = None, progress=print) -> list[dict]:
    """Optimise ``model`` on ``train_items``; returns the per-epoch log rows."""
    if not train_items:
        raise InputError("no training examples (the seen split is empty or every hand sequence was invalid)")
    torch.set_num_threads(tc.threads)
    gen = torch.Generator().manual_seed(tc.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc.lr)
    steps_per_epoch = math.ceil(len(train_items) / tc.batch_size)
    total = steps_per_epoch * tc.epochs
    step = 0
    rows = []
    t_start = time.perf_counter()
    model.train()
    for epoch in range(tc.epochs):
        rate = mask_rate(epoch, tc.epochs) if tc.masked_curriculum else 0.0
        t0 = time.perf_counter()
        perm = torch.randperm(len(train_items), generator=gen).tolist()
        tot_loss, correct, count = 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * tc.batch_size:(s + 1) * tc.batch_size]
            ks = torch.randint(0, 5, (len(idx),), generator=gen).tolist()
            exs = [train_items[i].example(k % len(train_items[i].instructions)) for i, k in zip(idx, ks)]
            batch = model.collate(exs, rate, gen)
            for g in opt.param_groups:
                g["lr"] = tc.lr * _lr_factor(step, total, tc.warmup_steps, tc.min_lr_ratio)
            loss, corr = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            opt.step()
            step += 1
            n = int(batch.valid.sum())
            tot_loss += float(loss.detach()) * n
            correct += int(corr)
            count += n
        row = {"epoch": epoch + 1, "mask_rate": round(rate, 6), "lr": opt.param_groups[0]["lr"],
               "train_loss": tot_loss / count, "train_token_acc": correct / count,
               "epoch_seconds": time.perf_counter() - t0}
        if (epoch + 1) % tc.val_every == 0 or epoch + 1 == tc.epochs:
            v = evaluate(model, val_items)
            row.update(val_loss=v["loss"], val_token_acc=v["token_acc"])
        row["elapsed_seconds"] = time.perf_counter() - t_start
        rows.append(row)
        if log_path is not None:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        progress(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    model.eval()
    return rows


@torch.no_grad()
def measure_decode_speed(model: DexHandVLM, items: list[TrainItem], batch_sizes=(1, 16), repeats: int = 3) -> dict:
    """Hand tokens per second of :func:`~unihm_core.vlm.generate.generate_tokens` (temperature 1).

    Batch b = the first b items (different requests); best of ``repeats`` wall-clock runs; the
    time includes building the inputs and sampling, not tokenisation of the instruction.
    """
    from unihm_core.vlm.generate import generate_tokens

    out = {"threads": torch.get_num_threads()}
    for strategy in ("cache", "parallel"):
        for b in batch_sizes:
            exs = [it.example(0) for it in items[:b]]
            if len(exs) < b:
                continue
            n_tok = sum(len(e.traj) for e in exs)
            best = float("inf")
            for r in range(repeats):
                t0 = time.perf_counter()
                generate_tokens(model, exs, temperature=1.0, seed=r, strategy=strategy)
                best = min(best, time.perf_counter() - t0)
            out[f"{strategy}_batch{b}_tokens_per_s"] = n_tok / best
    return out


def train_vlm(data_dir: str | Path, out_dir: str | Path, *, train_config: TrainConfig | None = None,
              vlm_config: VLMConfig | None = None, base_model: str | Path | None = None, tokenizer=None,
              text_encoder=None, max_sequences: int | None = None, progress=print) -> dict:
    """Train a VLM on a dataset folder and save it to ``out_dir``; returns the metrics dict.

    Args:
        data_dir: dataset folder (``unihm data build``).
        out_dir: checkpoint folder (created; an existing training log there is replaced).
        train_config: optimisation settings (default :class:`TrainConfig`).
        vlm_config: architecture (default :class:`VLMConfig`); K, L, text vocabulary and
            tokenizer fingerprint are filled in here.
        base_model: folder of a pretrained Qwen3 to fine-tune instead of the small decoder.
        tokenizer: hand tokenizer (default ``Tokenizer.load()``).
        text_encoder: sentence encoder (default all-MiniLM-L6-v2).
        max_sequences: use only the first n sequences of each split (quick runs).
    """
    from unihm_core.data.dataset import SyntheticDataset

    tc = train_config or TrainConfig()
    torch.set_num_threads(tc.threads)
    t_all = time.perf_counter()
    ds = SyntheticDataset(data_dir)
    seen, unseen = ds.train_heldout(max_sequences)
    if tokenizer is None:
        from unihm_core.tokenizer import Tokenizer

        tokenizer = Tokenizer.load()
    hands = tuple(h for h in VLM_HANDS if h in tuple(tokenizer.hands))
    cfg = (vlm_config or VLMConfig()).replace(codebook_size=int(tokenizer.codebook_size),
                                             chunk_len=int(tokenizer.chunk_len),
                                             tokenizer_fingerprint=tokenizer_fingerprint(tokenizer))
    if base_model is not None:
        model = DexHandVLM.from_base_model(base_model, cfg, seed=tc.seed)
    else:
        text_tok = BPETextTokenizer.train([s for r in seen for s in r["instructions"]], tc.text_vocab_size)
        cfg = cfg.replace(text_vocab_size=max(text_tok.vocab_size, 1))
        model = DexHandVLM.from_scratch(cfg, text_tok, seed=tc.seed)
    model.attach_tokenizer(tokenizer)
    model.text_encoder = text_encoder
    t0 = time.perf_counter()
    _prefetch_sentences(model, seen + unseen)
    train_items = build_items(model, ds, seen, hands)
    val_items = build_items(model, ds, unseen, hands)
    prep_s = time.perf_counter() - t0
    progress(f"VLM: {model.num_parameters():,} parameters; {len(train_items)} training / {len(val_items)} held-out "
             f"examples from {len(seen)} / {len(unseen)} sequences; hands {list(hands)}; inputs in {prep_s:.1f} s")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_FILE
    log_path.write_text("", encoding="utf-8")
    t_train = time.perf_counter()
    rows = train_loop(model, train_items, val_items, tc, log_path, progress)
    train_s = time.perf_counter() - t_train
    model.save(out)
    final = evaluate(model, val_items)
    seen_eval = evaluate(model, train_items[:: max(1, len(train_items) // 512)])
    per_hand = {h: evaluate(model, [it for it in val_items if it.hand == h])["token_acc"] for h in hands
                if any(it.hand == h for it in val_items)}
    speed = measure_decode_speed(model, val_items or train_items)
    baselines = token_baselines(train_items, val_items)
    weights = out / "model.safetensors"
    metrics = {
        "data": Path(data_dir).name, "sequences": {"seen": len(seen), "unseen": len(unseen)},
        "examples": {"train": len(train_items), "heldout": len(val_items)}, "hands": list(hands),
        "parameters": model.num_parameters(), "weights_mb": weights.stat().st_size / 2**20,
        "base_model": model.config.base_model, "train_seconds": train_s, "prep_seconds": prep_s,
        "total_seconds": time.perf_counter() - t_all, "threads": tc.threads,
        "heldout_unseen": {"loss": final["loss"], "token_acc": final["token_acc"], "tokens": final["tokens"],
                           "token_acc_per_hand": per_hand},
        "seen_subset": {"loss": seen_eval["loss"], "token_acc": seen_eval["token_acc"]},
        "chance_token_acc": 1.0 / cfg.codebook_size, "baselines_heldout_token_acc": baselines,
        "text_truncated_fraction": truncated_fraction(model, seen + unseen),
        "decode_speed": speed, "train_config": asdict(tc), "final_epoch": rows[-1],
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    progress(f"VLM saved to {out}: held-out token accuracy {final['token_acc']:.3f}, {train_s:.0f} s training")
    return metrics
