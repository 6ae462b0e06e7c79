"""Initial hand pose q0 (the VLM's ``Q_pos0`` of paper Eq. 9) for any hand.

A pre-grasp pose: the palm faces the object from ``distance`` (default 15 cm) outside its
surface along the approach direction, fingers open (:func:`unihm_core.hands.poses.preset_pose`
``"open"``). The approach mirrors the data engine's grasp choice
(:meth:`unihm_core.data.motions.HumanMotionSynthesizer.grasp_frame`):

* *side* (tall objects, height > 9 cm, except pull): the palm faces the object
  horizontally from the viewer's side (approach +y), thumb up;
* *push*: like side, palm against the near face, fingers horizontal;
* *handle* (open/close): palm towards the object's front (approach = object +y axis
  reversed, i.e. from the object's -y face), thumb up;
* *top* (everything else): palm down above the object, fingers pointing away from the
  viewer (+y).

The hand's own frame is aligned through its canonical frame
(:func:`unihm_core.hands.retarget.canonical_frame`: +z wrist -> knuckles, +y towards the
index/thumb side, +x out of the palm; made fingers-along-+z by :func:`hand_frame`), so the same rule works for every hand; the knuckle
centroid is put at the pre-grasp point. State layout: ``[tx, ty, tz, rx, ry, rz, fingers]``
with ``R = Rx Ry Rz`` (:func:`unihm_core.hands.wrist_pose_to_q`).
"""

from __future__ import annotations

import numpy as np

from unihm_core.errors import InputError

SIDE_MIN_HEIGHT = 0.09  # [m], as the data engine's side-grasp rule


def approach_frame(task: str, object_pose: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approach direction ``a`` (unit, hand -> object), finger direction and grasp point [m], world.

    The grasp point is on the object's bounding box where the approach ray enters it.
    """
    from unihm_core.planning.trajectory import resolve_task

    task = resolve_task(task)
    T = np.asarray(object_pose, dtype=np.float64)
    ext = np.asarray(size, dtype=np.float64).reshape(3)
    R = T[:3, :3]
    centre = T[:3, 3] + R @ np.array([0.0, 0.0, ext[2] / 2])
    up = np.array([0.0, 0.0, 1.0])
    if task in ("open", "close"):
        a = R @ np.array([0.0, 1.0, 0.0])
        a[2] = 0.0
        a /= np.linalg.norm(a)
        fingers = np.cross(up, a)
    elif task == "push" or (ext[2] > SIDE_MIN_HEIGHT and task != "pull"):
        a = np.array([0.0, 1.0, 0.0])
        fingers = np.cross(a, up)
    else:
        a = -up
        fingers = np.array([0.0, 1.0, 0.0])
    # distance from the centre to the box surface along -a (support of the box in that direction)
    half = 0.5 * np.abs(R.T @ a) @ ext
    return a, fingers, centre - a * half


def hand_frame(hand: str) -> tuple[np.ndarray, np.ndarray]:
    """Canonical frame (3, 3) and knuckle centroid (3,) of ``hand``, fingers along +z.

    :func:`~unihm_core.hands.retarget.canonical_frame` takes +z from the root towards the
    knuckles; for hands whose root sits level with the knuckles (Allegro: the centroid is
    ~1 mm from the root) that direction is arbitrary. When the open fingertips lie on the
    -z side of the knuckles, the frame is turned 180 degrees about its y axis (fingers +z,
    index/thumb side still +y, so +x stays out of the palm).
    """
    from unihm_core.hands import load_hand
    from unihm_core.hands.poses import preset_pose
    from unihm_core.hands.retarget import canonical_frame

    R_c, centroid = canonical_frame(hand)
    model = load_hand(hand)
    tips = model.fingertip_positions(preset_pose(model, "open", np.zeros(6)))
    if float(((tips - centroid) @ R_c[:, 2]).mean()) < -0.01:
        R_c = R_c @ np.diag([-1.0, 1.0, -1.0])
    return R_c, centroid


def initial_hand_pose(hand: str, task: str, object_pose: np.ndarray, size: np.ndarray,
                      distance: float = 0.15) -> np.ndarray:
    """Pre-grasp state ``(D,)`` of ``hand``: palm facing the object from ``distance`` [m], fingers open.

    Args:
        hand: hand name (see :func:`unihm_core.hands.available_hands`).
        task: task name or perception family (see :func:`~unihm_core.planning.trajectory.resolve_task`).
        object_pose: (4, 4) world pose of the object (origin at its base, z up).
        size: (3,) object extents [m].
        distance: palm-to-surface distance [m].
    """
    from unihm_core.hands import load_hand, wrist_pose_to_q
    from unihm_core.hands.poses import preset_pose

    if not 0.0 <= distance <= 1.0:
        raise InputError(f"pre-grasp distance must be in [0, 1] m, got {distance}")
    model = load_hand(hand)
    a, fingers, grasp_point = approach_frame(task, object_pose, size)
    x = a  # +x of the canonical frame points out of the palm, i.e. towards the object
    z = fingers - x * (fingers @ x)
    z /= np.linalg.norm(z)
    R_des = np.stack([x, np.cross(z, x), z], axis=1)
    R_c, centroid = hand_frame(hand)
    R_root = R_des @ R_c.T
    T = np.eye(4)
    T[:3, :3] = R_root
    T[:3, 3] = grasp_point - a * distance - R_root @ centroid
    return preset_pose(model, "open", wrist_pose_to_q(T))
