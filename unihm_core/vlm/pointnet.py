"""PointNet point-cloud encoder for the object P_obj (paper App. C.2, Eq. C2).

Preprocessing (:func:`preprocess_points`, identical in training and inference): from the
object's points in its own frame (N, 3) [m], take ``n`` points with a fixed-seed choice
(``numpy.random.default_rng(seed).choice(N, n, replace=N < n)``), subtract their centroid
and divide by the largest distance to it (the radius r [m]); the model gets the unit-radius
points and ``log(r / 0.05 m)`` as an extra scalar, so absolute size is not lost.

Network: a shared per-point MLP ``h`` (Linear + ReLU layers of widths ``pointnet_dims``)
followed by a max over points, ``f(X) = max_i h(x_i)`` (Eq. C2), which is invariant to the
order of the points.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unihm_core.errors import InputError

#: Reference radius of the size scalar ``log(r / SIZE_REF)`` [m].
SIZE_REF = 0.05


def preprocess_points(points: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, float]:
    """Fixed-seed subsample, centred, unit max radius.

    Args:
        points: (N, 3) object points [m], N >= 1, in the object frame.
        n: number of points to return.
        seed: seed of the subsample (the model's ``pc_seed``).

    Returns:
        (n, 3) float32 normalised points and the size scalar ``log(r / 0.05 m)``.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 1 or not np.all(np.isfinite(p)):
        raise InputError(f"object points must be a finite (N, 3) array with N >= 1, got shape {p.shape}")
    idx = np.random.default_rng(seed).choice(len(p), n, replace=len(p) < n)
    q = p[idx]
    q = q - q.mean(axis=0)
    r = float(np.linalg.norm(q, axis=1).max())
    r = max(r, 1e-4)
    return (q / r).astype(np.float32), float(np.log(r / SIZE_REF))


class PointNetEncoder(nn.Module):
    """Shared MLP + max-pool: (B, n, 3) -> (B, dims[-1])."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = 3
        for d in dims:
            layers += [nn.Linear(prev, d), nn.ReLU()]
            prev = d
        self.mlp = nn.Sequential(*layers)
        self.out_dim = prev

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.mlp(points).amax(dim=1)
