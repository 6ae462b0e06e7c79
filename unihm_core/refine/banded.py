"""Solve a symmetric positive-definite block-banded system: the whole-hand refinement's LM step.

The Gauss-Newton matrix of a trajectory whose residuals couple at most three consecutive frames
(:mod:`unihm_core.refine.whole_hand`) has ``D x D`` blocks on the diagonal and two sub-diagonals.
Its Cholesky factor ``L`` has the same band: for frame ``t``

    L2[t] = H2[t] L0[t-2]^-T
    L1[t] = (H1[t] - L2[t] L1[t-1]^T) L0[t-1]^-T
    L0[t] = chol(H0[t] - L1[t] L1[t]^T - L2[t] L2[t]^T)

followed by a forward and a backward block substitution, ``O(T D^3)`` in all. Written as plain
loops compiled with numba: the same factorisation through LAPACK costs a few dozen small calls per
frame, and on a busy two-core machine each small call waits on BLAS threads (measured here: 0.4 ms
per 30 x 30 triangular solve while another process ran, against ~10 us of arithmetic).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def _solve_rows_lt(L, B, out):
    """``out = B L^-T`` (each row ``x`` of ``out`` solves ``L x^T = B_row^T``), ``L`` lower."""
    n = L.shape[0]
    for i in range(B.shape[0]):
        for j in range(n):
            s = B[i, j]
            for k in range(j):
                s -= L[j, k] * out[i, k]
            out[i, j] = s / L[j, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _sub_outer(S, A):
    """``S -= A A^T`` in place."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(A.shape[1]):
                s += A[i, k] * A[j, k]
            S[i, j] -= s


@njit(cache=True, nogil=True, error_model="numpy")
def _banded_solve(H0, H1, H2, b):
    T, D = b.shape
    L0, L1, L2 = np.zeros_like(H0), np.zeros_like(H0), np.zeros_like(H0)
    S = np.empty((D, D))
    B = np.empty((D, D))
    for t in range(T):
        for i in range(D):
            for j in range(D):
                S[i, j] = H0[t, i, j]
        if t >= 2:
            _solve_rows_lt(L0[t - 2], H2[t], L2[t])
            _sub_outer(S, L2[t])
        if t >= 1:
            for i in range(D):
                for j in range(D):
                    s = H1[t, i, j]
                    if t >= 2:
                        for k in range(D):
                            s -= L2[t, i, k] * L1[t - 1, j, k]
                    B[i, j] = s
            _solve_rows_lt(L0[t - 1], B, L1[t])
            _sub_outer(S, L1[t])
        for j in range(D):  # Cholesky of S into L0[t]
            s = S[j, j]
            for k in range(j):
                s -= L0[t, j, k] * L0[t, j, k]
            if not s > 0.0:
                return b * np.nan, False
            L0[t, j, j] = math.sqrt(s)
            for i in range(j + 1, D):
                s = S[i, j]
                for k in range(j):
                    s -= L0[t, i, k] * L0[t, j, k]
                L0[t, i, j] = s / L0[t, j, j]
    y = np.empty_like(b)
    for t in range(T):
        for i in range(D):
            s = b[t, i]
            for k in range(D):
                if t >= 1:
                    s -= L1[t, i, k] * y[t - 1, k]
                if t >= 2:
                    s -= L2[t, i, k] * y[t - 2, k]
            for k in range(i):
                s -= L0[t, i, k] * y[t, k]
            y[t, i] = s / L0[t, i, i]
    x = np.empty_like(b)
    for t in range(T - 1, -1, -1):
        for i in range(D - 1, -1, -1):
            s = y[t, i]
            for k in range(D):
                if t + 1 < T:
                    s -= L1[t + 1, k, i] * x[t + 1, k]
                if t + 2 < T:
                    s -= L2[t + 2, k, i] * x[t + 2, k]
            for k in range(i + 1, D):
                s -= L0[t, k, i] * x[t, k]
            x[t, i] = s / L0[t, i, i]
    return x, True


def block_banded_solve(H0: np.ndarray, H1: np.ndarray, H2: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H x = b`` for the symmetric positive-definite block-banded ``H`` with diagonal blocks
    ``H0`` ``(T, D, D)`` and sub-diagonal blocks ``H1[t] = H(t, t-1)``, ``H2[t] = H(t, t-2)``
    (``H1[0]``, ``H2[:2]`` unused); ``b`` ``(T, D)``.

    Raises:
        numpy.linalg.LinAlgError: ``H`` is not positive definite.
    """
    c = [np.ascontiguousarray(a, dtype=np.float64) for a in (H0, H1, H2, b)]
    x, ok = _banded_solve(*c)
    if not ok:
        raise np.linalg.LinAlgError("block-banded matrix is not positive definite")
    return x
