"""A hand's kinematic tree as flat arrays, and compiled forward kinematics with world Jacobians.

The hand's kinematic tree read off its pinocchio model (joint placements,
axes, revolute/prismatic, parents; mimic joints as ``q_full[j] = mult[j] q[src[j]] + off[j]``,
the rows of ``HandModel.mimic_map``; fingertip frames with their parent joint and placement).
:func:`fingertip_kinematics` gives the fingertip positions and world Jacobians ``ds/dq``
(positions as pinocchio's ``oMf``, Jacobian columns ``a_j x (s - o_j)`` for revolute and
``a_j`` for prismatic joints with world axis ``a_j`` and origin ``o_j``, summed into the
state column of the joint's source coordinate times its mimic multiplier).

``frames`` of :func:`chain_from_hand` put the "fingertips" anywhere on the links (the whole-hand
refinement's link spheres and palm boxes, :mod:`unihm_core.refine.hand_spheres`).
"""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import numpy as np
from numba import njit

from unihm_core.refine.arrays import _plain


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


def chain_from_hand(hand, frames=None) -> Chain:
    """Read :class:`Chain` off ``hand.model`` (pinocchio) and ``hand.mimic_map``.

    ``frames``: the points the chain's "fingertips" stand for, as ``[(link name, offset (3,) in
    that link's frame), ...]``; the hand's fingertip frames when None (the whole-hand refinement
    passes its link spheres, :mod:`unihm_core.refine.hand_spheres`)."""
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
    if frames is None:
        frames = [(name, np.zeros(3)) for name in hand.fingertip_links]
    F = len(frames)
    tip_joint = np.zeros(F, np.int64)
    tip_R = np.zeros((F, 3, 3))
    tip_p = np.zeros((F, 3))
    support = np.full((F, nj), -1, np.int64)
    for f, (name, offset) in enumerate(frames):
        frame = m.frames[m.getFrameId(name)]
        tip_joint[f] = frame.parentJoint
        R = frame.placement.rotation
        tip_R[f], tip_p[f] = R, frame.placement.translation + R @ np.asarray(offset, float)
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


@njit(cache=True, error_model="numpy", inline="always")
def _forward(q, ch, Rw, pw):
    """World rotation ``Rw[j]`` and origin ``pw[j]`` of every joint frame (pinocchio's oMi).

    Written out in scalars: a 3x3 product through numpy's ``@`` would cost a BLAS call and an
    allocation each, more than its 27 multiplications."""
    # fields bound to locals once: a namedtuple field read inside a loop costs a reference count
    parent, mult, src, off, PR, Pp, axis, prismatic = (ch.parent, ch.mult, ch.src, ch.off, ch.place_R,
                                                       ch.place_p, ch.axis, ch.prismatic)
    for r in range(3):
        pw[0, r] = 0.0
        for c in range(3):
            Rw[0, r, c] = 1.0 if r == c else 0.0
    k00 = k01 = k02 = k10 = k11 = k12 = k20 = k21 = k22 = 0.0
    for j in range(1, len(parent)):
        a = parent[j]
        qj = mult[j] * q[src[j]] + off[j]
        x, y, z = axis[j, 0], axis[j, 1], axis[j, 2]
        pris = prismatic[j]
        if not pris:  # Rodrigues(axis, qj)
            cq, sq = math.cos(qj), math.sin(qj)
            C = 1.0 - cq
            k00, k01, k02 = cq + x * x * C, x * y * C - z * sq, x * z * C + y * sq
            k10, k11, k12 = y * x * C + z * sq, cq + y * y * C, y * z * C - x * sq
            k20, k21, k22 = z * x * C - y * sq, z * y * C + x * sq, cq + z * z * C
        for r in range(3):  # row r of (R0, p0) = oMi[parent] * placement, then the joint's motion
            b0, b1, b2 = Rw[a, r, 0], Rw[a, r, 1], Rw[a, r, 2]
            c0 = b0 * PR[j, 0, 0] + b1 * PR[j, 1, 0] + b2 * PR[j, 2, 0]
            c1 = b0 * PR[j, 0, 1] + b1 * PR[j, 1, 1] + b2 * PR[j, 2, 1]
            c2 = b0 * PR[j, 0, 2] + b1 * PR[j, 1, 2] + b2 * PR[j, 2, 2]
            p = b0 * Pp[j, 0] + b1 * Pp[j, 1] + b2 * Pp[j, 2] + pw[a, r]
            if pris:
                pw[j, r] = p + (c0 * x + c1 * y + c2 * z) * qj
                Rw[j, r, 0], Rw[j, r, 1], Rw[j, r, 2] = c0, c1, c2
            else:
                pw[j, r] = p
                Rw[j, r, 0] = c0 * k00 + c1 * k10 + c2 * k20
                Rw[j, r, 1] = c0 * k01 + c1 * k11 + c2 * k21
                Rw[j, r, 2] = c0 * k02 + c1 * k12 + c2 * k22


@njit(cache=True, error_model="numpy", inline="always")
def _tips(q, ch, Rw, pw, S, J):
    """Fingertip positions ``S`` (F, 3) and world Jacobians ``J`` (F, 3, D) at ``q`` (D,)."""
    _forward(q, ch, Rw, pw)
    J[:] = 0.0
    tip_joint, tip_p, support, axis, src, mult, prismatic = (ch.tip_joint, ch.tip_p, ch.support, ch.axis, ch.src,
                                                             ch.mult, ch.prismatic)
    for f in range(len(tip_joint)):
        jf = tip_joint[f]
        for r in range(3):
            S[f, r] = Rw[jf, r, 0] * tip_p[f, 0] + Rw[jf, r, 1] * tip_p[f, 1] + Rw[jf, r, 2] * tip_p[f, 2] + pw[jf, r]
        k, n_sup = 0, support.shape[1]
        while k < n_sup and support[f, k] >= 0:  # (a loop without `break` keeps reference counting out)
            j = support[f, k]
            k += 1
            x, y, z = axis[j, 0], axis[j, 1], axis[j, 2]
            a0 = Rw[j, 0, 0] * x + Rw[j, 0, 1] * y + Rw[j, 0, 2] * z  # world axis
            a1 = Rw[j, 1, 0] * x + Rw[j, 1, 1] * y + Rw[j, 1, 2] * z
            a2 = Rw[j, 2, 0] * x + Rw[j, 2, 1] * y + Rw[j, 2, 2] * z
            c, m = src[j], mult[j]
            if prismatic[j]:
                J[f, 0, c] += m * a0
                J[f, 1, c] += m * a1
                J[f, 2, c] += m * a2
            else:  # a x (s - o)
                rx, ry, rz = S[f, 0] - pw[j, 0], S[f, 1] - pw[j, 1], S[f, 2] - pw[j, 2]
                J[f, 0, c] += m * (a1 * rz - a2 * ry)
                J[f, 1, c] += m * (a2 * rx - a0 * rz)
                J[f, 2, c] += m * (a0 * ry - a1 * rx)


@njit(cache=True, nogil=True, error_model="numpy")
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
    flat = _plain(Q.reshape(-1, chain.dof))
    S, J = _tips_batch(flat, chain)
    return S.reshape(Q.shape[:-1] + S.shape[1:]), J.reshape(Q.shape[:-1] + J.shape[1:])
