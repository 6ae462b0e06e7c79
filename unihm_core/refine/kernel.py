"""The asymmetric smooth contact kernel f(d) of the paper (Eq. 12 / B16).

For a signed point-to-plane distance ``d`` [m] (positive outside the object)::

    f(d) = alpha / 2 * d**2                               d >= 0   (outside)
    f(d) = alpha / k**2 * (exp(-k d) + k d - 1)           d <  0   (inside)

``f(0) = 0`` and ``f'(0) = 0`` from both sides (B17); ``f''(d) = alpha`` outside and
``alpha * exp(-k d) >= alpha`` inside, so f is convex and C2 at 0. ``alpha`` scales the
outside (attraction) branch, ``k`` [1/m] sets how fast the inside (penetration) branch
steepens beyond the quadratic (Fig. B1): the inside branch is ``alpha d^2 / 2 * (1 + O(k|d|))``,
so penetrations much shallower than ``1/k`` cost like hovering and deeper ones exponentially
more.

Units. The paper sets ``alpha = k = 1`` in its own, unstated length unit. With ``d`` in metres,
``k = 1`` would make the kernel symmetric to within 1 % up to 3 cm of penetration; this
project's default (:class:`~unihm_core.refine.config.RefineConfig`) is ``k = 100 /m``, so the
asymmetry starts at about a centimetre, the scale of a fingertip.

Overflow guard. For penetrations deeper than ``EXP_CAP / k`` (30 cm at ``k = 100``) the inside
branch continues as its own second-order Taylor polynomial at that depth, which keeps f
finite, convex and C2; no physical fingertip reaches it.

``attract=False`` gives the one-sided variant used where no contact is scheduled: the inside
branch of f, zero outside (still C1 at 0, so Gauss-Newton is unaffected).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EXP_CAP = 30.0  # largest exponent -k d evaluated exactly (exp(30) ~ 1e13)


def kernel_and_derivatives(d: np.ndarray | float, alpha: float = 1.0, k: float = 100.0,
                           attract: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(f, f', f'')`` of Eq. 12 at signed distances ``d`` [m], each of the shape of ``d``.

    ``attract=False`` zeroes the outside branch (penetration-only kernel).
    """
    d = np.asarray(d, dtype=float)
    u = -k * np.minimum(d, 0.0)  # >= 0
    uc = np.minimum(u, EXP_CAP)
    e = np.exp(uc)
    # expm1(u) - u (not e - u - 1): no cancellation to a tiny negative f for d just below 0
    fi = alpha / k**2 * np.maximum(np.expm1(uc) - uc, 0.0)
    f1i = alpha / k * (1.0 - e)
    f2i = alpha * e
    over = u > EXP_CAP
    if np.any(over):  # Taylor continuation beyond the cap (see the module docstring)
        h = np.where(over, (uc - u) / k, 0.0)  # d - d_cap (< 0)
        fi = np.where(over, fi + f1i * h + 0.5 * f2i * h * h, fi)
        f1i = np.where(over, f1i + f2i * h, f1i)
    out = d >= 0.0
    a = alpha if attract else 0.0
    f = np.where(out, 0.5 * a * d * d, fi)
    f1 = np.where(out, a * d, f1i)
    f2 = np.where(out, a, f2i)
    return f, f1, f2


def kernel(d: np.ndarray | float, alpha: float = 1.0, k: float = 100.0, attract: bool = True) -> np.ndarray:
    """f(d) of Eq. 12 at signed distances ``d`` [m] (any shape)."""
    return kernel_and_derivatives(d, alpha, k, attract)[0]


@njit(cache=True, error_model="numpy", inline="always")
def kernel_scalar(d: float, alpha: float, k: float, attract: bool) -> tuple[float, float]:
    """``(f, f')`` for one float, without numpy overhead: compiled (numba), so the Python loop and
    the compiled loop (:mod:`unihm_core.refine.compiled`) share this one implementation."""
    if d >= 0.0:
        if attract:
            return 0.5 * alpha * d * d, alpha * d
        return 0.0, 0.0
    u = -k * d
    uc = min(u, EXP_CAP)
    e = math.exp(uc)
    f = alpha / (k * k) * max(math.expm1(uc) - uc, 0.0)
    f1 = alpha / k * (1.0 - e)
    if u > EXP_CAP:  # Taylor continuation beyond the cap (see the module docstring)
        f2 = alpha * e
        h = (uc - u) / k
        f = f + f1 * h + 0.5 * f2 * h * h
        f1 = f1 + f2 * h
    return f, f1
