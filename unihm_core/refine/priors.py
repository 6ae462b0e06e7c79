"""Generative prior (Eq. 14) and temporal prior (Eq. 15) with their boundary rule.

At frame ``t`` with ``q1 = q_{t-1}^opt`` and ``q2 = q_{t-2}^opt``::

    E_gen  = 0.5 (q - q_gen)^T W_gen (q - q_gen)                          (Eq. 14)
    E_vel  = 0.5 ||q - q1||^2_{W_vel}                                     (Eq. 15, first term)
    E_acc  = 0.5 ||(q - q1) - (q1 - q2)||^2_{W_acc}                       (Eq. 15, second term)

Their gradient is ``W~`` of Eq. 18 and their Hessian ``W_gen + W_vel + W_acc`` (Eq. 17).
Boundary rule for ``t < 2`` (Sec. 3.4): ``q_{-2}^opt = q_{-1}^opt = q_0^gen``, so at ``t = 0``
velocity and acceleration are measured from the generated first frame at rest, and at
``t = 1`` the acceleration from ``q_0^opt - q_0^gen``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from unihm_core.errors import InputError
from unihm_core.refine.config import RefineConfig


@dataclass(frozen=True, eq=False)
class PriorWeights:
    """Symmetric positive-definite ``(D, D)`` weights ``W_gen``, ``W_vel``, ``W_acc`` (kept as
    read-only copies of what was passed)."""

    W_gen: np.ndarray
    W_vel: np.ndarray
    W_acc: np.ndarray

    def __post_init__(self) -> None:
        D = None
        for name in ("W_gen", "W_vel", "W_acc"):
            W = np.asarray(getattr(self, name), dtype=float)
            if W.ndim != 2 or W.shape[0] != W.shape[1] or (D is not None and W.shape[0] != D):
                raise InputError(f"{name}: expected a square (D, D) matrix like the others, got {W.shape}.")
            D = W.shape[0]
            if not np.all(np.isfinite(W)):
                raise InputError(f"{name}: contains NaN or inf.")
            if not np.allclose(W, W.T, rtol=1e-10, atol=1e-12):
                raise InputError(f"{name}: must be symmetric (Eq. 14/15).")
            try:
                np.linalg.cholesky(W)
            except np.linalg.LinAlgError:
                raise InputError(f"{name}: must be positive definite (Eq. 14/15); "
                                 "every coordinate needs a positive weight.") from None
            W = np.array(W, dtype=float, order="C")  # a private copy, read-only: results derived from
            W.setflags(write=False)  # the weights may be cached per object (solver._prior_quadratic)
            object.__setattr__(self, name, W)

    @property
    def dof(self) -> int:
        return self.W_gen.shape[0]

    @property
    def hessian(self) -> np.ndarray:
        """``W_gen + W_vel + W_acc`` (the prior block of Eq. 17)."""
        return self.W_gen + self.W_vel + self.W_acc


def group_diagonal(weights: tuple[float, float, float], dof: int, n_wrist: int = 6) -> np.ndarray:
    """``(D,)`` diagonal from per-group weights (translation, rotation, finger)."""
    w = np.full(dof, weights[2])
    w[:3] = weights[0]
    w[3:n_wrist] = weights[1]
    return w


def prior_weights(config: RefineConfig, dof: int, n_wrist: int = 6) -> PriorWeights:
    """Diagonal W_gen, W_vel, W_acc for a hand with ``dof`` state coordinates (read-only arrays,
    shared between calls with the same weights)."""
    return _diagonal_weights(config.w_gen, config.w_vel, config.w_acc, dof, n_wrist)


@lru_cache(maxsize=64)
def _diagonal_weights(w_gen, w_vel, w_acc, dof: int, n_wrist: int) -> PriorWeights:
    return PriorWeights(*(np.diag(group_diagonal(w, dof, n_wrist)) for w in (w_gen, w_vel, w_acc)))


def history(q_opt: np.ndarray, q_gen: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """``(q_{t-1}^opt, q_{t-2}^opt)`` with the boundary rule ``q_{-2} = q_{-1} = q_0^gen``."""
    q1 = q_opt[t - 1] if t >= 1 else q_gen[0]
    q2 = q_opt[t - 2] if t >= 2 else q_gen[0]
    return q1, q2


def prior_energies(q: np.ndarray, q_gen_t: np.ndarray, q1: np.ndarray, q2: np.ndarray,
                   W: PriorWeights) -> tuple[float, float, float]:
    """``(E_gen, E_vel, E_acc)`` at ``q`` ``(D,)`` (Eq. 14, 15)."""
    eg = q - q_gen_t
    ev = q - q1
    ea = ev - (q1 - q2)
    return (0.5 * float(eg @ W.W_gen @ eg), 0.5 * float(ev @ W.W_vel @ ev),
            0.5 * float(ea @ W.W_acc @ ea))


def prior_gradient(q: np.ndarray, q_gen_t: np.ndarray, q1: np.ndarray, q2: np.ndarray,
                   W: PriorWeights) -> np.ndarray:
    """``W~`` of Eq. 18: the gradient of ``E_gen + E_vel + E_acc`` at ``q``, ``(D,)``."""
    ev = q - q1
    return W.W_gen @ (q - q_gen_t) + W.W_vel @ ev + W.W_acc @ (ev - (q1 - q2))


def trajectory_prior_energies(q: np.ndarray, q_gen: np.ndarray,
                              W: PriorWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(E_gen, E_vel, E_acc)``, each ``(T,)``, of every frame of a trajectory ``q`` ``(T, D)``
    against ``q_gen`` ``(T, D)`` (Eq. 14, 15; frame t's history taken from ``q`` with the
    boundary rule, as :func:`history`)."""
    hist = np.concatenate([q_gen[:1], q_gen[:1], q[:-1]])  # q_-2^opt = q_-1^opt = q_0^gen, q_0^opt, ...
    q1, q2 = hist[1:], hist[:-1]  # q_{t-1}, q_{t-2} for t = 0..T-1
    eg = q - q_gen
    ev = q - q1
    ea = ev - (q1 - q2)
    quad = lambda e, M: 0.5 * ((e @ M) * e).sum(1)  # noqa: E731
    return quad(eg, W.W_gen), quad(ev, W.W_vel), quad(ea, W.W_acc)
