"""Projections of the non-text conditions into the decoder's embedding space (Sec. 3.3).

* :class:`SentenceProjection` — the frozen all-MiniLM-L6-v2 sentence embedding (384-D,
  unit norm) -> one slot, ``Linear(384, hidden)``. Unseen phrasings of an instruction land
  near seen ones in this space, which the BPE tokens alone would not give.
* :class:`PointCloudProjection` — PointNet global feature of P_obj (App. C.2) concatenated
  with the size scalar, ``Linear(dims[-1] + 1, k * hidden)`` reshaped to ``k`` slots.
* :class:`TrajectoryEncoder` — the two-layer MLP of App. C.3 (Eq. C3),
  ``z = GELU(W2 GELU(W1 p + b1) + b2)`` with hidden width 512, applied to one token chunk
  of the target object trajectory at a time, so trajectory slot i aligns with hand token i.

Trajectory features (:func:`trajectory_features`): the object poses (T, 4, 4) in the world
(table) frame are padded to ``N * L`` frames by repeating the last one (N = ceil(T / L), as
the hand tokenizer pads), and each frame t gives 12 numbers:
``10 * (p_t - p_0)`` (displacement since the first frame [dm]), the 6-D rotation of R_t
(its first two columns, world frame: the hand tokens live in the object frame, so where
"up" is in that frame matters) and ``10 * p_t`` (position on the table [dm]). Chunk i is the
flat (12 L,) vector of its L frames.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unihm_core.errors import InputError
from unihm_core.vlm.pointnet import PointNetEncoder

#: Numbers per frame in the trajectory features.
FRAME_FEATURES = 12
#: Position scale of the trajectory features [1/m] (decimetres).
POSITION_SCALE = 10.0


def num_chunks(num_frames: int, chunk_len: int) -> int:
    """N = ceil(T / L), the number of hand tokens of a T-frame trajectory."""
    return -(-int(num_frames) // int(chunk_len))


def trajectory_features(object_poses: np.ndarray, chunk_len: int) -> np.ndarray:
    """Per-chunk features of the target object trajectory (see module docstring).

    Args:
        object_poses: (T, 4, 4) object poses in the world frame [m], T >= 1.
        chunk_len: L, frames per hand token.

    Returns:
        (N, 12 * L) float32, N = ceil(T / L).
    """
    P = np.asarray(object_poses, dtype=np.float64)
    if P.ndim != 3 or P.shape[1:] != (4, 4) or len(P) < 1 or not np.all(np.isfinite(P)):
        raise InputError(f"object_poses must be a finite (T, 4, 4) array with T >= 1, got shape {P.shape}")
    n = num_chunks(len(P), chunk_len)
    pad = n * chunk_len - len(P)
    if pad:
        P = np.concatenate([P, np.repeat(P[-1:], pad, axis=0)], axis=0)
    p = P[:, :3, 3]
    rot6 = P[:, :3, :2].transpose(0, 2, 1).reshape(len(P), 6)
    feat = np.concatenate([POSITION_SCALE * (p - p[0]), rot6, POSITION_SCALE * p], axis=1)
    return feat.reshape(n, chunk_len * FRAME_FEATURES).astype(np.float32)


class SentenceProjection(nn.Module):
    """Sentence embedding (B, 384) -> one slot (B, hidden)."""

    def __init__(self, sentence_dim: int, hidden: int) -> None:
        super().__init__()
        self.proj = nn.Linear(sentence_dim, hidden)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.proj(emb)


class PointCloudProjection(nn.Module):
    """Normalised points (B, n, 3) + size scalar (B,) -> k slots (B, k, hidden)."""

    def __init__(self, dims: tuple[int, ...], slots: int, hidden: int) -> None:
        super().__init__()
        self.pointnet = PointNetEncoder(dims)
        self.slots = slots
        self.hidden = hidden
        self.proj = nn.Linear(self.pointnet.out_dim + 1, slots * hidden)

    def forward(self, points: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        g = torch.cat([self.pointnet(points), size[:, None]], dim=1)
        return self.proj(g).view(len(points), self.slots, self.hidden)


class TrajectoryEncoder(nn.Module):
    """Two-layer MLP of Eq. C3: chunk features (..., 12 L) -> (..., hidden)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc2(self.act(self.fc1(x))))
