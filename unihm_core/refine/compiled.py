"""Algorithm 1 compiled with numba: the same iteration as :mod:`unihm_core.refine.solver`, without
the interpreter.

Why. One LM iteration of the refinement is a handful of small computations (fingertip
kinematics of a ~30-joint tree, five nearest-neighbour queries in a few thousand points, a
30x30 Cholesky solve), a few microseconds of arithmetic. Written as numpy/pinocchio/scipy calls
from Python it costs about 90 us, nearly all of it call overhead (about 40 calls of 1-3 us).
Compiled, the whole trajectory runs in one call and an iteration costs what its arithmetic
costs. The Python loop in :mod:`unihm_core.refine.solver` stays the readable reference; it is
also what runs when a caller supplies its own kinematics (``refine(..., kinematics=...)``). The
two are tested to agree (``tests/test_refine_compiled.py``).

What is compiled, each checked against the library it replaces:

* :class:`Chain`: the hand's kinematic tree read off its pinocchio model (joint placements,
  axes, revolute/prismatic, parents; mimic joints as ``q_full[j] = mult[j] q[src[j]] + off[j]``,
  the rows of ``HandModel.mimic_map``; fingertip frames with their parent joint and placement).
  :func:`fingertip_kinematics` gives the fingertip positions and world Jacobians ``ds/dq``
  (positions as pinocchio's ``oMf``, Jacobian columns ``a_j x (s - o_j)`` for revolute and
  ``a_j`` for prismatic joints with world axis ``a_j`` and origin ``o_j``, summed into the
  state column of the joint's source coordinate times its mimic multiplier).
* :class:`KDTree`: a static k-d tree (median split on the widest extent, 8 points per leaf,
  points stored in leaf order) with an exact nearest-neighbour query (scipy ``cKDTree``'s
  answer; only exact ties may pick another of the equally near points).
* the contact terms of Eq. 11-13 / B19 (:mod:`unihm_core.refine.contact`), the kernel of
  Eq. 12 (:mod:`unihm_core.refine.kernel`, Taylor continuation included) and the Euclidean
  comparison model of Fig. B2;
* the frame loop of Algorithm 1 (:func:`refine_frames`): priors as one quadratic with the
  constant Hessian ``Hp``, LM normal equations solved by Cholesky (LU fallback if not positive
  definite), the active set on joint limits, the projection, damping rule and the three stops,
  exactly as the reference loop documents them.

Compilation. The functions are compiled on first use and cached on disk next to this file
(numba ``cache=True``), so only the first call on a machine pays for compilation (about 10-20 s
on two cores); :func:`warm_up` does it ahead of time (the app calls it at start-up).
"""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import numpy as np
from numba import njit

from unihm_core.refine.kernel import EXP_CAP

LEAF_SIZE = 8
STATUS_NAMES = ("converged", "stalled", "hit_cap")  # codes 0, 1, 2 of refine_frames


# ----------------------------------------------------------------------------- kinematic tree
class Chain(NamedTuple):
    """A hand's kinematic tree as flat arrays (``nj`` joints incl. pinocchio's universe at 0,
    ``F`` fingertips, ``D`` state coordinates); see the module docstring."""

    parent: np.ndarray  # (nj,) int64, parent joint (parent[j] < j)
    place_R: np.ndarray  # (nj, 3, 3) joint placement in the parent joint frame
    place_p: np.ndarray  # (nj, 3)
    axis: np.ndarray  # (nj, 3) unit axis in the joint frame
    prismatic: np.ndarray  # (nj,) bool
    src: np.ndarray  # (nj,) int64, state coordinate driving the joint
    mult: np.ndarray  # (nj,) mimic multiplier (1 for an actuated joint)
    off: np.ndarray  # (nj,) mimic offset
    tip_joint: np.ndarray  # (F,) int64, joint the fingertip frame hangs on
    tip_R: np.ndarray  # (F, 3, 3) fingertip frame placement in that joint's frame
    tip_p: np.ndarray  # (F, 3)
    support: np.ndarray  # (F, nj) int64, the fingertip's ancestor joints, -1 padded
    dof: int


_AXES = {"RX": (0, False), "RY": (1, False), "RZ": (2, False), "PX": (0, True), "PY": (1, True), "PZ": (2, True)}


def chain_from_hand(hand) -> Chain:
    """Read :class:`Chain` off ``hand.model`` (pinocchio) and ``hand.mimic_map``."""
    m = hand.model
    A, b = hand.mimic_map
    nj = m.njoints
    parent = np.zeros(nj, np.int64)
    place_R = np.tile(np.eye(3), (nj, 1, 1))
    place_p = np.zeros((nj, 3))
    axis = np.zeros((nj, 3))
    prismatic = np.zeros(nj, bool)
    src = np.zeros(nj, np.int64)
    mult = np.zeros(nj)
    off = np.zeros(nj)
    for j in range(1, nj):
        jm = m.joints[j]
        kind = jm.shortname().replace("JointModel", "")
        if kind in _AXES:
            i, prismatic[j] = _AXES[kind]
            axis[j, i] = 1.0
        elif kind in ("RevoluteUnaligned", "PrismaticUnaligned"):
            axis[j] = np.asarray(jm.extract().axis, float)
            axis[j] /= np.linalg.norm(axis[j])
            prismatic[j] = kind.startswith("Prismatic")
        else:
            raise ValueError(f"hand {hand.name!r}: joint {m.names[j]!r} of type {kind} is not supported by the "
                             "compiled refinement (1-DoF revolute or prismatic only)")
        parent[j] = m.parents[j]
        M = m.jointPlacements[j]
        place_R[j], place_p[j] = M.rotation, M.translation
        row = A[jm.idx_q]
        nz = np.flatnonzero(row)
        if len(nz) != 1:
            raise ValueError(f"hand {hand.name!r}: joint {m.names[j]!r} is driven by {len(nz)} state coordinates")
        src[j], mult[j], off[j] = nz[0], row[nz[0]], b[jm.idx_q]
    F = len(hand.fingertip_links)
    tip_joint = np.zeros(F, np.int64)
    tip_R = np.zeros((F, 3, 3))
    tip_p = np.zeros((F, 3))
    support = np.full((F, nj), -1, np.int64)
    for f, name in enumerate(hand.fingertip_links):
        frame = m.frames[m.getFrameId(name)]
        tip_joint[f] = frame.parentJoint
        tip_R[f], tip_p[f] = frame.placement.rotation, frame.placement.translation
        chain, j = [], int(frame.parentJoint)
        while j > 0:
            chain.append(j)
            j = int(parent[j])
        support[f, :len(chain)] = chain[::-1]
    return Chain(parent, np.ascontiguousarray(place_R), place_p, axis, prismatic, src, mult, off, tip_joint,
                 np.ascontiguousarray(tip_R), tip_p, support, int(hand.dof))


_CHAINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def chain_for(hand) -> Chain:
    """:func:`chain_from_hand`, cached per hand model."""
    ch = _CHAINS.get(hand)
    if ch is None:
        ch = _CHAINS[hand] = chain_from_hand(hand)
    return ch


@njit(cache=True)
def _forward(q, ch, Rw, pw):
    """World rotation ``Rw[j]`` and origin ``pw[j]`` of every joint frame (pinocchio's oMi).

    Written out in scalars: a 3x3 product through numpy's ``@`` would cost a BLAS call and an
    allocation each, more than its 27 multiplications."""
    Rj = np.empty((3, 3))
    R0 = np.empty((3, 3))
    for r in range(3):
        pw[0, r] = 0.0
        for c in range(3):
            Rw[0, r, c] = 1.0 if r == c else 0.0
    for j in range(1, len(ch.parent)):
        a = ch.parent[j]
        qj = ch.mult[j] * q[ch.src[j]] + ch.off[j]
        PR, Pp = ch.place_R[j], ch.place_p[j]
        for r in range(3):  # (R0, p0) = oMi[parent] * placement
            pw[j, r] = Rw[a, r, 0] * Pp[0] + Rw[a, r, 1] * Pp[1] + Rw[a, r, 2] * Pp[2] + pw[a, r]
            for c in range(3):
                R0[r, c] = Rw[a, r, 0] * PR[0, c] + Rw[a, r, 1] * PR[1, c] + Rw[a, r, 2] * PR[2, c]
        x, y, z = ch.axis[j, 0], ch.axis[j, 1], ch.axis[j, 2]
        if ch.prismatic[j]:
            for r in range(3):
                pw[j, r] += (R0[r, 0] * x + R0[r, 1] * y + R0[r, 2] * z) * qj
                for c in range(3):
                    Rw[j, r, c] = R0[r, c]
        else:  # R0 @ Rodrigues(axis, qj)
            cq, sq = math.cos(qj), math.sin(qj)
            C = 1.0 - cq
            Rj[0, 0], Rj[0, 1], Rj[0, 2] = cq + x * x * C, x * y * C - z * sq, x * z * C + y * sq
            Rj[1, 0], Rj[1, 1], Rj[1, 2] = y * x * C + z * sq, cq + y * y * C, y * z * C - x * sq
            Rj[2, 0], Rj[2, 1], Rj[2, 2] = z * x * C - y * sq, z * y * C + x * sq, cq + z * z * C
            for r in range(3):
                for c in range(3):
                    Rw[j, r, c] = R0[r, 0] * Rj[0, c] + R0[r, 1] * Rj[1, c] + R0[r, 2] * Rj[2, c]


@njit(cache=True)
def _tips(q, ch, Rw, pw, S, J):
    """Fingertip positions ``S`` (F, 3) and world Jacobians ``J`` (F, 3, D) at ``q`` (D,)."""
    _forward(q, ch, Rw, pw)
    J[:] = 0.0
    for f in range(len(ch.tip_joint)):
        jf = ch.tip_joint[f]
        tp = ch.tip_p[f]
        for r in range(3):
            S[f, r] = Rw[jf, r, 0] * tp[0] + Rw[jf, r, 1] * tp[1] + Rw[jf, r, 2] * tp[2] + pw[jf, r]
        for k in range(ch.support.shape[1]):
            j = ch.support[f, k]
            if j < 0:
                break
            ax = ch.axis[j]
            a0 = Rw[j, 0, 0] * ax[0] + Rw[j, 0, 1] * ax[1] + Rw[j, 0, 2] * ax[2]  # world axis
            a1 = Rw[j, 1, 0] * ax[0] + Rw[j, 1, 1] * ax[1] + Rw[j, 1, 2] * ax[2]
            a2 = Rw[j, 2, 0] * ax[0] + Rw[j, 2, 1] * ax[1] + Rw[j, 2, 2] * ax[2]
            c, m = ch.src[j], ch.mult[j]
            if ch.prismatic[j]:
                J[f, 0, c] += m * a0
                J[f, 1, c] += m * a1
                J[f, 2, c] += m * a2
            else:  # a x (s - o)
                rx, ry, rz = S[f, 0] - pw[j, 0], S[f, 1] - pw[j, 1], S[f, 2] - pw[j, 2]
                J[f, 0, c] += m * (a1 * rz - a2 * ry)
                J[f, 1, c] += m * (a2 * rx - a0 * rz)
                J[f, 2, c] += m * (a0 * ry - a1 * rx)


@njit(cache=True)
def _tips_batch(Q, ch):
    T, D = Q.shape
    nj, F = len(ch.parent), len(ch.tip_joint)
    Rw, pw = np.empty((nj, 3, 3)), np.empty((nj, 3))
    S, J = np.empty((T, F, 3)), np.empty((T, F, 3, D))
    for t in range(T):
        _tips(Q[t], ch, Rw, pw, S[t], J[t])
    return S, J


def fingertip_kinematics(chain: Chain, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fingertip positions ``(..., F, 3)`` [m] and world Jacobians ``(..., F, 3, D)`` of states
    ``Q`` ``(..., D)`` (no limit check), as :class:`~unihm_core.refine.fingertips.FingertipKinematics`."""
    Q = np.asarray(Q, float)
    flat = np.ascontiguousarray(Q.reshape(-1, chain.dof))
    S, J = _tips_batch(flat, chain)
    return S.reshape(Q.shape[:-1] + S.shape[1:]), J.reshape(Q.shape[:-1] + J.shape[1:])


# ----------------------------------------------------------------------------- k-d tree
class KDTree(NamedTuple):
    """Static k-d tree over ``N`` points (see the module docstring). Leaf nodes have
    ``left == -1`` and own ``points[start:end]`` (leaf order); ``index`` maps leaf order to the
    caller's point order."""

    points: np.ndarray  # (N, 3) in leaf order
    index: np.ndarray  # (N,) int64
    dim: np.ndarray  # (M,) int64 split coordinate
    split: np.ndarray  # (M,) split value
    left: np.ndarray  # (M,) int64, -1 for a leaf
    right: np.ndarray  # (M,) int64
    start: np.ndarray  # (M,) int64
    end: np.ndarray  # (M,) int64


@njit(cache=True)
def _select(P, perm, s, e, k, d):
    """Reorder ``perm[s:e]`` so that ``perm[k]`` holds the point with the k-th smallest coordinate
    ``d``, smaller or equal ones before it and larger or equal ones after (quickselect, Hoare
    partition around a median of three)."""
    lo, hi = s, e - 1
    while hi > lo:
        a, b, c = P[perm[lo], d], P[perm[(lo + hi) // 2], d], P[perm[hi], d]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi
        while i <= j:
            while P[perm[i], d] < pivot:
                i += 1
            while P[perm[j], d] > pivot:
                j -= 1
            if i <= j:
                perm[i], perm[j] = perm[j], perm[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True)
def _kd_build(P, leaf_size):
    N = P.shape[0]
    perm = np.arange(N)
    M = 2 * N + 1  # a binary tree with non-empty leaves has at most 2N - 1 nodes
    dim, split = np.zeros(M, np.int64), np.zeros(M)
    left, right = np.full(M, -1, np.int64), np.full(M, -1, np.int64)
    start, end = np.zeros(M, np.int64), np.zeros(M, np.int64)
    stack = np.empty(M, np.int64)
    n_nodes, top = 1, 1
    start[0], end[0], stack[0] = 0, N, 0
    while top > 0:
        top -= 1
        node = stack[top]
        s, e = start[node], end[node]
        if e - s <= leaf_size:
            continue
        lo, hi = P[perm[s]].copy(), P[perm[s]].copy()
        for i in range(s + 1, e):
            for c in range(3):
                v = P[perm[i], c]
                lo[c] = min(lo[c], v)
                hi[c] = max(hi[c], v)
        ext = hi - lo
        d = int(np.argmax(ext))
        if ext[d] <= 0.0:  # all points equal: one leaf
            continue
        mid = (s + e) // 2
        _select(P, perm, s, e, mid, d)
        dim[node], split[node] = d, P[perm[mid], d]
        left[node], right[node] = n_nodes, n_nodes + 1
        start[n_nodes], end[n_nodes] = s, mid
        start[n_nodes + 1], end[n_nodes + 1] = mid, e
        stack[top], stack[top + 1] = n_nodes, n_nodes + 1
        top += 2
        n_nodes += 2
    return (P[perm].copy(), perm, dim[:n_nodes].copy(), split[:n_nodes].copy(), left[:n_nodes].copy(),
            right[:n_nodes].copy(), start[:n_nodes].copy(), end[:n_nodes].copy())


def build_kdtree(points: np.ndarray) -> KDTree:
    """:class:`KDTree` over ``points`` ``(N, 3)`` (N >= 1)."""
    P = np.ascontiguousarray(points, dtype=float)
    return KDTree(*_kd_build(P, LEAF_SIZE))


@njit(cache=True)
def _kd_nearest(tree, x0, x1, x2):
    """Index (caller's order) and squared distance of the point nearest to ``(x0, x1, x2)``."""
    stack_node = np.empty(128, np.int64)
    stack_bound = np.empty(128)
    top = 1
    stack_node[0], stack_bound[0] = 0, 0.0
    best, best_i = np.inf, -1
    pts = tree.points
    while top > 0:
        top -= 1
        node, bound = stack_node[top], stack_bound[top]
        if bound >= best:
            continue
        if tree.left[node] < 0:
            for i in range(tree.start[node], tree.end[node]):
                d0, d1, d2 = pts[i, 0] - x0, pts[i, 1] - x1, pts[i, 2] - x2
                dd = d0 * d0 + d1 * d1 + d2 * d2
                if dd < best:
                    best, best_i = dd, i
            continue
        c = tree.dim[node]
        diff = (x0 if c == 0 else (x1 if c == 1 else x2)) - tree.split[node]
        near, far = (tree.left[node], tree.right[node]) if diff < 0.0 else (tree.right[node], tree.left[node])
        stack_node[top], stack_bound[top] = far, max(bound, diff * diff)  # a lower bound for the far side
        stack_node[top + 1], stack_bound[top + 1] = near, bound
        top += 2
    return tree.index[best_i], best


@njit(cache=True)
def _kd_query_many(tree, X):
    n = X.shape[0]
    idx, dist = np.empty(n, np.int64), np.empty(n)
    for i in range(n):
        j, dd = _kd_nearest(tree, X[i, 0], X[i, 1], X[i, 2])
        idx[i], dist[i] = j, math.sqrt(dd)
    return dist, idx


def kdtree_query(tree: KDTree, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)`` of the nearest points to ``x`` ``(..., 3)``, like ``cKDTree.query``."""
    x = np.asarray(x, float)
    d, i = _kd_query_many(tree, np.ascontiguousarray(x.reshape(-1, 3)))
    return d.reshape(x.shape[:-1]), i.reshape(x.shape[:-1])


# ----------------------------------------------------------------------------- contact (Eq. 11-13, B19)
class ContactParams(NamedTuple):
    lambda_c: float
    alpha: float
    k: float
    eps2: float
    kernel_model: bool  # False: the Euclidean comparison of Fig. B2


@njit(cache=True)
def _kernel(d, alpha, k, attract):
    """``(f, f')`` of Eq. 12, as :func:`unihm_core.refine.kernel.kernel_scalar`."""
    if d >= 0.0:
        if attract:
            return 0.5 * alpha * d * d, alpha * d
        return 0.0, 0.0
    u = -k * d
    uc = min(u, EXP_CAP)
    e = math.exp(uc)
    f = alpha / (k * k) * max(math.expm1(uc) - uc, 0.0)
    f1 = alpha / k * (1.0 - e)
    if u > EXP_CAP:  # Taylor continuation beyond the cap
        f2 = alpha * e
        h = (uc - u) / k
        f = f + f1 * h + 0.5 * f2 * h * h
        f1 = f1 + f2 * h
    return f, f1


@njit(cache=True)
def _contact(S, Js, Ro, to, attract, tree, planes, points, cp, d, r, Jr, en, idx):
    """Contact terms of one frame at fingertips ``S`` (world) with Jacobians ``Js``, object pose
    ``(Ro, to)``; fills ``d, r, Jr, en, idx`` and returns the total contact energy."""
    s2 = math.sqrt(2.0 * cp.lambda_c)
    total = 0.0
    D = Js.shape[2]
    for i in range(S.shape[0]):
        y0, y1, y2 = S[i, 0] - to[0], S[i, 1] - to[1], S[i, 2] - to[2]
        x0 = Ro[0, 0] * y0 + Ro[1, 0] * y1 + Ro[2, 0] * y2  # x = R^T (s - t), object frame
        x1 = Ro[0, 1] * y0 + Ro[1, 1] * y1 + Ro[2, 1] * y2
        x2 = Ro[0, 2] * y0 + Ro[1, 2] * y1 + Ro[2, 2] * y2
        j, _ = _kd_nearest(tree, x0, x1, x2)
        idx[i] = j
        n0, n1, n2 = planes[j, 0], planes[j, 1], planes[j, 2]
        di = n0 * x0 + n1 * x1 + n2 * x2 - planes[j, 3]  # Eq. 11
        d[i] = di
        if cp.kernel_model:
            f, f1 = _kernel(di, cp.alpha, cp.k, attract[i])  # Eq. 12
            sf = math.sqrt(f)
            r[i] = s2 * sf  # Eq. 13
            ci = s2 * f1 / (2.0 * sf + cp.eps2)  # B19
            g0, g1, g2 = n0, n1, n2
        else:
            g0, g1, g2 = x0 - points[j, 0], x1 - points[j, 1], x2 - points[j, 2]
            g = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            gs = max(g, 1e-15)
            g0, g1, g2 = g0 / gs, g1 / gs, g2 / gs
            if attract[i] or di < 0.0:
                f = cp.alpha * g
                sf = math.sqrt(f)
                r[i] = s2 * sf
                ci = s2 * cp.alpha / (2.0 * sf + cp.eps2)
            else:
                f, ci = 0.0, 0.0
                r[i] = 0.0
        e = cp.lambda_c * f
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
@njit(cache=True)
def _spd_solve(H, g, n, L, x):
    """Solve ``H[:n, :n] x = g[:n]`` by Cholesky (``L`` scratch); LU when not positive definite."""
    for j in range(n):
        s = H[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            x[:n] = np.linalg.solve(H[:n, :n], g[:n])
            return
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, n):
            s = H[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    for i in range(n):  # L y = g
        s = g[i]
        for k in range(i):
            s -= L[i, k] * x[k]
        x[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):  # L^T x = y
        s = x[i]
        for k in range(i + 1, n):
            s -= L[k, i] * x[k]
        x[i] = s / L[i, i]


@njit(cache=True)
def _quad(e, W):
    return 0.5 * (e @ (W @ e))


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
    L: np.ndarray  # (D, D) its Cholesky factor
    Hs: np.ndarray  # (D, D) free block
    gs: np.ndarray  # (D,)
    xs: np.ndarray  # (D,)
    g: np.ndarray  # (D,) gradient of E_t
    neg_dq: np.ndarray
    q: np.ndarray  # (D,) iterate
    q_new: np.ndarray  # (D,) candidate
    hpe: np.ndarray  # (D,) W~ at q
    hpe_new: np.ndarray
    free: np.ndarray  # (D,) int64


def new_work(nj: int, F: int, D: int) -> Work:
    """Scratch for one trajectory of a hand with `nj` joints, `F` fingertips, `D` DoF."""
    e = np.empty
    return Work(e((nj, 3, 3)), e((nj, 3)), e((F, 3)), e((F, 3, D)),
                e(F), e(F), e((F, D)), e(F), e(F, np.int64), e(F), e(F), e((F, D)), e(F), e(F, np.int64),
                e((D, D)), e((D, D)), e((D, D)), e(D), e(D), e(D), e(D), e(D), e(D), e(D), e(D), e(D, np.int64))


@njit(cache=True)
def _on_bound(q, mid, half):
    for i in range(len(q)):
        if abs(q[i] - mid[i]) >= half[i]:
            return True
    return False


@njit(cache=True)
def _lm(w, E_c, m, c, Ro, to, att, ch, tree, planes, points, cp, lm, Hp, lo, hi, lo_act, hi_act, mid, half,
        trace_on, trace, row0, k_start):
    """Lines 4-11 of Algorithm 1 from ``w.q`` with contact terms ``w.c_*`` (total ``E_c``).

    Leaves the final iterate in ``w.q`` and its terms in ``w.c_*``; returns ``(E_t, contact
    energy, status code, linear solves)``. Trace rows go to ``trace[row0:]``.
    """
    D, F = len(w.q), w.c_r.shape[0]
    q, H, g, c_J, c_r = w.q, w.H, w.g, w.c_J, w.c_r
    e = q - m
    w.hpe[:] = Hp @ e  # W~ at q (Eq. 18)
    E = E_c + 0.5 * (e @ w.hpe) + c  # E_t (Eq. 16)
    on_bound = _on_bound(q, mid, half)
    lam = lm.lambda0
    n_it = 0
    while n_it < lm.max_iters:
        n_it += 1
        row = row0 + n_it - 1
        # LM normal equations (Eq. 17): (J^T J + Hp + lambda I) (-dq) = g = J^T r + W~, upper
        # triangle accumulated row by row of J (contiguous inner loops), then mirrored
        for a in range(D):
            for b in range(a, D):
                H[a, b] = Hp[a, b]
            g[a] = w.hpe[a]
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
        if on_bound:  # active set: on a limit with the descent direction -g pointing outside
            n = 0
            for i in range(D):
                if not ((q[i] <= lo_act[i] and g[i] > 0.0) or (q[i] >= hi_act[i] and g[i] < 0.0)):
                    w.free[n] = i
                    n += 1
            for a in range(n):
                w.gs[a] = g[w.free[a]]
                for b in range(n):
                    w.Hs[a, b] = H[w.free[a], w.free[b]]
            _spd_solve(w.Hs, w.gs, n, w.L, w.xs)
            w.neg_dq[:] = 0.0
            for a in range(n):
                w.neg_dq[w.free[a]] = w.xs[a]
        else:
            _spd_solve(H, g, D, w.L, w.neg_dq)
        step_max = 0.0
        for i in range(D):
            w.q_new[i] = min(max(q[i] - w.neg_dq[i], lo[i]), hi[i])  # projection onto the limits
            step_max = max(step_max, abs(w.q_new[i] - q[i]))
        step = w.q_new - q
        # decrease predicted by the Gauss-Newton model of E_t (B23) for the projected step
        jst = c_J @ step
        pred = -(step @ g) - 0.5 * (step @ (Hp @ step) + jst @ jst)
        if pred <= lm.energy_rtol * E + lm.energy_atol or step_max < lm.step_tol:
            if trace_on:
                trace[row, 0], trace[row, 1], trace[row, 2], trace[row, 3], trace[row, 4] = E, np.nan, 0.0, lam, k_start
            return E, E_c, 0, n_it
        # E_t at the candidate with fresh nearest neighbours (the next linearisation if accepted)
        _tips(w.q_new, ch, w.Rw, w.pw, w.S, w.Js)
        E_cn = _contact(w.S, w.Js, Ro, to, att, tree, planes, points, cp, w.n_d, w.n_r, w.n_J, w.n_en, w.n_idx)
        e = w.q_new - m
        w.hpe_new[:] = Hp @ e
        E_new = E_cn + 0.5 * (e @ w.hpe_new) + c
        if trace_on:
            trace[row, 0], trace[row, 1], trace[row, 3], trace[row, 4] = E, E_new, lam, k_start
            trace[row, 2] = 1.0 if E_new <= E else 0.0
        if E_new <= E:  # accept, trust the model more
            dec = E - E_new
            q[:] = w.q_new
            w.c_d[:], c_r[:], c_J[:], w.c_en[:], w.c_idx[:] = w.n_d, w.n_r, w.n_J, w.n_en, w.n_idx
            E, E_c = E_new, E_cn
            w.hpe[:] = w.hpe_new
            on_bound = _on_bound(q, mid, half)
            lam *= lm.lambda_down
            if dec <= lm.energy_rtol * E + lm.energy_atol:
                return E, E_c, 0, n_it
        else:  # reject, damp more
            lam = max(lam * lm.lambda_up, lm.lambda_floor)
            if lam > lm.lambda_max:
                return E, E_c, 1, n_it
    return E, E_c, 2, n_it


@njit(cache=True)
def refine_frames(q_gen, q_init, poses, mask, ch, tree, planes, points, cp, lm, restart, Hp, m_gen, M1, Ma,
                  Wg, Wv, Wa, lo, hi, S0, J0, w, trace_on, q_opt, status, iters, e_contact, e_init, dist, dist0,
                  trace):
    """The frame loop of Algorithm 1 (see :mod:`unihm_core.refine.solver`; same rules, same order).

    Inputs as the reference loop prepares them: ``q_init = clip(q_gen)``, ``S0, J0`` its
    fingertip kinematics, ``mask`` the contact schedule, ``Hp`` the priors' Hessian, ``m_gen,
    M1, Ma`` the priors' minimiser ``m_t = m_gen[t] + M1 q_{t-1} - Ma q_{t-2}``, ``restart``
    (``RefineConfig.restart_from_previous``), ``w`` scratch (:class:`Work`). Fills ``q_opt,
    status, iters, e_contact, e_init, dist, dist0`` and, when ``trace_on``, ``trace`` ``(T,
    2 max_iters, 5)`` rows ``[E, E_candidate, accepted, lambda, start]`` (unused rows stay NaN).
    Returns the total contact energy of each frame's final iterate ``(T,)``.
    """
    T, D = q_gen.shape
    e_ctot = np.empty(T)
    lo_act, hi_act = lo + 1e-12, hi - 1e-12
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) - 1e-12
    q_best, d_best, en_best = np.empty(D), np.empty(e_contact.shape[1]), np.empty(e_contact.shape[1])
    for t in range(T):
        Ro, to = poses[t, :3, :3], poses[t, :3, 3]
        att = mask[t]
        qg = q_gen[t]
        q1 = q_opt[t - 1] if t >= 1 else q_gen[0]
        q2 = q_opt[t - 2] if t >= 2 else q_gen[0]
        m = m_gen[t] + M1 @ q1 - Ma @ q2  # minimiser of the priors at this frame
        ev = m - q1
        c = _quad(m - qg, Wg) + _quad(ev, Wv) + _quad(ev - (q1 - q2), Wa)
        # Algorithm 1, line 3: start from the clamped generated frame
        w.q[:] = q_init[t]
        E_c = _contact(S0[t], J0[t], Ro, to, att, tree, planes, points, cp, w.c_d, w.c_r, w.c_J, w.c_en, w.c_idx)
        e = w.q - m
        e_init[t] = E_c + 0.5 * (e @ (Hp @ e)) + c
        dist0[t] = w.c_d
        E, E_c, st, n_it = _lm(w, E_c, m, c, Ro, to, att, ch, tree, planes, points, cp, lm, Hp, lo, hi, lo_act,
                               hi_act, mid, half, trace_on, trace[t], 0, 0)
        q_best[:], d_best[:], en_best[:] = w.q, w.c_d, w.c_en
        if restart and t >= 1:  # second start: the previous refined frame
            w.q[:] = q1
            _tips(w.q, ch, w.Rw, w.pw, w.S, w.Js)
            E_cb = _contact(w.S, w.Js, Ro, to, att, tree, planes, points, cp, w.c_d, w.c_r, w.c_J, w.c_en, w.c_idx)
            E_b, E_cb, st_b, n_b = _lm(w, E_cb, m, c, Ro, to, att, ch, tree, planes, points, cp, lm, Hp, lo, hi,
                                       lo_act, hi_act, mid, half, trace_on, trace[t], n_it, 1)
            n_it += n_b
            if E_b < E:
                E, E_c, st = E_b, E_cb, st_b
                q_best[:], d_best[:], en_best[:] = w.q, w.c_d, w.c_en
        q_opt[t] = q_best
        status[t] = st
        iters[t] = n_it
        e_contact[t] = en_best
        e_ctot[t] = E_c
        dist[t] = d_best
    return e_ctot


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every function on a tiny problem."""
    from unihm_core.hands import load_hand  # noqa: PLC0415
    from unihm_core.refine.solver import refine  # noqa: PLC0415
    from unihm_core.refine.synthetic import sphere_cloud  # noqa: PLC0415

    hand = load_hand("panda_gripper")
    pts, nrm = sphere_cloud(0.03, 64, np.random.default_rng(0))
    q = np.repeat(hand.zero()[None], 3, 0)
    poses = np.repeat(np.eye(4)[None], 3, 0)
    refine(hand, q, pts, poses, normals=nrm, backend="compiled")
    refine(hand, q, pts, poses, normals=nrm, backend="compiled", trace=True)
