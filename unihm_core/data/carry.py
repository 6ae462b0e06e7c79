"""Rigid carrying for retargeted robot sequences.

The synthetic human hand holds the object rigidly whenever it moves (its wrist drifts
exactly 0 mm in the object frame, see :mod:`~unihm_core.data.validation`). Retargeting and
refinement solve every frame on its own, so a robot hand carrying the same object creeps
over its surface by millimetres to centimetres (measured before this step on 25 seen
sequences: Shadow palm drift median 6 mm, 90th percentile 15 mm after object-frame
retargeting and refinement; 3 of 25 Shadow sequences passed the 1 cm drift rule).

:func:`rigid_carry` restores what the demonstration does: during each run of consecutive
moving frames the robot keeps the grasp it has just before the run — fingers frozen, wrist
moved with the object, ``T_wrist(t) = T_obj(t) T_obj(a)^-1 T_wrist(a)``. After the run
the difference between the carried state and the original one at the run's last frame is
faded out linearly over :data:`BLEND_FRAMES` frames, so the release does not jump.

The anchor frame ``a`` is the last frame before the object starts to move: the grasp was
closed (and refined onto the surface) by then.
"""

from __future__ import annotations

import numpy as np

from unihm_core.hands.model import HandModel, q_to_wrist_pose
from unihm_core.hands.retarget import nearest_euler

BLEND_FRAMES = 8
MAX_PAUSE = 12


def moving_runs(moving: np.ndarray) -> list[tuple[int, int]]:
    """``[(a, b), ...]`` inclusive frame ranges of consecutive ``True`` in ``moving`` ``(T,)``."""
    m = np.concatenate([[False], np.asarray(moving, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _fill_gaps(moving: np.ndarray) -> np.ndarray:
    """Treat short pauses inside a carry (<= :data:`MAX_PAUSE` frames) as carried too: the
    object stops between lift and carry, but the hand does not let go."""
    out = moving.copy()
    runs = moving_runs(moving)
    for (_, b), (a2, _) in zip(runs[:-1], runs[1:], strict=True):
        if a2 - b - 1 <= MAX_PAUSE:
            out[b + 1:a2] = True
    return out


MIN_ANCHOR = 4  # frames before the first motion a hand's own motion needs to approach


def anchor_span(moving: np.ndarray) -> tuple[int, int] | None:
    """``(a, last)``: the anchor frame (the last one before the object first moves, pauses
    filled) and the last moving frame; None when nothing moves or ``a < MIN_ANCHOR``."""
    runs = moving_runs(_fill_gaps(np.asarray(moving, bool)))
    if not runs:
        return None
    a = max(runs[0][0] - 1, 0)
    return (a, runs[-1][1]) if a >= MIN_ANCHOR else None


def rigid_carry(model: HandModel, q: np.ndarray, object_poses: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """``(T, D)`` copy of ``q`` holding each moving run's first-frame grasp (module docstring).

    Args:
        model: the hand (its limits bound the result).
        q: ``(T, D)`` joint trajectory, 6 wrist coordinates first (world frame).
        object_poses: ``(T, 4, 4)`` world poses of the manipulated body.
        moving: ``(T,)`` bool, the frames in which the object moves.
    """
    q = np.array(q, dtype=float)
    P = np.asarray(object_poses, dtype=float)
    T = len(q)
    for a, b in moving_runs(_fill_gaps(np.asarray(moving, bool))):
        # the object moves between frames a-1 and a, so the grasp of frame a-1 is carried
        a = max(a - 1, 0)
        wrist_in_obj = np.linalg.inv(P[a]) @ q_to_wrist_pose(q[a, :6])
        carried = np.repeat(q[a][None], b - a + 1, axis=0)
        for k, pose in enumerate(P[a:b + 1] @ wrist_in_obj):
            carried[k, :3] = pose[:3, 3]
            carried[k, 3:6] = nearest_euler(pose[:3, :3], carried[k - 1, 3:6] if k else q[a, 3:6])
        offset = carried[-1] - q[b]
        q[a:b + 1] = carried
        n = min(BLEND_FRAMES, T - 1 - b)
        for k in range(1, n + 1):
            q[b + k] += offset * (1.0 - k / (n + 1))
    return model.clamp(q)
