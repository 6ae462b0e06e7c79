"""Validation rules every synthetic sequence must pass (issue: data engine, item 6).

Rules, each returning a reason string when violated (the build counts rejects per reason):

* ``penetration``: no fingertip deeper than 5 mm inside the object at any frame;
* ``no_contact_while_moving``: whenever the object moves (its pose changes by more than
  0.5 mm or 0.5 degrees from the previous frame), at least two fingertips lie within 5 mm of
  the surface;
* ``drift``: while the object moves, the wrist's pose relative to the object drifts less
  than 1 cm (position of the wrist in the object frame, against its value at the first
  moving frame).

Distances are point-to-plane distances to oriented surface samples of the manipulated body
(:class:`~unihm_core.data.motions.SurfaceModel`), evaluated in the object frame, from the
fingertip's surface: a robot hand's fingertip is the centre of a sphere of its ``link_radius``
(the shape the execution check simulates), so its distance is the centre's less that radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.data.motions import SurfaceModel

MAX_PENETRATION = 0.005  # [m]
CONTACT_DISTANCE = 0.005  # [m]
MIN_CONTACTS = 2
MAX_DRIFT = 0.01  # [m]
MOVE_TRANSLATION = 0.0005  # [m]
MOVE_ROTATION = np.deg2rad(0.5)  # [rad]


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of :func:`validate_sequence`; ``reasons`` is empty when the sequence passes."""

    reasons: tuple[str, ...]
    max_penetration: float
    min_contacts_while_moving: int
    max_drift: float

    @property
    def ok(self) -> bool:
        return not self.reasons


def moving_frames(object_poses: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: the object's pose changed since the previous frame (frame 0 never)."""
    P = np.asarray(object_poses)
    dt = np.linalg.norm(np.diff(P[:, :3, 3], axis=0), axis=1)
    R_rel = np.einsum("tji,tjk->tik", P[:-1, :3, :3], P[1:, :3, :3])
    ang = np.arccos(np.clip((np.trace(R_rel, axis1=1, axis2=2) - 1) / 2, -1, 1))
    return np.concatenate([[False], (dt > MOVE_TRANSLATION) | (ang > MOVE_ROTATION)])


def fingertip_distances(fingertips: np.ndarray, object_poses: np.ndarray, surface: SurfaceModel) -> np.ndarray:
    """``(T, F)`` signed distances [m] of world fingertips to the surface (negative inside)."""
    inv = np.linalg.inv(object_poses)
    local = np.einsum("tij,tfj->tfi", inv[:, :3, :3], fingertips) + inv[:, None, :3, 3]
    return surface.signed_distance(local)


def validate_sequence(fingertips: np.ndarray, wrist_poses: np.ndarray, object_poses: np.ndarray,
                      surface: SurfaceModel, tip_radius: float = 0.0) -> ValidationReport:
    """Check the rules of the module docstring.

    Args:
        fingertips: ``(T, F, 3)`` world fingertip positions [m].
        tip_radius: the fingertips are the centres of spheres of this radius (a robot hand model's
            ``link_radius``): distances are measured from the sphere's surface. 0 for points on
            the skin (the synthetic human's keypoints).
        wrist_poses: ``(T, 4, 4)`` world wrist (root link) poses.
        object_poses: ``(T, 4, 4)`` world poses of the manipulated body.
        surface: oriented surface samples of that body in its own frame.
    """
    d = fingertip_distances(fingertips, object_poses, surface) - float(tip_radius)
    moving = moving_frames(object_poses)
    reasons = []
    max_pen = float(max(0.0, -d.min()))
    if max_pen > MAX_PENETRATION:
        reasons.append("penetration")
    contacts = (np.abs(d) <= CONTACT_DISTANCE).sum(1)
    min_contacts = int(contacts[moving].min()) if moving.any() else MIN_CONTACTS
    if moving.any() and min_contacts < MIN_CONTACTS:
        reasons.append("no_contact_while_moving")
    drift = 0.0
    if moving.any():
        rel = np.linalg.inv(object_poses[moving]) @ wrist_poses[moving]
        drift = float(np.linalg.norm(rel[:, :3, 3] - rel[0, :3, 3], axis=1).max())
        if drift > MAX_DRIFT:
            reasons.append("drift")
    return ValidationReport(tuple(reasons), max_pen, min_contacts, drift)
