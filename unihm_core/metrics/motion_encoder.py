"""Motion encoder f(.) of paper App. F: the feature space of FID and Diversity.

The paper embeds every hand-object sequence with "a pretrained motion encoder that consumes
the full temporal joint trajectory (and object pose)". DexYCB's encoder is not available, so
one is trained here (``unihm train motion-encoder``) on the *seen* split of the synthetic
dataset and validated on the unseen split.

Per-frame input features (:func:`frame_features`, FK positions, never joint angles), 41 numbers:

* the hand root (wrist link) in the object frame: position ``10 * p_rel`` [dm] (3) and the
  first two columns of its rotation (6),
* the fingertips in the object frame ``10 * p`` [dm], in the hand's fingertip order, padded to
  5 slots with the fingertips' centroid (panda: 2 tips, allegro/leap: 4) (15),
* the object's displacement since frame 0 in the world ``10 * (p_t - p_0)`` [dm] (3) and the
  first two columns of its world rotation (6),
* a one-hot of the hand type (8, :data:`~unihm_core.hands.HAND_NAMES` order).

Network (:class:`MotionEncoderNet`): three 1D convolutions over time (kernel 5, 5, 3; strides
1, 2, 2; GELU), masked mean + max pooling over the valid frames, then ``Linear`` to a
``feature_dim`` (32) vector z = f(x). Sequences of any length >= 1 work (padding is masked).

Objective (chosen here, App. F leaves it open): **classification** of the task family (nine
classes) and of the target-object category from z by two linear heads, cross-entropy summed.
This is the action-recognition-feature recipe of the text/action-to-motion literature: z must
separate what was done to which kind of object, and it moves smoothly with the trajectory, so
FID measures distribution shift and Diversity spread in a space that reflects task semantics
rather than raw coordinates. Training augments with Gaussian noise (``noise_dm``) on the hand
features and random trimming of up to ``trim`` frames at either end.

Checkpoint folder (``checkpoints/motion_encoder``): ``model.safetensors``, ``config.yaml``
(:class:`MotionEncoderConfig`), ``metrics.json`` (held-out accuracies, sizes, time) and
``training_log.jsonl``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unihm_core.errors import CheckpointError, ConfigError, InputError
from unihm_core.paths import CHECKPOINTS_DIR

DEFAULT_DIR = CHECKPOINTS_DIR / "motion_encoder"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
LOG_FILE = "training_log.jsonl"
#: Fingertip slots of the per-frame features.
TIP_SLOTS = 5
#: Position scale [1/m] (decimetres).
SCALE = 10.0


def _hand_names() -> tuple[str, ...]:
    from unihm_core.hands import HAND_NAMES

    return tuple(HAND_NAMES)


def feature_width(num_hands: int) -> int:
    """Numbers per frame: 9 (root) + 3 * TIP_SLOTS + 9 (object) + one-hot."""
    return 9 + 3 * TIP_SLOTS + 9 + int(num_hands)


def frame_features(hand, q: np.ndarray, object_poses: np.ndarray, hands: tuple[str, ...] | None = None) -> np.ndarray:
    """(T, feature_width) per-frame encoder inputs of one trajectory (see the module docstring).

    Args:
        hand: :class:`~unihm_core.hands.HandModel` of the trajectory.
        q: (T, D) joint trajectory (clamped to the limits here).
        object_poses: (T, 4, 4) object poses in the world [m].
        hands: hand-type order of the one-hot (default :data:`~unihm_core.hands.HAND_NAMES`).
    """
    from unihm_core.hands import q_to_wrist_pose

    hands = hands or _hand_names()
    q = np.asarray(q, dtype=np.float64)
    P = np.asarray(object_poses, dtype=np.float64)
    if q.ndim != 2 or P.shape != (len(q), 4, 4) or len(q) < 1:
        raise InputError(f"need q (T, D) and object poses (T, 4, 4) with T >= 1, got {q.shape} and {P.shape}")
    if hand.name not in hands:
        raise InputError(f"hand {hand.name!r} is not one of the motion encoder's hands {list(hands)}")
    q = hand.clamp(q)
    inv = np.linalg.inv(P)
    rel = inv @ q_to_wrist_pose(q[:, :6])
    tips = hand.fingertip_positions(q)                                      # (T, F, 3) world
    tips = np.einsum("tij,tfj->tfi", inv[:, :3, :3], tips) + inv[:, None, :3, 3]
    if tips.shape[1] > TIP_SLOTS:
        raise InputError(f"hand {hand.name} has {tips.shape[1]} fingertips; the motion encoder takes at most "
                         f"{TIP_SLOTS}")
    if tips.shape[1] < TIP_SLOTS:
        fill = np.repeat(tips.mean(axis=1, keepdims=True), TIP_SLOTS - tips.shape[1], axis=1)
        tips = np.concatenate([tips, fill], axis=1)
    onehot = np.zeros((len(q), len(hands)))
    onehot[:, hands.index(hand.name)] = 1.0
    feat = np.concatenate([
        SCALE * rel[:, :3, 3], rel[:, :3, :2].transpose(0, 2, 1).reshape(len(q), 6),
        SCALE * tips.reshape(len(q), -1),
        SCALE * (P[:, :3, 3] - P[:1, :3, 3]), P[:, :3, :2].transpose(0, 2, 1).reshape(len(q), 6),
        onehot], axis=1)
    return feat.astype(np.float32)


@dataclass(frozen=True)
class MotionEncoderConfig:
    """Architecture and label sets of one motion-encoder checkpoint.

    Attributes:
        hands: hand-type order of the input one-hot.
        tasks: task-family labels of the task head.
        categories: object-category labels of the category head.
        channels: widths of the three 1D convolutions.
        feature_dim: width of z = f(x), the FID / Diversity feature.
        epochs, batch_size, lr, weight_decay: training (AdamW, cosine decay).
        noise_dm: std of the Gaussian noise added to hand features in training [dm].
        trim: up to this many frames are cut at either end in training.
        seed: seeds initialisation, shuffling and augmentation.
    """

    hands: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    channels: tuple[int, ...] = (64, 96, 128)
    feature_dim: int = 32
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    noise_dm: float = 0.05
    trim: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hands", "tasks", "categories", "channels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.channels) != 3 or min(self.channels) < 1:
            raise ConfigError(f"MotionEncoderConfig.channels={self.channels}: need three positive widths")
        for name in ("feature_dim", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"MotionEncoderConfig.{name}={v!r}: must be a positive integer")
        if not self.lr > 0 or self.weight_decay < 0 or self.noise_dm < 0 or self.trim < 0:
            raise ConfigError("MotionEncoderConfig: lr must be > 0; weight_decay, noise_dm, trim >= 0")

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> MotionEncoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"MotionEncoderConfig: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**d)


class MotionEncoderNet(nn.Module):
    """(B, T, C) padded features + (B, T) validity mask -> (B, feature_dim) features z."""

    def __init__(self, cfg: MotionEncoderConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        self.conv1 = nn.Conv1d(feature_width(len(cfg.hands)), c1, 5, padding=2)
        self.conv2 = nn.Conv1d(c1, c2, 5, stride=2, padding=2)
        self.conv3 = nn.Conv1d(c2, c3, 3, stride=2, padding=1)
        self.proj = nn.Linear(2 * c3, cfg.feature_dim)
        self.task_head = nn.Linear(cfg.feature_dim, max(1, len(cfg.tasks)))
        self.category_head = nn.Linear(cfg.feature_dim, max(1, len(cfg.categories)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2) * mask[:, None]
        m = mask[:, None]
        h = F.gelu(self.conv1(h)) * m
        m = F.max_pool1d(m, 2, ceil_mode=True)
        h = F.gelu(self.conv2(h))[..., : m.shape[-1]] * m
        m = F.max_pool1d(m, 2, ceil_mode=True)
        h = F.gelu(self.conv3(h))[..., : m.shape[-1]] * m
        mean = h.sum(-1) / m.sum(-1).clamp(min=1.0)
        mx = h.masked_fill(m == 0, float("-inf")).amax(-1)
        return self.proj(torch.cat([mean, mx], dim=1))


def _batch(feats: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(f) for f in feats)
    x = np.zeros((len(feats), T, feats[0].shape[1]), dtype=np.float32)
    m = np.zeros((len(feats), T), dtype=np.float32)
    for i, f in enumerate(feats):
        x[i, : len(f)] = f
        m[i, : len(f)] = 1.0
    return torch.from_numpy(x), torch.from_numpy(m)


class MotionEncoder:
    """A trained motion encoder: ``encode(list of (T_i, C) features) -> (M, feature_dim)``."""

    def __init__(self, config: MotionEncoderConfig, net: MotionEncoderNet) -> None:
        self.config = config
        self.net = net.eval()
        self._hand_models: dict = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> MotionEncoder:
        """Load a checkpoint folder (default ``checkpoints/motion_encoder``)."""
        import yaml
        from safetensors.torch import load_model

        folder = Path(path) if path is not None else DEFAULT_DIR
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).exists():
                raise CheckpointError(f"motion-encoder checkpoint {folder} lacks {name}; train one with "
                                      f"`unihm train motion-encoder --data DIR --out {folder}`")
        cfg = MotionEncoderConfig.from_dict(yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8")))
        net = MotionEncoderNet(cfg)
        try:
            load_model(net, str(folder / WEIGHTS_FILE), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights in {folder / WEIGHTS_FILE} do not match its config ({exc}); "
                                  "retrain the motion encoder") from None
        return cls(cfg, net)

    def save(self, folder: str | Path) -> Path:
        import yaml
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(yaml.safe_dump(self.config.to_dict(), sort_keys=False), encoding="utf-8")
        save_model(self.net, str(folder / WEIGHTS_FILE))
        return folder

    def hand_model(self, name: str):
        if name not in self._hand_models:
            from unihm_core.hands import load_hand

            self._hand_models[name] = load_hand(name)
        return self._hand_models[name]

    def features(self, hand: str, q: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """(T, C) per-frame inputs of one trajectory of hand ``hand`` (see :func:`frame_features`)."""
        return frame_features(self.hand_model(hand), q, object_poses, self.config.hands)

    @torch.no_grad()
    def encode(self, feats: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """(M, feature_dim) features z of M sequences given their per-frame inputs."""
        if not feats:
            return np.zeros((0, self.config.feature_dim), dtype=np.float32)
        out = []
        for s in range(0, len(feats), batch_size):
            x, m = _batch(feats[s:s + batch_size])
            out.append(self.net(x, m).numpy())
        return np.concatenate(out).astype(np.float64)

    def encode_trajectory(self, hand: str, q: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """(feature_dim,) feature of one trajectory."""
        return self.encode([self.features(hand, q, object_poses)])[0]


# ---------------------------------------------------------------------------------- training
def _collect(ds, records: list[dict], hands: tuple[str, ...]) -> list[tuple[np.ndarray, str, str]]:
    """(features, task, category) of every (sequence, hand) pair with a valid trajectory."""
    from unihm_core.hands import load_hand

    models = {h: load_hand(h) for h in hands}
    out = []
    for r in records:
        arr = ds.arrays(r["seq_id"])
        for h in hands:
            if h == "human":
                q = arr.get("human_q")
            elif r.get("hands_valid", {}).get(h, False):
                q = arr.get(f"q/{h}")
            else:
                q = None
            if q is None:
                continue
            out.append((frame_features(models[h], q, arr["object_poses"], hands), r["task"],
                        r["target"]["category"]))
    return out


def _accuracy(net: MotionEncoderNet, items, tasks, cats) -> dict:
    if not items:
        return {"task_acc": None, "category_acc": None, "n": 0}
    net.eval()
    with torch.no_grad():
        correct_t = correct_c = n_c = 0
        for s in range(0, len(items), 256):
            chunk = items[s:s + 256]
            x, m = _batch([c[0] for c in chunk])
            z = net(x, m)
            pt = net.task_head(z).argmax(-1).numpy()
            pc = net.category_head(z).argmax(-1).numpy()
            for (_, t, c), a, b in zip(chunk, pt, pc):
                correct_t += int(t in tasks and tasks.index(t) == a)
                if c in cats:
                    n_c += 1
                    correct_c += int(cats.index(c) == b)
    return {"task_acc": correct_t / len(items), "category_acc": correct_c / n_c if n_c else None, "n": len(items)}


def train_motion_encoder(data_dir: str | Path, out_dir: str | Path, config: MotionEncoderConfig | None = None,
                         threads: int = 2, max_sequences: int | None = None, progress=print) -> dict:
    """Train the motion encoder on the seen split of ``data_dir``, validate on unseen, save to ``out_dir``.

    Returns the metrics dict (also written to ``metrics.json``).
    """
    from unihm_core.data.dataset import SyntheticDataset

    torch.set_num_threads(threads)
    t_all = time.perf_counter()
    ds = SyntheticDataset(data_dir)
    seen, unseen = ds.train_heldout(max_sequences, "train the motion encoder on")
    base = config or MotionEncoderConfig()
    hands = base.hands or _hand_names()
    cfg = MotionEncoderConfig.from_dict({**base.to_dict(), "hands": list(hands),
                                         "tasks": sorted({r["task"] for r in seen}),
                                         "categories": sorted({r["target"]["category"] for r in seen})})
    train_items = _collect(ds, seen, hands)
    val_items = _collect(ds, unseen, hands)
    progress(f"motion encoder: {len(train_items)} training / {len(val_items)} held-out trajectories "
             f"({len(seen)} / {len(unseen)} sequences), tasks {list(cfg.tasks)}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = MotionEncoderNet(cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * -(-len(train_items) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    t_idx = torch.tensor([cfg.tasks.index(t) for _, t, _ in train_items])
    c_idx = torch.tensor([cfg.categories.index(c) for _, _, c in train_items])
    hand_cols = slice(0, 9 + 3 * TIP_SLOTS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / LOG_FILE).write_text("", encoding="utf-8")
    for epoch in range(cfg.epochs):
        net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(train_items), generator=gen).tolist()
        tot, n = 0.0, 0
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s:s + cfg.batch_size]
            feats = []
            for i in idx:
                f = train_items[i][0].copy()
                if cfg.trim:
                    a, b = rng.integers(0, cfg.trim + 1, size=2)
                    if len(f) - a - b >= 8:
                        f = f[a: len(f) - b]
                f[:, hand_cols] += rng.normal(0.0, cfg.noise_dm, size=f[:, hand_cols].shape).astype(np.float32)
                feats.append(f)
            x, m = _batch(feats)
            z = net(x, m)
            loss = F.cross_entropy(net.task_head(z), t_idx[idx]) + F.cross_entropy(net.category_head(z), c_idx[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(idx)
            n += len(idx)
        row = {"epoch": epoch + 1, "train_loss": tot / n, "seconds": time.perf_counter() - t0}
        if (epoch + 1) % 5 == 0 or epoch + 1 == cfg.epochs:
            row["heldout"] = _accuracy(net, val_items, cfg.tasks, cfg.categories)
        with open(out / LOG_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        progress(json.dumps(row))
    enc = MotionEncoder(cfg, net.eval())
    enc.save(out)
    metrics = {
        "data": Path(data_dir).name, "sequences": {"seen": len(seen), "unseen": len(unseen)},
        "trajectories": {"train": len(train_items), "heldout": len(val_items)},
        "objective": "task + object-category classification (cross-entropy), features = 32-D pre-head layer",
        "train": _accuracy(net, train_items, cfg.tasks, cfg.categories),
        "heldout_unseen": _accuracy(net, val_items, cfg.tasks, cfg.categories),
        "chance_task_acc": 1.0 / len(cfg.tasks),
        "parameters": sum(p.numel() for p in net.parameters()),
        "weights_kb": (out / WEIGHTS_FILE).stat().st_size / 1024, "threads": threads,
        "total_seconds": time.perf_counter() - t_all, "config": cfg.to_dict(),
    }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return metrics
