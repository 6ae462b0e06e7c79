"""Physical plausibility metrics of a hand trajectory against an object (App. F, physical part).

All distances use the object's oriented surface samples (points + outward normals, object
frame) and the signed point-to-plane distance to the nearest sample, the quantity the
refinement energy uses (Eq. 11), evaluated at the hand's fingertips in the object frame
given by the object poses ``T_tar(t)``.

* ``penetration_mm``: per frame, the deepest fingertip penetration (0 when none) [mm];
  summary: max and mean over frames.
* ``contact_distance_mm``: mean over *contact frames* (``schedule``, or every frame when no
  schedule is given) of the smallest absolute fingertip-surface distance [mm].
* ``jerk``: mean norm of the third finite difference of the fingertip positions, scaled by
  fps^3 [m/s^3].
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def fingertip_signed_distances(tips_world: np.ndarray, object_poses: np.ndarray, points: np.ndarray,
                               normals: np.ndarray, tree: cKDTree | None = None) -> np.ndarray:
    """``(T, F)`` signed distances [m] of world fingertips ``(T, F, 3)`` to the object surface."""
    tree = tree or cKDTree(points)
    inv = np.linalg.inv(object_poses)
    local = np.einsum("tij,tfj->tfi", inv[:, :3, :3], tips_world) + inv[:, None, :3, 3]
    _, idx = tree.query(local)
    return np.einsum("tfk,tfk->tf", local - points[idx], normals[idx])


def physical_metrics(tips_world: np.ndarray, object_poses: np.ndarray, points: np.ndarray, normals: np.ndarray,
                     fps: float = 30.0, schedule: np.ndarray | None = None) -> dict:
    """Summary metrics plus per-frame ``penetration_per_frame_mm`` (list) for plotting."""
    d = fingertip_signed_distances(np.asarray(tips_world, float), np.asarray(object_poses, float),
                                   np.asarray(points, float), np.asarray(normals, float))
    pen = np.maximum(0.0, -d.min(axis=1)) * 1000
    frames = np.ones(len(d), bool) if schedule is None else np.asarray(schedule).any(axis=1)
    contact = np.abs(d).min(axis=1)[frames] * 1000 if frames.any() else np.zeros(1)
    jerk = np.diff(np.asarray(tips_world, float), n=3, axis=0) * fps**3
    return {
        "penetration_max_mm": round(float(pen.max()), 3),
        "penetration_mean_mm": round(float(pen.mean()), 3),
        "contact_distance_mm": round(float(contact.mean()), 3),
        "jerk_m_s3": round(float(np.linalg.norm(jerk, axis=-1).mean()) if len(jerk) else 0.0, 3),
        "penetration_per_frame_mm": [round(float(x), 3) for x in pen],
    }
