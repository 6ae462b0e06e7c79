"""Training data for the tokenizer: object-frame features of every hand, per sequence.

:func:`load_hand_sequences` reads a dataset built by :mod:`unihm_core.data.dataset` and
returns, for each hand, the raw states ``q`` and object-frame features of every sequence of
one split ('seen' for training, 'unseen' for evaluation). The human hand's state is the
dataset's ``human_q``; robot hands use ``q/<hand>`` (their dex-retargeting of the same human
motion), so index ``i`` of every hand is the same sequence — the retargeted pairs that
distillation (Eq. 3) needs.

Robot sequences flagged invalid by the dataset (penetration, lost contact, object drift)
are *kept*: the tokenizer learns kinematic trajectories, and dropping them would leave the
reference hand with a small fraction of the data. ``valid_only=True`` drops them instead.

:class:`WindowSampler` draws random windows of ``W`` frames (any start frame), the same
windows for every hand when asked for pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unihm_core.errors import InputError
from unihm_core.tokenizer.features import hand_features


@dataclass
class HandSequences:
    """The sequences of one split for a set of hands.

    Attributes:
        seq_ids: ``(S,)`` sequence ids.
        q: hand -> list of ``(T_s, D_h)`` states.
        features: hand -> list of ``(T_s, F_h)`` raw (un-normalised) object-frame features.
        object_poses: list of ``(T_s, 4, 4)``.
        valid: hand -> ``(S,)`` bool (dataset validity flag; always True for the human hand).
    """

    seq_ids: list[str]
    q: dict[str, list[np.ndarray]]
    features: dict[str, list[np.ndarray]]
    object_poses: list[np.ndarray]
    valid: dict[str, np.ndarray]

    @property
    def hands(self) -> tuple[str, ...]:
        return tuple(self.q)

    def __len__(self) -> int:
        return len(self.seq_ids)

    def subset(self, keep: np.ndarray) -> HandSequences:
        idx = np.flatnonzero(keep)
        return HandSequences(
            seq_ids=[self.seq_ids[i] for i in idx],
            q={h: [v[i] for i in idx] for h, v in self.q.items()},
            features={h: [v[i] for i in idx] for h, v in self.features.items()},
            object_poses=[self.object_poses[i] for i in idx],
            valid={h: v[idx] for h, v in self.valid.items()},
        )


def state_key(hand: str) -> str:
    """Array name of hand ``hand``'s states in a dataset sequence."""
    return "human_q" if hand == "human" else f"q/{hand}"


def load_hand_sequences(data_dir: str | Path, hands: tuple[str, ...], split: str,
                        max_sequences: int | None = None) -> HandSequences:
    """Read every sequence of ``split`` ('seen' or 'unseen') for ``hands`` from a built dataset."""
    from unihm_core.data.dataset import SyntheticDataset

    if split not in ("seen", "unseen"):
        raise InputError(f"split must be 'seen' or 'unseen', got {split!r}")
    ds = SyntheticDataset(data_dir)
    recs = ds.split(split)[: max_sequences or None]
    if not recs:
        raise InputError(f"dataset {data_dir} has no {split!r} sequences; build a larger one with `unihm data build`")
    out = HandSequences([], {h: [] for h in hands}, {h: [] for h in hands}, [], {h: [] for h in hands})
    for r in recs:
        arr = ds.arrays(r["seq_id"])
        missing = [state_key(h) for h in hands if state_key(h) not in arr]
        if missing:
            raise InputError(f"sequence {r['seq_id']} in {data_dir} has no {missing}; the dataset was built "
                             "without these hands (rebuild with --hands including them)")
        out.seq_ids.append(r["seq_id"])
        poses = arr["object_poses"].astype(np.float64)
        out.object_poses.append(poses)
        for h in hands:
            q = arr[state_key(h)].astype(np.float64)
            out.q[h].append(q)
            out.features[h].append(hand_features(q, poses))
            out.valid[h].append(True if h == "human" else bool(r["hands_valid"].get(h, False)))
    ds.close()
    out.valid = {h: np.array(v, bool) for h, v in out.valid.items()}
    return out


class WindowSampler:
    """Random windows of ``window`` frames from a list of ``(T_s, F)`` arrays (same starts across hands).

    Sequences shorter than the window are padded by repeating their last frame.
    """

    def __init__(self, lengths: list[int], window: int):
        self.window = window
        self.lengths = np.array(lengths)
        self.offsets = np.concatenate([[0], np.cumsum(np.maximum(self.lengths, window))[:-1]])

    def stack(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Concatenate one hand's per-sequence arrays in the sampler's layout ``(sum T'_s, F)``."""
        parts = []
        for a in arrays:
            pad = max(self.window - len(a), 0)
            parts.append(np.concatenate([a, np.repeat(a[-1:], pad, 0)]) if pad else a)
        return np.concatenate(parts).astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, window)`` row indices into :meth:`stack`'s array."""
        s = rng.integers(0, len(self.lengths), size=n)
        span = np.maximum(self.lengths[s], self.window) - self.window + 1
        start = self.offsets[s] + (rng.random(n) * span).astype(np.int64)
        return start[:, None] + np.arange(self.window)[None, :]

    @property
    def epoch_windows(self) -> int:
        """Windows per epoch: every frame covered about twice."""
        return max(1, int(2 * np.maximum(self.lengths, self.window).sum() / self.window))
