"""Training the multi-hand tokenizer in stages (App. B.2), and adding a hand later.

Stages of :func:`train_tokenizer`:

1. **Reference** (Shadow): E_ref, D_ref and the codebook with ``L_rec + L_vq`` (B12). Code
   usage is counted every epoch (B9); at the epochs in ``refresh_epochs`` the codes used fewer
   than ``tau_c`` times in that epoch (B10) are replaced by k-means centroids of a buffer of
   the encoder outputs seen since the previous refresh (B11). The first refresh therefore
   also initialises the codebook from data.
2. **Each other hand h**: (a) distillation of E_h to the frozen E_ref on retargeted pairs —
   the same window of the same sequence, retargeted to both hands, so latent ``i`` of both
   covers the same ``L`` frames (Eq. 3 / B13); (b) fine-tuning of E_h and D_h with
   ``L_rec + L_vq + lambda_distill L_distill`` (B14) against the frozen codebook.
3. **Joint** fine-tuning of every encoder, decoder and the codebook on all hands with the
   same per-hand objective (the reference hand without the distillation term), with
   cold-code refreshes (``tau_c``) at ``joint_refresh_epochs`` over the usage of all hands.

:func:`add_hand` is stage 2 alone for a hand that was not trained: the codebook and every
other hand stay frozen, so existing tokens keep their meaning.

Choices (measured on the 150-sequence development dataset, docs/RESULTS.md "tokenizer"):
L = 4 frames per token (64 frames = 16 tokens): in a short Shadow-only sweep L = 2 and 4 gave
nearly the same finger MAE (0.065 / 0.067 rad) and L = 8 was worse (0.070 rad, wrist error
up); L = 4 halves the VLM's sequence length for the same error. K = 512: with ~2k training
chunks per hand the shipped run uses 399 of 512 codes on the unseen split (perplexity 239);
a larger K would mostly add dead codes at this data size (the paper's 8192 is for DexYCB).

Learning rate: the paper trains with 1e-4 for hundreds of epochs on a GPU; here a few
minutes on 2 CPU cores allow a few dozen epochs, so Adam runs at 1e-3 with cosine decay.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from unihm_core.errors import ConfigError, InputError
from unihm_core.hands import HAND_NAMES
from unihm_core.tokenizer.features import Normaliser
from unihm_core.tokenizer.model import TokenizerConfig


@dataclass(frozen=True)
class TrainConfig:
    """Schedule and loss weights of :func:`train_tokenizer` (epochs are counted per stage).

    Attributes:
        hands: hands to train (the reference must be among them).
        reference: the reference hand (paper: Shadow).
        leave_out: hands left out (to be added later with :func:`add_hand`).
        seed: seed of initialisation, window sampling and k-means.
        batch: windows per optimisation step.
        lr: Adam learning rate (cosine-decayed to 10 % within each stage).
        ref_epochs: epochs of stage 1.
        refresh_epochs: stage-1 epochs after which cold codes are refreshed (B9–B11).
        tau_c: cold-code threshold (paper: 1).
        distill_epochs, finetune_epochs: stage 2 (a) and (b) epochs per hand.
        joint_epochs: stage 3 epochs; joint_refresh_epochs: its refresh epochs.
        lambda_distill: weight of the distillation term in B14 (paper: 0.1).
        buffer_size: encoder outputs kept for k-means (most recent).
        threads: torch CPU threads.
    """

    hands: tuple[str, ...] = HAND_NAMES
    reference: str = "shadow"
    leave_out: tuple[str, ...] = ()
    seed: int = 0
    batch: int = 64
    lr: float = 1e-3
    ref_epochs: int = 100
    refresh_epochs: tuple[int, ...] = (3, 10, 20, 30, 45, 60)
    tau_c: float = 1.0
    distill_epochs: int = 6
    finetune_epochs: int = 24
    joint_epochs: int = 6
    joint_refresh_epochs: tuple[int, ...] = (2,)
    lambda_distill: float = 0.1
    buffer_size: int = 8192
    threads: int = 2

    def __post_init__(self) -> None:
        if self.reference not in self.hands:
            raise ConfigError(f"TrainConfig: reference hand {self.reference!r} is not among hands {self.hands}")
        if self.reference in self.leave_out:
            raise ConfigError("TrainConfig: the reference hand cannot be left out")
        bad = [h for h in self.leave_out if h not in self.hands]
        if bad:
            raise ConfigError(f"TrainConfig.leave_out: {bad} are not among hands {self.hands}")
        if self.batch < 1 or self.lr <= 0 or self.tau_c < 0 or self.lambda_distill < 0 or self.threads < 1:
            raise ConfigError("TrainConfig: batch >= 1, lr > 0, tau_c >= 0, lambda_distill >= 0, threads >= 1")
        if min(self.ref_epochs, self.distill_epochs, self.finetune_epochs, self.joint_epochs) < 0:
            raise ConfigError("TrainConfig: epoch counts must be non-negative")

    def scaled(self, factor: float) -> TrainConfig:
        """The same schedule with every epoch count (and refresh epoch) multiplied by ``factor``."""
        def sc(n: int) -> int:
            return max(1, int(round(n * factor))) if n else 0

        return replace(self, ref_epochs=sc(self.ref_epochs), distill_epochs=sc(self.distill_epochs),
                       finetune_epochs=sc(self.finetune_epochs), joint_epochs=sc(self.joint_epochs),
                       refresh_epochs=tuple(sorted({sc(e) for e in self.refresh_epochs})),
                       joint_refresh_epochs=tuple(sorted({sc(e) for e in self.joint_refresh_epochs})))

    @property
    def trained_hands(self) -> tuple[str, ...]:
        return tuple(h for h in self.hands if h not in self.leave_out)


@dataclass
class _Run:
    """Mutable training state shared by the stages."""

    model: object
    cfg: TokenizerConfig
    tcfg: TrainConfig
    x: dict[str, np.ndarray]          # hand -> stacked normalised features (sampler layout)
    sampler: object
    rng: np.random.Generator
    log: list[dict] = field(default_factory=list)
    refresh_events: list[dict] = field(default_factory=list)
    log_fn: object = None
    t0: float = field(default_factory=time.perf_counter)

    def emit(self, rec: dict) -> None:
        rec = {"t_s": round(time.perf_counter() - self.t0, 1), **rec}
        self.log.append(rec)
        if self.log_fn is not None:
            self.log_fn(rec)


def _batch(run: _Run, hand: str, rows: np.ndarray):
    import torch

    return torch.from_numpy(run.x[hand][rows])


def _lr_at(base: float, step: int, total: int) -> float:
    return base * (0.1 + 0.9 * 0.5 * (1.0 + np.cos(np.pi * min(step / max(total, 1), 1.0))))


def _epoch(run: _Run, hands: tuple[str, ...], params: list, *, distill_only: bool = False,
           use_distill: bool = True, step0: int = 0, total_steps: int = 1, buffer: list | None = None):
    """One epoch over random windows; returns (mean losses, per-code counts, steps done)."""
    import torch

    from unihm_core.tokenizer.codebook import quantise

    model, tc = run.model, run.tcfg
    opt = run._opt  # type: ignore[attr-defined]
    n_steps = max(1, run.sampler.epoch_windows // tc.batch)
    counts = np.zeros(run.cfg.codebook_size, np.int64)
    sums: dict[str, float] = {}
    ref = tc.reference
    for s in range(n_steps):
        for g in opt.param_groups:
            g["lr"] = _lr_at(tc.lr, step0 + s, total_steps)
        rows = run.sampler.sample(tc.batch, run.rng)
        loss = 0.0
        z_ref = None
        if any(h != ref for h in hands) and (use_distill or distill_only):
            with torch.no_grad():
                z_ref = model.encode(ref, _batch(run, ref, rows))
        for h in hands:
            x = _batch(run, h, rows)
            if distill_only:
                z_e = model.encode(h, x)
                d = (z_e - z_ref).pow(2).mean()
                loss = loss + d
                sums[f"distill/{h}"] = sums.get(f"distill/{h}", 0.0) + float(d.detach())
                with torch.no_grad():
                    _, idx, _ = quantise(z_e, model.codebook)
                counts += np.bincount(idx.numpy().ravel(), minlength=run.cfg.codebook_size)
                continue
            out = model(h, x)
            term = out["rec"] + out["vq"]
            sums[f"rec/{h}"] = sums.get(f"rec/{h}", 0.0) + float(out["rec"].detach())
            sums[f"vq/{h}"] = sums.get(f"vq/{h}", 0.0) + float(out["vq"].detach())
            if h != ref and use_distill and z_ref is not None:
                d = (out["z_e"] - z_ref).pow(2).mean()
                term = term + tc.lambda_distill * d
                sums[f"distill/{h}"] = sums.get(f"distill/{h}", 0.0) + float(d.detach())
            loss = loss + term
            counts += np.bincount(out["idx"].detach().numpy().ravel(), minlength=run.cfg.codebook_size)
            if buffer is not None:
                buffer.append(out["z_e"].detach().reshape(-1, run.cfg.code_dim).numpy())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    if buffer is not None:  # keep only the most recent encoder outputs
        flat = np.concatenate(buffer)[-tc.buffer_size:]
        buffer.clear()
        buffer.append(flat)
    return {k: v / n_steps for k, v in sums.items()}, counts, n_steps


def _refresh(run: _Run, counts: np.ndarray, buffer: list, stage: str, epoch: int) -> None:
    import torch

    from unihm_core.tokenizer.codebook import refresh_cold_codes

    cb = run.model.codebook.detach().numpy()
    new, cold = refresh_cold_codes(cb, counts, np.concatenate(buffer), run.tcfg.tau_c, run.rng)
    with torch.no_grad():
        run.model.codebook.copy_(torch.from_numpy(new))
    ev = {"stage": stage, "epoch": epoch, "cold_before": int(len(cold)),
          "used_in_epoch": int(np.count_nonzero(counts)), "buffer": int(len(np.concatenate(buffer)))}
    run.refresh_events.append(ev)
    run.emit({"event": "refresh", **ev})


def _make_opt(params: list, lr: float):
    import torch

    return torch.optim.Adam(params, lr=lr)


def _usage(counts: np.ndarray) -> dict:
    from unihm_core.tokenizer.codebook import usage_stats

    return usage_stats(np.repeat(np.arange(len(counts)), counts), len(counts)).as_dict()


def _stage_reference(run: _Run) -> None:
    tc, ref = run.tcfg, run.tcfg.reference
    params = list(run.model.encoders[ref].parameters()) + list(run.model.decoders[ref].parameters()) + [run.model.codebook]
    run._opt = _make_opt(params, tc.lr)  # type: ignore[attr-defined]
    steps_per = max(1, run.sampler.epoch_windows // tc.batch)
    total, step = steps_per * tc.ref_epochs, 0
    buffer: list = []
    for ep in range(1, tc.ref_epochs + 1):
        losses, counts, n = _epoch(run, (ref,), params, use_distill=False, step0=step, total_steps=total, buffer=buffer)
        step += n
        run.emit({"stage": "reference", "hand": ref, "epoch": ep, **{k: round(v, 5) for k, v in losses.items()},
                  **_usage(counts)})
        if ep in tc.refresh_epochs:
            _refresh(run, counts, buffer, "reference", ep)


def _stage_new_hand(run: _Run, hand: str) -> None:
    """Distil E_hand to E_ref (B13), then fine-tune E_hand, D_hand with B14; codebook frozen."""
    tc = run.tcfg
    steps_per = max(1, run.sampler.epoch_windows // tc.batch)
    enc = list(run.model.encoders[hand].parameters())
    run._opt = _make_opt(enc, tc.lr)  # type: ignore[attr-defined]
    total, step = steps_per * tc.distill_epochs, 0
    for ep in range(1, tc.distill_epochs + 1):
        losses, counts, n = _epoch(run, (hand,), enc, distill_only=True, step0=step, total_steps=total)
        step += n
        run.emit({"stage": "distill", "hand": hand, "epoch": ep, **{k: round(v, 5) for k, v in losses.items()},
                  **_usage(counts)})
    params = enc + list(run.model.decoders[hand].parameters())
    run._opt = _make_opt(params, tc.lr)  # type: ignore[attr-defined]
    total, step = steps_per * tc.finetune_epochs, 0
    for ep in range(1, tc.finetune_epochs + 1):
        losses, counts, n = _epoch(run, (hand,), params, step0=step, total_steps=total)
        step += n
        run.emit({"stage": "finetune", "hand": hand, "epoch": ep, **{k: round(v, 5) for k, v in losses.items()},
                  **_usage(counts)})


def _stage_joint(run: _Run, hands: tuple[str, ...]) -> None:
    tc = run.tcfg
    params = list(run.model.parameters())
    run._opt = _make_opt(params, 0.5 * tc.lr)  # type: ignore[attr-defined]
    steps_per = max(1, run.sampler.epoch_windows // tc.batch)
    total, step = steps_per * tc.joint_epochs, 0
    buffer: list = []
    base_lr = tc.lr
    run.tcfg = replace(tc, lr=0.5 * tc.lr)
    for ep in range(1, tc.joint_epochs + 1):
        losses, counts, n = _epoch(run, hands, params, step0=step, total_steps=total, buffer=buffer)
        step += n
        run.emit({"stage": "joint", "hand": "all", "epoch": ep, **{k: round(v, 5) for k, v in losses.items()},
                  **_usage(counts)})
        if ep in tc.joint_refresh_epochs:
            _refresh(run, counts, buffer, "joint", ep)
    run.tcfg = replace(run.tcfg, lr=base_lr)


def _prepare(seqs, hands: tuple[str, ...], window: int, normalisers: dict[str, Normaliser] | None = None):
    from unihm_core.tokenizer.data import WindowSampler

    sampler = WindowSampler([len(p) for p in seqs.object_poses], window)
    if normalisers is None:
        normalisers = {h: Normaliser.fit(np.concatenate(seqs.features[h])) for h in hands}
    x = {h: sampler.stack([normalisers[h].apply(f) for f in seqs.features[h]]) for h in hands}
    return sampler, normalisers, x


def train_tokenizer(train_seqs, cfg: TokenizerConfig = TokenizerConfig(), tcfg: TrainConfig = TrainConfig(),
                    log_fn=None):
    """Train every hand of ``tcfg.trained_hands`` (stages 1–3 of the module docstring).

    Args:
        train_seqs: :class:`~unihm_core.tokenizer.data.HandSequences` of the training split.
        cfg: architecture; tcfg: schedule.
        log_fn: called with every log record (dict), e.g. to print progress.

    Returns:
        ``(tokenizer, log, refresh_events)``.
    """
    import torch

    from unihm_core.tokenizer.features import feature_dim
    from unihm_core.tokenizer.model import MultiHandVQ
    from unihm_core.tokenizer.tokenizer import Tokenizer
    from unihm_core.hands import load_hand

    hands = tcfg.trained_hands
    missing = [h for h in hands if h not in train_seqs.hands]
    if missing:
        raise InputError(f"training data has no sequences for hands {missing}")
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    sampler, norms, x = _prepare(train_seqs, hands, cfg.window)
    model = MultiHandVQ(cfg, {h: feature_dim(load_hand(h).finger_dof) for h in hands})
    model.train()
    run = _Run(model=model, cfg=cfg, tcfg=tcfg, x=x, sampler=sampler, rng=np.random.default_rng(tcfg.seed),
               log_fn=log_fn)
    _stage_reference(run)
    for h in hands:
        if h != tcfg.reference:
            _stage_new_hand(run, h)
    if tcfg.joint_epochs:
        _stage_joint(run, hands)
    model.eval()
    meta = {"train": _jsonable(asdict(tcfg)), "train_seconds": round(time.perf_counter() - run.t0, 1)}
    return Tokenizer(cfg, model, norms, reference=tcfg.reference, meta=meta), run.log, run.refresh_events


def add_hand(tok, hand: str, train_seqs, tcfg: TrainConfig | None = None, log_fn=None):
    """Train only ``hand``'s encoder/decoder against the frozen codebook and reference encoder.

    ``train_seqs`` must hold the hand and the reference hand on the same sequences
    (retargeted pairs). Returns ``(tokenizer, log)``; ``tok`` is modified in place.
    """
    import torch

    from unihm_core.hands import load_hand
    from unihm_core.tokenizer.features import feature_dim

    tcfg = tcfg or TrainConfig()
    ref = tok.reference
    for h in (hand, ref):
        if h not in train_seqs.hands:
            raise InputError(f"add_hand: the data has no {h!r} sequences (retarget the dataset to {h!r} first)")
    if hand in tok.hands:
        raise InputError(f"the tokenizer already has hand {hand!r}")
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    sampler, norms, x = _prepare(train_seqs, (hand,), tok.config.window)
    _, _, x_ref = _prepare(train_seqs, (ref,), tok.config.window, normalisers={ref: tok.normalisers[ref]})
    x.update(x_ref)
    model = tok.model
    model.add_hand(hand, feature_dim(load_hand(hand).finger_dof))
    for p in model.parameters():
        p.requires_grad_(False)
    for m in (model.encoders[hand], model.decoders[hand]):
        for p in m.parameters():
            p.requires_grad_(True)
    model.train()
    run = _Run(model=model, cfg=tok.config, tcfg=tcfg, x=x, sampler=sampler, rng=np.random.default_rng(tcfg.seed),
               log_fn=log_fn)
    _stage_new_hand(run, hand)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    tok.normalisers[hand] = norms[hand]
    tok.meta.setdefault("added_hands", {})[hand] = {"seconds": round(time.perf_counter() - run.t0, 1),
                                                    "distill_epochs": tcfg.distill_epochs,
                                                    "finetune_epochs": tcfg.finetune_epochs}
    return tok, run.log


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def write_log(path: str | Path, log: list[dict]) -> None:
    """Write training log records as JSON lines."""
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in log), encoding="utf-8")


def write_heldout_sample(path: str | Path, seqs, n: int = 4) -> Path:
    """Save the first ``n`` held-out sequences (every hand's q + object poses) as a small npz."""
    arrays = {}
    for i in range(min(n, len(seqs))):
        arrays[f"{i}/object_poses"] = seqs.object_poses[i].astype(np.float32)
        for h in seqs.hands:
            arrays[f"{i}/q/{h}"] = seqs.q[h][i].astype(np.float32)
    np.savez_compressed(path, seq_ids=np.array(seqs.seq_ids[:n]), **arrays)
    return Path(path)


def read_heldout_sample(path: str | Path) -> tuple[list[str], dict[str, list[np.ndarray]], list[np.ndarray]]:
    """``(seq_ids, q per hand, object poses)`` of :func:`write_heldout_sample`'s file (float64)."""
    with np.load(path, allow_pickle=False) as z:
        ids = [str(s) for s in z["seq_ids"]]
        q: dict[str, list[np.ndarray]] = {}
        poses = []
        for i in range(len(ids)):
            poses.append(z[f"{i}/object_poses"].astype(np.float64))
            for k in z.files:
                if k.startswith(f"{i}/q/"):
                    q.setdefault(k[len(f"{i}/q/"):], []).append(z[k].astype(np.float64))
    return ids, q, poses


def train_and_save(data_dir: str | Path, out: str | Path, cfg: TokenizerConfig = TokenizerConfig(),
                   tcfg: TrainConfig = TrainConfig(), log_fn=None, heldout_n: int = 4) -> dict:
    """Train on the dataset's 'seen' split, evaluate on 'unseen', and write the checkpoint folder.

    Writes ``model.safetensors``, ``config.yaml``, ``train_log.jsonl``, ``metrics.json`` (errors on
    the unseen split, code usage, refresh events, translation table, test thresholds) and
    ``heldout_sample.npz`` (a few unseen sequences for the tests). Returns the metrics.
    """
    from unihm_core.tokenizer.data import load_hand_sequences
    from unihm_core.tokenizer.evaluate import reconstruction_errors, token_usage, translation_errors
    from unihm_core.tokenizer.tokenizer import Tokenizer

    out = Path(out)
    hands = tcfg.hands
    train = load_hand_sequences(data_dir, hands, "seen")
    test = load_hand_sequences(data_dir, hands, "unseen")
    tok, log, events = train_tokenizer(train, cfg, tcfg, log_fn=log_fn)
    tok.meta["data"] = {"path_name": Path(data_dir).name, "train_sequences": len(train), "unseen_sequences": len(test)}
    tok.save(out)
    write_log(out / "train_log.jsonl", log)
    tok = Tokenizer.load(out)  # measure what was written
    write_heldout_sample(out / "heldout_sample.npz", test, heldout_n)
    ids, q_s, poses_s = read_heldout_sample(out / "heldout_sample.npz")
    from unihm_core.tokenizer.data import HandSequences

    sample = HandSequences(ids, q_s, {h: [] for h in q_s}, poses_s, {})
    rec = reconstruction_errors(tok, test, tok.hands)
    rec_sample = reconstruction_errors(tok, sample, tok.hands)
    trans = translation_errors(tok, test, tok.hands)
    trans_sample = translation_errors(tok, sample, tuple(h for h in ("shadow", "allegro") if h in tok.hands))
    metrics = {
        "config": tok.config.as_dict(), "train": _jsonable(asdict(tcfg)), "train_seconds": tok.meta.get("train_seconds"),
        "data": tok.meta["data"], "unseen": rec, "usage_unseen": token_usage(tok, test, tok.hands),
        "refresh_events": events, "translation_tip_mm": trans,
        "thresholds": {
            "note": "heldout_sample.npz errors of this checkpoint x 1.25 (+ small absolute margin); tests assert below",
            "mae_rad": {h: round(1.25 * v["mae_rad"] + 0.002, 4) for h, v in rec_sample.items() if h != "overall"},
            "tip_mm": {h: round(1.25 * v["tip_mm"] + 2.0, 1) for h, v in rec_sample.items() if h != "overall"},
            "translation_shadow_allegro_tip_mm": (round(1.25 * trans_sample["shadow"]["allegro"] + 2.0, 1)
                                                  if "allegro" in trans_sample.get("shadow", {}) else None),
        },
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    return metrics


def add_hand_and_save(data_dir: str | Path, ckpt: str | Path, hand: str, tcfg: TrainConfig | None = None,
                      log_fn=None) -> dict:
    """Load the checkpoint at ``ckpt``, add ``hand`` (:func:`add_hand`), save it back and record
    the hand's unseen-split errors in ``metrics.json`` under ``added_hands``."""
    from unihm_core.tokenizer.data import load_hand_sequences
    from unihm_core.tokenizer.evaluate import reconstruction_errors, translation_errors
    from unihm_core.tokenizer.tokenizer import Tokenizer

    ckpt = Path(ckpt)
    tok = Tokenizer.load(ckpt)
    tcfg = tcfg or TrainConfig()
    hands = (tok.reference, hand)
    train = load_hand_sequences(data_dir, hands, "seen")
    test = load_hand_sequences(data_dir, hands, "unseen")
    t0 = time.perf_counter()
    tok, log = add_hand(tok, hand, train, tcfg, log_fn=log_fn)
    seconds = time.perf_counter() - t0
    tok.save(ckpt)
    with open(ckpt / "train_log.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps({"add_hand": hand, **r}) + "\n" for r in log)
    rec = reconstruction_errors(tok, test, (hand,))[hand]
    trans = translation_errors(tok, test, hands)
    result = {"hand": hand, "seconds": round(seconds, 1), "unseen": rec,
              "translation_tip_mm": {f"{tok.reference}->{hand}": trans[tok.reference][hand],
                                     f"{hand}->{tok.reference}": trans[hand][tok.reference]}}
    mpath = ckpt / "metrics.json"
    metrics = json.loads(mpath.read_text(encoding="utf-8")) if mpath.exists() else {}
    metrics.setdefault("added_hands", {})[hand] = result
    mpath.write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    return result
