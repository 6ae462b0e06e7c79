"""Antipodal top-down grasps for the parallel-jaw gripper's carried sequences.

Why. The robot sequences are retargeted from the synthetic human: each robot hand follows the
human's wrist and fingertips. For a parallel-jaw gripper that is the wrong recipe. Following a
human power wrap puts a bottle *beside* both jaws, or drives the palm housing into a cracker
box's top. On a fresh 40-sequence build (seed 7) the Panda's retargeted carried sequences held
their object in 0 of 24 executions (:mod:`unihm_core.sim.execution`), and 11 of them were
knocked over during the approach. A gripper picks the way grippers do. It chooses an antipodal
pair of contacts across the object's narrowest horizontal width, comes down from above with the
jaws open, closes on the object and lifts. This module builds that motion on the human
sequence's own timing and object trajectory. So the plan, the instructions and the object's
motion stay those of the sequence, and only the gripper's motion differs.

Grasp (at the *anchor* frame ``a``, the last frame before the object first moves, on the
object's surface samples in world coordinates):

* **Height (top grasp).** The tool centre point (TCP, the centre between the fingertips) goes
  :data:`BELOW_TOP` under the object's top. It never goes lower than :data:`MIN_TCP_HEIGHT`,
  which keeps the fingertips off the table. The pads then cover the object's top few
  centimetres, and the palm housing (4.2 cm above the TCP) stays clear of it.
* **Yaw.** The jaw axis is turned in :data:`YAW_STEPS` steps over 180 degrees. For each
  direction ``u`` the slice of surface points the pads reach is measured: its width along ``u``
  and its middle. The narrowest slice that fits the open gripper (:data:`MAX_WIDTH`, the 8 cm
  stroke less the pads and a margin) wins. The TCP goes to the slice's middle, along ``u`` and
  along the perpendicular ``v``. With surface normals the grasp heights from there down by 1 cm are
  tried too, and a direction's *quality* is how well the normals at its two extreme sides point
  along the jaw axis (a tapered shoulder or a ball above its equator would squeeze the object
  out); the best quality wins, then the narrowest width.
* **Side grasp** (:func:`side_grasp`): for a tall object, whose top few centimetres are a cap or
  a shoulder, the hand comes in horizontally at mid-height. It is chosen when its quality beats
  the top grasp's.
* **Closing.** The finger joint closes to :data:`SQUEEZE` inside the measured half-width. The
  execution check's squeeze then presses a few millimetres more, as a position-controlled
  gripper does.

Trajectory (``T`` frames, the sequence's timing): the gripper comes down over the first
:data:`APPROACH_SHARE` of frames ``0..a``, from :data:`PREGRASP_HEIGHT` above the grasp, jaws
open. It closes over the rest of them. While the object moves (and through short pauses, as in
:func:`unihm_core.data.carry.rigid_carry`) the grasp is carried rigidly in the object's frame,
``W(t) = P(t) P(a)^-1 W(a)``. After the object's last motion the jaws open over
:data:`RELEASE_FRAMES` frames and the gripper rises to :data:`PREGRASP_HEIGHT` above where it
let go, provided the object ends resting (within :data:`RESTING` of its start height); an object
left in the air (a hand-over's) stays held to the end.

"Pads" below means the fingers' inner contact faces: the tip sphere's inner surface, 2.5 mm
inside the finger joint's value (:data:`PAD_INSET`). Until 2026-12-04 the project's Panda fingers
were capsules that leaned outwards by 7.5 mm towards the tip, so a finger touched with one point
near its base and could not resist the object turning about the squeeze axis (measured: a 5 x 15
x 6 cm box grasped 3-5 cm off its centre of mass pivoted 20-25 deg and was lost). The fingers are
now straight and parallel, as the real Panda's are (the finger joint's origin sits 7.5 mm out, the
tip straight above it, so every tip position is unchanged), and a finger touches along a line. On
the 20 carried and slid sequences of a fresh 40-sequence build (seed 7) whose object fits the
stroke, the antipodal grasps then held 14 of 20 (9 of 20 with the leaning fingers, at the
execution check's 8,000 N/m jaw stiffness).

An object wider than the stroke in every direction has no antipodal top grasp:
:func:`gripper_trajectory` returns None, and the caller keeps the retargeted motion (which the
simulation check then judges). Pushes, pulls and articulated tasks keep the retargeted motion
too. Their contacts are pushes, not grasps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.data.carry import anchor_span
from unihm_core.data.motions import min_jerk
from unihm_core.hands.model import HandModel, wrist_pose_to_q
from unihm_core.hands.retarget import nearest_euler

CARRIED_TASKS = ("grab", "pick_place", "handover", "pour", "rotate")
GRIPPERS = ("panda_gripper",)
TCP_OFFSET = 0.1034  # [m] hand origin -> TCP along the hand's z (the spec's panda_hand_tcp_joint)
PAD_BELOW_TCP = 0.0075  # [m] the pads reach this far below the TCP
PAD_ABOVE_TCP = 0.0375  # [m] ... and this far above it
HEIGHT_STEP = 0.005  # [m] grasp heights tried, from BELOW_TOP under the top down by 1 cm
MIN_SIDE_HEIGHT = 0.035  # [m] side grasp: the housing (5.5 cm tall when horizontal) stays off the table
PAD_HALF_WIDTH = 0.01  # [m] half the pad's width (across the fingers)
PALM_FACE = 0.061  # [m] the housing's face, along the hand's z
PAD_MIDDLE = 0.088  # [m] the pads' middle, along the hand's z
CONTACT_BAND = 0.003  # [m] surface points this close to a pad's extreme count as its contact
BELOW_TOP = 0.03  # [m] TCP below the object's top
MIN_TCP_HEIGHT = 0.012  # [m] fingertip spheres (1 cm) stay above the table
MAX_WIDTH = 0.068  # [m] widest slice grasped: inner pad faces 7.5 cm apart when open, 3.5 mm margin per side
PAD_INSET = 0.0025  # [m] inner pad face = finger joint value - this (the tip sphere's inner surface)
SQUEEZE = 0.002  # [m] closing target inside the surface
YAW_STEPS = 12
APPROACH_SHARE = 0.6
PREGRASP_HEIGHT = 0.10  # [m]
RELEASE_FRAMES = 6
RESTING = 0.01  # [m] an object ending higher than this above its start is not resting: no release


@dataclass(frozen=True)
class AntipodalGrasp:
    """An antipodal gripper grasp, from the top or the side, at the anchor frame (world coordinates, [m]).

    Attributes:
        tcp: ``(3,)`` the tool centre point.
        jaw_axis: ``(3,)`` horizontal unit vector along which the jaws close.
        width: the object's width between the pads.
        wrist: ``(4, 4)`` the hand's root pose.
        finger: the finger joint's closing target [m].
        quality: how well the contact normals point along the jaw axis (1: exactly; module docstring).
        kind: ``"top"`` or ``"side"``.
    """

    tcp: np.ndarray
    jaw_axis: np.ndarray
    width: float
    wrist: np.ndarray
    finger: float
    quality: float = 1.0
    kind: str = "top"


def top_grasp(points_world: np.ndarray, normals_world: np.ndarray | None = None) -> AntipodalGrasp | None:
    """The best antipodal top grasp of an object given by surface samples ``(N, 3)`` (and their
    outward normals) in world coordinates (module docstring), or None when nothing fits the stroke."""
    P = np.asarray(points_world, float)
    Nrm = None if normals_world is None else np.asarray(normals_world, float)
    top = float(P[:, 2].max())
    lo = max(top - BELOW_TOP - 0.01, MIN_TCP_HEIGHT)
    heights = np.arange(max(top - BELOW_TOP, MIN_TCP_HEIGHT), lo - 1e-9, -HEIGHT_STEP) if Nrm is not None \
        else np.array([max(top - BELOW_TOP, MIN_TCP_HEIGHT)])
    best = None
    for z in heights:
        passed = P[:, 2] >= z - PAD_BELOW_TCP  # what the open jaws slide past
        pad = passed & (P[:, 2] <= z + PAD_ABOVE_TCP)  # what the pads touch
        if pad.sum() < 8:
            continue
        for k in range(YAW_STEPS):
            th = np.pi * k / YAW_STEPS
            u = np.array([np.cos(th), np.sin(th), 0.0])
            v = np.array([-np.sin(th), np.cos(th), 0.0])
            a_all = P[passed] @ u
            if a_all.max() - a_all.min() > MAX_WIDTH:
                continue
            a = P[pad] @ u
            width = float(a.max() - a.min())
            quality = 1.0
            if Nrm is not None:  # the contact normals should point along the jaw axis
                n = Nrm[pad] @ u
                right, left = a >= a.max() - CONTACT_BAND, a <= a.min() + CONTACT_BAND
                quality = float(min(n[right].mean(), -n[left].mean()))
            key = (round(quality, 1), -width)
            if best is None or key > best[0]:
                b = P[pad] @ v
                best = (key, z, width, u, 0.5 * (a.max() + a.min()), 0.5 * (b.max() + b.min()))
    if best is None:
        return None
    _, z, width, u, cu, cv = best
    v = np.array([-u[1], u[0], 0.0])
    tcp = cu * u + cv * v + np.array([0.0, 0.0, z])
    z_hand = np.array([0.0, 0.0, -1.0])  # fingers point down
    R = np.stack([np.cross(u, z_hand), u, z_hand], axis=1)  # columns: hand x, y (jaw axis), z
    W = np.eye(4)
    W[:3, :3] = R
    W[:3, 3] = tcp - TCP_OFFSET * z_hand
    finger = width / 2 + PAD_INSET - SQUEEZE
    return AntipodalGrasp(tcp, u, width, W, float(finger), quality=best[0][0])


def side_grasp(points_world: np.ndarray, normals_world: np.ndarray) -> AntipodalGrasp | None:
    """The best antipodal *side* grasp (hand horizontal, jaws closing horizontally), or None.

    For tall objects, whose top few centimetres (all a top grasp reaches under the palm housing)
    are a cap or a tapered shoulder. The TCP goes to the object's mid-height (at least
    :data:`MIN_SIDE_HEIGHT`, which keeps the housing off the table), and the object's centre sits
    between the pads, as deep in the jaws as the housing allows.
    """
    P = np.asarray(points_world, float)
    Nrm = np.asarray(normals_world, float)
    top, bottom = float(P[:, 2].max()), float(P[:, 2].min())
    z = float(np.clip(0.5 * (top + bottom), MIN_SIDE_HEIGHT, top - 0.01))
    band = np.abs(P[:, 2] - z) <= PAD_HALF_WIDTH
    if band.sum() < 8:
        return None
    best = None
    for k in range(2 * YAW_STEPS):
        th = np.pi * k / YAW_STEPS
        d = np.array([np.cos(th), np.sin(th), 0.0])  # approach direction (hand z)
        u = np.array([-np.sin(th), np.cos(th), 0.0])  # jaw axis (hand y)
        a = P[band] @ u
        width = float(a.max() - a.min())
        if width > MAX_WIDTH:
            continue
        n = Nrm[band] @ u
        right, left = a >= a.max() - CONTACT_BAND, a <= a.min() + CONTACT_BAND
        quality = float(min(n[right].mean(), -n[left].mean()))
        depth_near = float((P[band] @ d).min())
        key = (round(quality, 1), -width)
        if best is None or key > best[0]:
            best = (key, d, u, width, 0.5 * (a.max() + a.min()), depth_near, float((P[band] @ d).mean()))
    if best is None:
        return None
    (quality, _), d, u, width, cu, near, mid = best
    # object's middle along d at hand depth PAD_MIDDLE, or deeper out so the housing stays clear
    centre_depth = max(PAD_MIDDLE, PALM_FACE + 0.005 + (mid - near))
    if centre_depth > TCP_OFFSET:
        return None
    tcp = cu * u + (mid + TCP_OFFSET - centre_depth) * d + np.array([0.0, 0.0, z])
    x = np.cross(u, d)
    R = np.stack([x, u, d], axis=1)
    W = np.eye(4)
    W[:3, :3] = R
    W[:3, 3] = tcp - TCP_OFFSET * d
    return AntipodalGrasp(tcp, u, width, W, float(width / 2 + PAD_INSET - SQUEEZE), quality=quality, kind="side")


def _lifted(W: np.ndarray, dz: float) -> np.ndarray:
    out = W.copy()
    out[2, 3] += dz
    return out


def _backed_off(W: np.ndarray, dist: float) -> np.ndarray:
    """``W`` moved ``dist`` back along its approach axis (the hand's z)."""
    out = W.copy()
    out[:3, 3] -= dist * W[:3, 2]
    return out


def gripper_trajectory(model: HandModel, points_obj: np.ndarray, object_poses: np.ndarray, moving: np.ndarray,
                       task: str, normals_obj: np.ndarray | None = None) -> tuple[np.ndarray, AntipodalGrasp] | None:
    """``(T, D)`` joint trajectory of a parallel-jaw gripper for a carried task (module docstring),
    with its grasp; None for other tasks, a static object, or an object too wide for the stroke.

    Args:
        model: the gripper's :class:`~unihm_core.hands.HandModel` (6 wrist + 1 finger joint).
        points_obj: ``(N, 3)`` surface samples of the object in its own frame [m].
        object_poses: ``(T, 4, 4)`` world poses of the object.
        moving: ``(T,)`` bool, the frames in which the object moves.
        task: the sequence's task.
        normals_obj: ``(N, 3)`` outward normals of ``points_obj``; with them the grasp height is
            chosen for contact normals along the jaw axis.
    """
    if task not in CARRIED_TASKS or model.finger_dof != 1:
        return None
    P = np.asarray(object_poses, float)
    T = len(P)
    span = anchor_span(moving)
    if span is None:
        return None
    a, last = span
    pts = np.asarray(points_obj, float) @ P[a, :3, :3].T + P[a, :3, 3]
    nrm = None if normals_obj is None else np.asarray(normals_obj, float) @ P[a, :3, :3].T
    grasp = top_grasp(pts, nrm)
    if nrm is not None:
        side = side_grasp(pts, nrm)
        if side is not None and (grasp is None or side.quality > grasp.quality):
            grasp = side
    if grasp is None:
        return None
    nw = model.n_wrist
    f_open = float(model.upper[nw])
    f_closed = float(np.clip(grasp.finger, model.lower[nw], model.upper[nw]))
    wrists = np.empty((T, 4, 4))
    finger = np.full(T, f_open)
    # approach from above, then close
    n_app = max(2, int(round(APPROACH_SHARE * (a + 1))))
    s = min_jerk(n_app)
    for t in range(n_app):
        wrists[t] = _backed_off(grasp.wrist, PREGRASP_HEIGHT * (1.0 - s[t]))
    wrists[n_app:a + 1] = grasp.wrist
    n_close = a + 1 - n_app
    finger[n_app:a + 1] = f_open + (f_closed - f_open) * min_jerk(n_close + 1)[1:] if n_close > 0 else f_closed
    # carried rigidly in the object's frame from the anchor to the last motion (pauses included)
    in_obj = np.linalg.inv(P[a]) @ grasp.wrist
    wrists[a:last + 1] = P[a:last + 1] @ in_obj
    finger[a:last + 1] = f_closed
    if P[-1, 2, 3] - P[0, 2, 3] > RESTING:  # left in the air (a hand-over's object): held to the end
        wrists[last + 1:] = P[last + 1:] @ in_obj
        finger[last + 1:] = f_closed
    else:  # the object rests again: open the jaws, then rise
        n_rel = min(RELEASE_FRAMES, T - 1 - last)
        for k in range(1, n_rel + 1):
            wrists[last + k] = wrists[last]
            finger[last + k] = f_closed + (f_open - f_closed) * k / n_rel
        rest = T - 1 - last - n_rel
        s = min_jerk(rest + 1)[1:]
        for k in range(rest):
            wrists[last + n_rel + 1 + k] = _lifted(wrists[last], PREGRASP_HEIGHT * s[k])
    q = np.zeros((T, model.dof))
    q[:, :nw] = wrist_pose_to_q(wrists)
    for t in range(1, T):  # continuous Euler angles (no 2 pi jumps)
        q[t, 3:6] = nearest_euler(wrists[t, :3, :3], q[t - 1, 3:6])
    q[:, nw] = finger
    return model.clamp(q), grasp
