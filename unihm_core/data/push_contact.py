"""Pushes and pulls with a flat hand behind the object, for every hand's slid sequences.

Why. The robot push and pull sequences are retargeted from the synthetic human, whose pull is
a grasp that drags. Executed in SAPIEN (:mod:`unihm_core.sim.execution`) on a fresh 40-sequence
build (seed 7) they ended within 3 cm of the planned position in 9 of 91 (robot hand, sequence)
pairs: fingertips slip over a box's top edge and lift it, a retargeted hand comes down onto the
object (knocked during the approach), or the hand loses contact halfway.

A push is a contact, not a grasp. The hand comes down *behind* the object (on the side opposite
to its motion) with the fingers straight and pointing down, the palm side facing the direction
of motion, then follows the planned translation, and rises again when the object stops. A pull
towards the viewer is the same push from the far side. The object is pushed low (fingers to just
above the table), where it does not tip.

Placement (at the anchor frame ``a``, the last frame before the object first moves; surface
samples in world coordinates; ``d`` the horizontal unit direction of the planned displacement):

* orientation: the hand's finger axis (:func:`unihm_core.data.dexterous_grasp.hand_axes`) points
  down, its palm normal along ``d``; the fingers take the hand's "open" preset pose, except
  the thumb, which takes its "power grasp" closure (tucked in front of the palm);
* height: the lowest collision sphere of the hand at :data:`PUSH_HEIGHT_SHARE` of the object's
  height, between :data:`TABLE_GAP` and :data:`MAX_LOW` above the table (a fingertip at the very
  bottom wedges under the object's edge and lifts it: measured, a pushed mustard bottle rose 3 cm);
* along ``d``: the hand's front-most collision surface (spheres below the object's top) :data:`GAP`
  behind the object's rearmost point; across ``d``: centred on the object's extent.

Trajectory: straight down from :data:`PREPUSH_HEIGHT` above the contact pose over
:data:`APPROACH_SHARE` of the frames before the motion, held there until the object moves, then
translated with the plan, ``W(t) = W(a) + (p(t) - p(a))`` (the object's planned position ``p``),
and raised by :data:`PREPUSH_HEIGHT` over the frames after the last motion.
"""

from __future__ import annotations

import numpy as np

from unihm_core.data.carry import anchor_span
from unihm_core.data.motions import min_jerk
from unihm_core.hands.model import HandModel, q_to_wrist_pose, wrist_pose_to_q
from unihm_core.hands.retarget import nearest_euler

SLID_TASKS = ("push", "pull")
GAP = 0.004  # [m] hand surface behind the object's rearmost point at the anchor frame
TABLE_GAP = 0.004  # [m] lowest collision sphere at least this far above the table
PUSH_HEIGHT_SHARE = 0.25  # ... and at this share of the object's height (a fingertip at the very
MAX_LOW = 0.03  # bottom wedges under the object and lifts it), at most MAX_LOW [m]
PREPUSH_HEIGHT = 0.10  # [m]
APPROACH_SHARE = 0.6
MIN_DISPLACEMENT = 0.01  # [m] a plan that moves less has no push direction


def push_pose(model: HandModel, points: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``(D,)`` state with the hand's palm side :data:`GAP` behind the object (surface samples
    ``(N, 3)``, world) for a push along the horizontal unit ``direction`` (module docstring)."""
    from unihm_core.data.dexterous_grasp import hand_axes  # noqa: PLC0415
    from unihm_core.hands.poses import preset_pose  # noqa: PLC0415
    from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics  # noqa: PLC0415

    ax = hand_axes(model)
    q = preset_pose(model, "open")
    if model.spec.fingers and model.spec.fingers[0] == "thumb":
        power = preset_pose(model, "power grasp")
        parent = {j.child: j for j in model.spec.joints}
        link, thumb_joints = model.spec.fingertip_links[0], set()
        while link in parent:
            j = parent[link]
            thumb_joints.add(j.mimic.joint if j.mimic is not None else j.name)
            link = j.parent
        for i, name in enumerate(model.finger_joint_names, start=model.n_wrist):
            if name in thumb_joints:
                q[i] = power[i]
    d = np.asarray(direction, float)
    down = np.array([0.0, 0.0, -1.0])
    R_h = np.stack([ax.finger, ax.palm, np.cross(ax.finger, ax.palm)], axis=1)
    R_w = np.stack([down, d, np.cross(down, d)], axis=1)
    W = np.eye(4)
    W[:3, :3] = R_w @ R_h.T
    q[:6] = wrist_pose_to_q(W[None])[0]
    hs = hand_spheres(model)
    X = sphere_kinematics(model, q[None])[0][0]
    real = ~hs.table_only
    lateral = np.cross(down, d)
    low = X[:, 2] - hs.radius  # lowest point of each sphere
    P = np.asarray(points, float)
    height = float(P[:, 2].max() - P[:, 2].min())
    dz = float(np.clip(PUSH_HEIGHT_SHARE * height, TABLE_GAP, MAX_LOW)) - low[real].min()
    below_top = (X[:, 2] + dz <= P[:, 2].max()) & real
    if not below_top.any():
        below_top = real
    front = float((X[below_top] @ d + hs.radius[below_top]).max())
    back = float((P @ d).min())
    pl = P @ lateral
    centre_l = 0.5 * (pl.max() + pl.min())
    shift = (back - GAP - front) * d + (centre_l - float(np.mean(X[real] @ lateral))) * lateral + dz * np.array([0, 0, 1.0])
    W[:3, 3] += shift
    q[:6] = wrist_pose_to_q(W[None])[0]
    return model.clamp(q)


def push_trajectory(model: HandModel, points_obj: np.ndarray, object_poses: np.ndarray, moving: np.ndarray,
                    task: str) -> np.ndarray | None:
    """``(T, D)`` push (or pull) trajectory for a slid task (module docstring); None for other
    tasks, a plan that does not move the object, or one too short to approach."""
    if task not in SLID_TASKS:
        return None
    P = np.asarray(object_poses, float)
    T = len(P)
    span = anchor_span(moving)
    if span is None:
        return None
    a, last = span
    disp = P[last, :3, 3] - P[a, :3, 3]
    disp[2] = 0.0
    if np.linalg.norm(disp) < MIN_DISPLACEMENT:
        return None
    d = disp / np.linalg.norm(disp)
    pts = np.asarray(points_obj, float) @ P[a, :3, :3].T + P[a, :3, 3]
    q_a = push_pose(model, pts, d)
    W_a = q_to_wrist_pose(q_a[None, :6])[0]
    wrists = np.repeat(W_a[None], T, axis=0)
    n_app = max(2, int(round(APPROACH_SHARE * (a + 1))))
    s = min_jerk(n_app)
    for t in range(n_app):
        wrists[t, 2, 3] += PREPUSH_HEIGHT * (1.0 - s[t])
    for t in range(a, T):
        wrists[t, :3, 3] = W_a[:3, 3] + (P[min(t, last), :3, 3] - P[a, :3, 3])
    rest = T - 1 - last
    if rest > 0:
        s = min_jerk(rest + 1)[1:]
        for k in range(rest):
            wrists[last + 1 + k, 2, 3] += PREPUSH_HEIGHT * s[k]
    q = np.repeat(q_a[None], T, axis=0)
    q[:, :6] = wrist_pose_to_q(wrists)
    for t in range(1, T):
        q[t, 3:6] = nearest_euler(wrists[t, :3, :3], q[t - 1, 3:6])
    return model.clamp(q)
