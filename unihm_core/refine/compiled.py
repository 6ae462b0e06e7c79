"""Algorithm 1 compiled with numba: the same iteration as :mod:`unihm_core.refine.solver`, without
the interpreter.

Why. One LM iteration of the refinement is a handful of small computations (fingertip
kinematics of a ~30-joint tree, five nearest-neighbour queries in a few thousand points, a
30x30 Cholesky solve), a few microseconds of arithmetic. Written as numpy/pinocchio/scipy calls
from Python it costs about 60-90 us, nearly all of it call overhead (a pinocchio kinematics
call alone about 12 us, a cKDTree query about 11 us, and a few dozen numpy calls of 1-3 us).
Compiled, the whole trajectory runs in one call and an iteration costs what its arithmetic
costs. The Python loop in :mod:`unihm_core.refine.solver` stays the readable reference; it is
also what runs when a caller supplies its own kinematics (``refine(..., kinematics=...)``). The
two are tested to agree (``tests/test_refine_compiled.py``).

What is compiled, each checked against the library it replaces:

* the kinematic tree (:mod:`unihm_core.refine.chain`) and the k-d tree
  (:mod:`unihm_core.refine.kdtree`), in their own modules and re-exported here;
* the contact terms of Eq. 11-13 / B19 (:mod:`unihm_core.refine.contact`), the kernel of
  Eq. 12 (:func:`unihm_core.refine.kernel.kernel_scalar`, itself compiled and shared with the
  Python loop) and the Euclidean comparison model of Fig. B2;
* the frame loop of Algorithm 1 (:func:`refine_frames`): priors as one quadratic with the
  constant Hessian ``Hp``, LM normal equations solved by Cholesky (LU fallback if not positive
  definite), the active set on joint limits, the projection, damping rule and the three stops,
  exactly as the reference loop documents them.

Threads. The entry points release the GIL (``nogil=True``) and keep no state between calls
(scratch is allocated per trajectory), so refinements from several threads (the app serves
requests concurrently) run in parallel, and sharing one hand model between threads is safe
here (the Python loop's pinocchio data is not).

Floating point. ``error_model="numpy"``: a division by zero gives inf/nan instead of raising,
which spares a check per division. On the normal path every denominator is positive by
construction (``2 sqrt(f) + eps^2 > 0``, lengths are floored, Cholesky pivots are tested). The
exceptions: the column where a Cholesky pivot fails (its values are discarded, the LU fallback
solves instead), and a singular matrix in that fallback, which gives inf/nan, so the candidate's
energy is nan and the step is rejected, where the Python loop's ``np.linalg.solve`` raises.
Neither happens in practice: the priors' Hessian ``Hp`` is positive definite.

Reference counts. numba counts references to every array a compiled function holds, with two
atomic operations per array per call, which it removes again only where the control flow is
simple. They cost up to a fifth of the loop's time here (``perf``), so the hot path is written
to let numba drop them: the per-solve helpers (kinematics, contact terms, k-d tree search,
Cholesky solve) and the LM iteration are inlined into the frame loop at numba IR level
(``inline="always"``), loops exit through their condition (a ``break`` or ``return`` inside a
loop, or a row view of an array, keeps the counts), and no helper on the hot path can raise
(the LU fallback is written out instead of calling ``np.linalg.solve``). This removed the
counts from the per-solve helpers; numba still keeps about 150 per frame where the inlined
bodies take their arguments (``perf``: about 14 % of a Panda gripper refinement's samples).

Compilation. The functions are compiled on first use and cached on disk next to this file
(numba ``cache=True``), so only the first call on a machine pays for compilation (about 50 s
here, most of it for the inlined frame loop); :func:`unihm_core.refine.warmup.warm_up` does it
ahead of time (the app calls it at start-up).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from unihm_core.refine.arrays import _plain  # noqa: F401 (re-exported)
from unihm_core.refine.chain import (Chain, _forward, _tips, _tips_batch, chain_for,  # noqa: F401 (re-exported)
                                     chain_from_hand, fingertip_kinematics)
from unihm_core.refine.kdtree import (LEAF_SIZE, STACK, KDTree, _box_dist, _kd_build,  # noqa: F401 (re-exported)
                                      _kd_nearest, _kd_query_many, build_kdtree, kdtree_query, nearest_planes,
                                      tangent_planes, unit_normals)
from unihm_core.refine.kernel import kernel_scalar

STATUS_NAMES = ("converged", "stalled", "hit_cap")  # codes 0, 1, 2 of refine_frames


@njit(cache=True, nogil=True, error_model="numpy")
def rigid_errors(P):
    """For 4x4 transforms ``P`` ``(T, 4, 4)``: ``(T, 3)`` rows ``[max |R^T R - I|, det R,
    max |last row - (0, 0, 0, 1)|]`` (one pass; input validation of the refinement)."""
    out = np.empty((P.shape[0], 3))
    for t in range(P.shape[0]):
        err = 0.0
        for a in range(3):
            for b in range(3):
                s = P[t, 0, a] * P[t, 0, b] + P[t, 1, a] * P[t, 1, b] + P[t, 2, a] * P[t, 2, b]
                err = max(err, abs(s - (1.0 if a == b else 0.0)))
        out[t, 0] = err
        out[t, 1] = (P[t, 0, 0] * (P[t, 1, 1] * P[t, 2, 2] - P[t, 1, 2] * P[t, 2, 1])
                     - P[t, 0, 1] * (P[t, 1, 0] * P[t, 2, 2] - P[t, 1, 2] * P[t, 2, 0])
                     + P[t, 0, 2] * (P[t, 1, 0] * P[t, 2, 1] - P[t, 1, 1] * P[t, 2, 0]))
        out[t, 2] = max(abs(P[t, 3, 0]), abs(P[t, 3, 1]), abs(P[t, 3, 2]), abs(P[t, 3, 3] - 1.0))
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def moving_flags(P, trans_tol, rot_tol):
    """``(T,)`` bool: the object moves into or out of frame t, i.e. its pose ``P`` ``(T, 4, 4)``
    changes by more than ``trans_tol`` [m] or ``rot_tol`` [rad] between t-1 and t or between t
    and t+1 (rule 1 of :mod:`unihm_core.refine.schedule`; the rotation angle of ``R_t^T R_{t+1}``
    from its trace, ``sum_ij R_t[i, j] R_{t+1}[i, j]``)."""
    T = P.shape[0]
    moving = np.zeros(T, np.bool_)
    for t in range(T - 1):
        d0, d1, d2 = P[t + 1, 0, 3] - P[t, 0, 3], P[t + 1, 1, 3] - P[t, 1, 3], P[t + 1, 2, 3] - P[t, 2, 3]
        tr = 0.0
        for i in range(3):
            for j in range(3):
                tr += P[t, i, j] * P[t + 1, i, j]
        angle = math.acos(min(max((tr - 1.0) / 2.0, -1.0), 1.0))
        if math.sqrt(d0 * d0 + d1 * d1 + d2 * d2) > trans_tol or angle > rot_tol:
            moving[t] = moving[t + 1] = True
    return moving


# ----------------------------------------------------------------------------- contact (Eq. 11-13, B19)
class ContactParams(NamedTuple):
    lambda_c: float
    alpha: float
    k: float
    eps2: float
    kernel_model: bool  # False: the Euclidean comparison of Fig. B2


@njit(cache=True, error_model="numpy", inline="always")
def _contact(S, Js, Ro, to, attract, tree, planes, cp, d, r, Jr, en, idx, sn, sb, guess):
    """Contact terms of one frame at fingertips ``S`` (world) with Jacobians ``Js``, object pose
    ``(Ro, to)``; fills ``d, r, Jr, en`` and the nearest neighbours ``idx`` (leaf order, like
    ``planes``, the tangent planes of :attr:`ObjectSurface.planes` in the tree's leaf order) and
    returns the total contact energy. ``guess`` ``(F,)``: nearest-neighbour guesses (see
    :func:`_kd_nearest`); ``idx`` itself may be passed."""
    lambda_c, alpha, k, eps2, kernel_model = cp.lambda_c, cp.alpha, cp.k, cp.eps2, cp.kernel_model
    points = tree.points
    s2 = math.sqrt(2.0 * lambda_c)
    total = 0.0
    D = Js.shape[2]
    for i in range(S.shape[0]):
        y0, y1, y2 = S[i, 0] - to[0], S[i, 1] - to[1], S[i, 2] - to[2]
        x0 = Ro[0, 0] * y0 + Ro[1, 0] * y1 + Ro[2, 0] * y2  # x = R^T (s - t), object frame
        x1 = Ro[0, 1] * y0 + Ro[1, 1] * y1 + Ro[2, 1] * y2
        x2 = Ro[0, 2] * y0 + Ro[1, 2] * y1 + Ro[2, 2] * y2
        j, _ = _kd_nearest(tree, x0, x1, x2, sn, sb, guess[i])
        idx[i] = j
        n0, n1, n2 = planes[j, 0], planes[j, 1], planes[j, 2]
        di = n0 * x0 + n1 * x1 + n2 * x2 - planes[j, 3]  # Eq. 11
        d[i] = di
        if kernel_model:
            f, f1 = kernel_scalar(di, alpha, k, attract[i])  # Eq. 12
            sf = math.sqrt(f)
            r[i] = s2 * sf  # Eq. 13
            ci = s2 * f1 / (2.0 * sf + eps2)  # B19
            g0, g1, g2 = n0, n1, n2
        else:
            g0, g1, g2 = x0 - points[0, j], x1 - points[1, j], x2 - points[2, j]
            g = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            gs = max(g, 1e-15)
            g0, g1, g2 = g0 / gs, g1 / gs, g2 / gs
            if attract[i] or di < 0.0:
                f = alpha * g
                sf = math.sqrt(f)
                r[i] = s2 * sf
                ci = s2 * alpha / (2.0 * sf + eps2)
            else:
                f, ci = 0.0, 0.0
                r[i] = 0.0
        e = lambda_c * f
        en[i] = e
        total += e
        # dr_i/dq = c_i (R g_i)^T J_s,i
        w0 = ci * (Ro[0, 0] * g0 + Ro[0, 1] * g1 + Ro[0, 2] * g2)
        w1 = ci * (Ro[1, 0] * g0 + Ro[1, 1] * g1 + Ro[1, 2] * g2)
        w2 = ci * (Ro[2, 0] * g0 + Ro[2, 1] * g1 + Ro[2, 2] * g2)
        for c in range(D):
            Jr[i, c] = w0 * Js[i, 0, c] + w1 * Js[i, 1, c] + w2 * Js[i, 2, c]
    return total


# ----------------------------------------------------------------------------- linear algebra
@njit(cache=True, error_model="numpy")
def _lu_solve(H, g, free, n, A, x):
    """Solve the system of :func:`_spd_solve` by LU with partial pivoting (``A`` scratch), in plain
    loops like it: a singular matrix gives inf/nan instead of raising."""
    for i in range(n):
        x[i] = g[free[i]]
        for j in range(n):
            A[i, j] = H[free[i], free[j]]
    for k in range(n):
        p = k
        for i in range(k + 1, n):
            if abs(A[i, k]) > abs(A[p, k]):
                p = i
        if p != k:
            for j in range(n):
                A[k, j], A[p, j] = A[p, j], A[k, j]
            x[k], x[p] = x[p], x[k]
        for i in range(k + 1, n):
            f = A[i, k] / A[k, k]
            for j in range(k + 1, n):
                A[i, j] -= f * A[k, j]
            x[i] -= f * x[k]
    for i in range(n - 1, -1, -1):
        s = x[i]
        for j in range(i + 1, n):
            s -= A[i, j] * x[j]
        x[i] = s / A[i, i]


@njit(cache=True, error_model="numpy", inline="always")
def _spd_solve(H, g, free, n, L, x):
    """Solve ``H[f, f] x = g[f]`` for the rows and columns ``f = free[:n]`` (the coordinates not held
    on a joint limit) by Cholesky (``L`` scratch); returns False, with ``x`` not solved, when that
    block is not positive definite to working precision (the caller then uses :func:`_lu_solve`).
    Plain loops: for the hands here (n <= 30, measured) this beats a LAPACK call, whose overhead
    (and numba's copies around it) exceeds the ~n^3/6 multiply-adds; the index list costs only
    O(n^2) reads."""
    pd = True
    j = 0
    while pd and j < n:
        fj = free[j]
        s = H[fj, fj]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        pd = s > 0.0
        ljj = math.sqrt(max(s, 0.0))
        L[j, j] = ljj
        for i in range(j + 1, n):
            s = H[free[i], fj]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
        j += 1
    if pd:
        for i in range(n):  # L y = g
            s = g[free[i]]
            for k in range(i):
                s -= L[i, k] * x[k]
            x[i] = s / L[i, i]
        for i in range(n - 1, -1, -1):  # L^T x = y, along the rows of L
            xi = x[i] / L[i, i]
            x[i] = xi
            for k in range(i):
                x[k] -= L[i, k] * xi
    return pd


@njit(cache=True, error_model="numpy", inline="always")
def _quad(e, W, diagonal):
    """``0.5 e^T W e``."""
    D = len(e)
    out = 0.0
    if diagonal:
        for a in range(D):
            out += W[a, a] * e[a] * e[a]
        return 0.5 * out
    for a in range(D):
        s = 0.0
        for b in range(D):
            s += W[a, b] * e[b]
        out += e[a] * s
    return 0.5 * out


@njit(cache=True, error_model="numpy", inline="always")
def _prior_terms(x, qg, q1, q2, Wg, Wv, Wa, e, diagonal):
    """``(E_gen, E_vel, E_acc)`` at ``x`` (Eq. 14, 15) with history ``q1, q2``; ``e`` scratch."""
    D = len(x)
    for a in range(D):
        e[a] = x[a] - qg[a]
    e_gen = _quad(e, Wg, diagonal)
    for a in range(D):
        e[a] = x[a] - q1[a]
    e_vel = _quad(e, Wv, diagonal)
    for a in range(D):
        e[a] = x[a] - 2.0 * q1[a] + q2[a]
    return e_gen, e_vel, _quad(e, Wa, diagonal)


@njit(cache=True, error_model="numpy")
def _frame_prior(qg, q1, q2, mg, M1, Ma, Wg, Wv, Wa, m, e, diagonal):
    """The priors of one frame as ``0.5 (q - m)^T Hp (q - m) + c``: fills the minimiser
    ``m = mg + M1 q1 - Ma q2`` and returns ``c``, the priors' value at ``m`` (Eq. 14, 15)."""
    D = len(qg)
    for a in range(D):
        if diagonal:
            m[a] = mg[a] + M1[a, a] * q1[a] - Ma[a, a] * q2[a]
        else:
            s = mg[a]
            for b in range(D):
                s += M1[a, b] * q1[b] - Ma[a, b] * q2[b]
            m[a] = s
    e_gen, e_vel, e_acc = _prior_terms(m, qg, q1, q2, Wg, Wv, Wa, e, diagonal)
    return e_gen + e_vel + e_acc


# ----------------------------------------------------------------------------- Algorithm 1
class LMParams(NamedTuple):
    lambda0: float
    lambda_up: float
    lambda_down: float
    lambda_max: float
    lambda_floor: float
    step_tol: float
    energy_rtol: float
    energy_atol: float
    max_iters: int
    hp_diagonal: bool  # W_gen, W_vel and W_acc are diagonal (so are Hp, M1, Ma)


class Work(NamedTuple):
    """Scratch arrays of :func:`refine_frames` (allocated once per trajectory)."""

    Rw: np.ndarray  # (nj, 3, 3) joint frames
    pw: np.ndarray  # (nj, 3)
    S: np.ndarray  # (F, 3) fingertips
    Js: np.ndarray  # (F, 3, D) their Jacobians
    c_d: np.ndarray  # contact terms at the current iterate: d, r, J, energy, NN index
    c_r: np.ndarray
    c_J: np.ndarray
    c_en: np.ndarray
    c_idx: np.ndarray
    n_d: np.ndarray  # the same at the candidate
    n_r: np.ndarray
    n_J: np.ndarray
    n_en: np.ndarray
    n_idx: np.ndarray
    H: np.ndarray  # (D, D) normal matrix
    L: np.ndarray  # (D, D) Cholesky (or LU) factor of its free block
    xs: np.ndarray  # (D,) solution for the free coordinates
    g: np.ndarray  # (D,) gradient of E_t
    neg_dq: np.ndarray
    q: np.ndarray  # (D,) iterate
    q_new: np.ndarray  # (D,) candidate
    hpe: np.ndarray  # (D,) W~ at q
    hpe_new: np.ndarray
    free: np.ndarray  # (D,) int64
    e: np.ndarray  # (D,) q - m
    step: np.ndarray  # (D,) projected step
    sn: np.ndarray  # (STACK,) int64 k-d tree search stack
    sb: np.ndarray  # (STACK,) the lower bounds of its nodes


@njit(cache=True, error_model="numpy")
def new_work(nj, F, D):
    """Scratch (:class:`Work`) for one trajectory of a hand with `nj` joints, `F` fingertips, `D` DoF."""
    e = np.empty
    return Work(e((nj, 3, 3)), e((nj, 3)), e((F, 3)), e((F, 3, D)),
                e(F), e(F), e((F, D)), e(F), e(F, np.int64), e(F), e(F), e((F, D)), e(F), e(F, np.int64),
                e((D, D)), e((D, D)), e(D), e(D), e(D), e(D), e(D), e(D), e(D), e(D, np.int64),
                e(D), e(D), e(STACK, np.int64), e(STACK))


@njit(cache=True, error_model="numpy", inline="always")
def _prior(q, m, Hp, e, hpe, diagonal):
    """``0.5 (q - m)^T Hp (q - m)`` with ``e = q - m`` and ``hpe = Hp e`` (W~, Eq. 18) filled in;
    ``diagonal``: Hp is diagonal (the default weights), O(D) instead of O(D^2)."""
    D = len(q)
    for a in range(D):
        e[a] = q[a] - m[a]
    out = 0.0
    if diagonal:
        for a in range(D):
            hpe[a] = Hp[a, a] * e[a]
            out += e[a] * hpe[a]
        return 0.5 * out
    for a in range(D):
        s = 0.0
        for b in range(D):
            s += Hp[a, b] * e[b]
        hpe[a] = s
        out += e[a] * s
    return 0.5 * out


@njit(cache=True, error_model="numpy", inline="always")
def _on_bound(q, mid, half):
    """Some coordinate of ``q`` sits on a joint limit."""
    out = False
    for i in range(len(q)):  # no early return: see "Reference counts" in the module docstring
        out = out or abs(q[i] - mid[i]) >= half[i]
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _lm(w, E_c, m, c, Ro, to, att, ch, tree, planes, cp, lm, Hp, lo, hi, lo_act, hi_act, mid, half,
        trace_on, trace, row0, k_start):
    """Lines 4-11 of Algorithm 1 from ``w.q`` with contact terms ``w.c_*`` (total ``E_c``).

    Leaves the final iterate in ``w.q`` and its terms in ``w.c_*``; returns ``(E_t, contact
    energy, status code, linear solves)``. Trace rows go to ``trace[row0:]``.
    """
    D, F = len(w.q), w.c_r.shape[0]
    # every scratch array bound to a local once (a namedtuple field read in a loop costs a reference count)
    q, H, g, c_J, c_r, step, hpe, free = w.q, w.H, w.g, w.c_J, w.c_r, w.step, w.hpe, w.free
    L, xs = w.L, w.xs
    neg_dq, q_new, e, hpe_new, Rw, pw, S, Js = w.neg_dq, w.q_new, w.e, w.hpe_new, w.Rw, w.pw, w.S, w.Js
    c_d, c_en, c_idx, n_d, n_r, n_J, n_en, n_idx, sn, sb = (w.c_d, w.c_en, w.c_idx, w.n_d, w.n_r, w.n_J, w.n_en,
                                                            w.n_idx, w.sn, w.sb)
    E = E_c + _prior(q, m, Hp, e, hpe, lm.hp_diagonal) + c  # E_t (Eq. 16), W~ at q (Eq. 18)
    on_bound = _on_bound(q, mid, half)
    lam = lm.lambda0
    n_it = 0
    status = -1  # running; the loop has a single exit (a `return` or `break` inside it would keep
    # numba's reference counts on every array of this function)
    while status < 0:
        if n_it >= lm.max_iters:
            status = 2
            continue
        n_it += 1
        row = row0 + n_it - 1
        # LM normal equations (Eq. 17): (J^T J + Hp + lambda I) (-dq) = g = J^T r + W~, upper
        # triangle accumulated row by row of J (contiguous inner loops), then mirrored
        for a in range(D):
            for b in range(a, D):
                H[a, b] = Hp[a, b]
            g[a] = hpe[a]
        for f in range(F):
            for a in range(D):
                Jfa = c_J[f, a]
                g[a] += c_r[f] * Jfa
                for b in range(a, D):
                    H[a, b] += Jfa * c_J[f, b]
        for a in range(D):
            H[a, a] += lam
            for b in range(a + 1, D):
                H[b, a] = H[a, b]
        # active set: coordinates on a limit whose descent direction -g points outside are held;
        # the system is solved for the others, free[:n] (all of them when none is on a limit)
        n = 0
        for i in range(D):
            if not (on_bound and ((q[i] <= lo_act[i] and g[i] > 0.0) or (q[i] >= hi_act[i] and g[i] < 0.0))):
                free[n] = i
                n += 1
        ok = _spd_solve(H, g, free, n, L, xs)
        if not ok:
            _lu_solve(H, g, free, n, L, xs)
        for i in range(D):
            neg_dq[i] = 0.0
        for a in range(n):
            neg_dq[free[a]] = xs[a]
        step_max, sg = 0.0, 0.0
        for i in range(D):
            q_new[i] = min(max(q[i] - neg_dq[i], lo[i]), hi[i])  # projection onto the limits
            step[i] = q_new[i] - q[i]
            step_max = max(step_max, abs(step[i]))
            sg += step[i] * g[i]
        # decrease predicted by the Gauss-Newton model of E_t (B23) for the projected step:
        # -step.g - (step^T Hp step + |J step|^2) / 2
        quad = 0.0
        if lm.hp_diagonal:
            for a in range(D):
                quad += Hp[a, a] * step[a] * step[a]
        else:
            for a in range(D):
                s = 0.0
                for b in range(D):
                    s += Hp[a, b] * step[b]
                quad += step[a] * s
        for f in range(F):
            s = 0.0
            for a in range(D):
                s += c_J[f, a] * step[a]
            quad += s * s
        pred = -sg - 0.5 * quad
        if pred <= lm.energy_rtol * E + lm.energy_atol or step_max < lm.step_tol:
            if trace_on:
                trace[row, 0], trace[row, 1], trace[row, 2], trace[row, 3], trace[row, 4] = E, np.nan, 0.0, lam, k_start
            status = 0
            continue
        # E_t at the candidate with fresh nearest neighbours (the next linearisation if accepted)
        _tips(q_new, ch, Rw, pw, S, Js)
        E_cn = _contact(S, Js, Ro, to, att, tree, planes, cp, n_d, n_r, n_J, n_en, n_idx,
                        sn, sb, c_idx)
        E_new = E_cn + _prior(q_new, m, Hp, e, hpe_new, lm.hp_diagonal) + c
        if trace_on:
            trace[row, 0], trace[row, 1], trace[row, 3], trace[row, 4] = E, E_new, lam, k_start
            trace[row, 2] = 1.0 if E_new <= E else 0.0
        if E_new <= E:  # accept, trust the model more
            dec = E - E_new
            for a in range(D):  # plain loops: a slice assignment would copy through a temporary
                q[a], hpe[a] = q_new[a], hpe_new[a]
            for f in range(F):
                c_d[f], c_r[f], c_en[f], c_idx[f] = n_d[f], n_r[f], n_en[f], n_idx[f]
                for a in range(D):
                    c_J[f, a] = n_J[f, a]
            E, E_c = E_new, E_cn
            on_bound = _on_bound(q, mid, half)
            lam *= lm.lambda_down
            if dec <= lm.energy_rtol * E + lm.energy_atol:
                status = 0
        else:  # reject, damp more
            lam = max(lam * lm.lambda_up, lm.lambda_floor)
            if lam > lm.lambda_max:
                status = 1
    return E, E_c, status, n_it


@njit(cache=True, nogil=True, error_model="numpy")
def refine_frames(q_gen, q_init, poses, mask, ch, tree, planes, cp, lm, restart, Hp, m_gen, M1, Ma,
                  Wg, Wv, Wa, lo, hi, S0, J0, trace_on):
    """The frame loop of Algorithm 1 (see :mod:`unihm_core.refine.solver`; same rules, same order).

    Inputs as the reference loop prepares them: ``q_init = clip(q_gen)``, ``S0, J0`` its
    fingertip kinematics, ``mask`` the contact schedule, ``Hp`` the priors' Hessian, ``m_gen,
    M1, Ma`` the priors' minimiser ``m_t = m_gen[t] + M1 q_{t-1} - Ma q_{t-2}``, ``restart``
    (``RefineConfig.restart_from_previous``).

    Returns ``(q_opt (T, D), status (T,) codes of STATUS_NAMES, iters (T,), e_contact (T, F),
    e_contact_total (T,), e_prior (T, 3) [E_gen, E_vel, E_acc], e_init (T,), dist (T, F),
    dist0 (T, F), trace)``, all of each frame's final iterate except ``e_init`` and ``dist0``
    (its first iterate); ``trace`` is ``(T, 2 max_iters, 5)`` rows ``[E, E_candidate, accepted,
    lambda, start]`` when ``trace_on`` (unused rows NaN), else ``(T, 1, 5)`` NaN.
    """
    T, D = q_gen.shape
    F = mask.shape[1]
    w = new_work(len(ch.parent), F, D)
    q_opt, status, iters = np.empty((T, D)), np.empty(T, np.int64), np.zeros(T, np.int64)
    e_contact, e_ctot, e_prior, e_init = np.empty((T, F)), np.empty(T), np.empty((T, 3)), np.empty(T)
    dist, dist0 = np.empty((T, F)), np.empty((T, F))
    trace = np.full((T, 2 * lm.max_iters if trace_on else 1, 5), np.nan)
    lo_act, hi_act = lo + 1e-12, hi - 1e-12
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) - 1e-12
    q_best, d_best, en_best = np.empty(D), np.empty(F), np.empty(F)
    idx_prev = np.full(F, -1, np.int64)  # nearest neighbours of the previous frame's result: search guesses
    idx_best = np.empty(F, np.int64)
    m = np.empty(D)  # minimiser of the priors at the frame
    for t in range(T):
        Ro, to = poses[t, :3, :3], poses[t, :3, 3]
        att = mask[t]
        qg = q_gen[t]
        q1 = q_opt[t - 1] if t >= 1 else q_gen[0]
        q2 = q_opt[t - 2] if t >= 2 else q_gen[0]
        c = _frame_prior(qg, q1, q2, m_gen[t], M1, Ma, Wg, Wv, Wa, m, w.e, lm.hp_diagonal)
        # Algorithm 1, line 3: start from the clamped generated frame
        w.q[:] = q_init[t]
        E_c = _contact(S0[t], J0[t], Ro, to, att, tree, planes, cp, w.c_d, w.c_r, w.c_J, w.c_en, w.c_idx,
                       w.sn, w.sb, idx_prev)
        e_init[t] = E_c + _prior(w.q, m, Hp, w.e, w.hpe, lm.hp_diagonal) + c
        dist0[t] = w.c_d
        E, E_c, st, n_it = _lm(w, E_c, m, c, Ro, to, att, ch, tree, planes, cp, lm, Hp, lo, hi, lo_act,
                               hi_act, mid, half, trace_on, trace[t], 0, 0)
        q_best[:], d_best[:], en_best[:], idx_best[:] = w.q, w.c_d, w.c_en, w.c_idx
        if restart and t >= 1:  # second start: the previous refined frame
            w.q[:] = q1
            _tips(w.q, ch, w.Rw, w.pw, w.S, w.Js)
            E_cb = _contact(w.S, w.Js, Ro, to, att, tree, planes, cp, w.c_d, w.c_r, w.c_J, w.c_en, w.c_idx,
                            w.sn, w.sb, idx_prev)
            E_b, E_cb, st_b, n_b = _lm(w, E_cb, m, c, Ro, to, att, ch, tree, planes, cp, lm, Hp, lo, hi,
                                       lo_act, hi_act, mid, half, trace_on, trace[t], n_it, 1)
            n_it += n_b
            if E_b < E:
                E, E_c, st = E_b, E_cb, st_b
                q_best[:], d_best[:], en_best[:], idx_best[:] = w.q, w.c_d, w.c_en, w.c_idx
        idx_prev[:] = idx_best
        q_opt[t] = q_best
        status[t] = st
        iters[t] = n_it
        e_contact[t] = en_best
        e_ctot[t] = E_c
        dist[t] = d_best
        # the three priors of the final iterate (Eq. 14, 15), each on its own
        e_prior[t, 0], e_prior[t, 1], e_prior[t, 2] = _prior_terms(q_best, qg, q1, q2, Wg, Wv, Wa, w.e,
                                                                   lm.hp_diagonal)
    return q_opt, status, iters, e_contact, e_ctot, e_prior, e_init, dist, dist0, trace

