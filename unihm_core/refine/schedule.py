"""Which fingertip should touch the object at which frame: the contact schedule.

The generated trajectory does not say where contact is intended, and pulling every fingertip
onto the surface at every frame would drag a hand that is still approaching (or already
released) onto the object. The schedule is therefore derived from the object's motion,
because an object that moves must be held:

1. **Motion.** Frame ``t`` is *moving* when the object pose changes by more than
   ``motion_trans_tol`` [m] or ``motion_rot_tol`` [rad] between ``t-1`` and ``t`` or
   between ``t`` and ``t+1`` (so the last rest frame before a motion counts as moving).
2. **Phases.** Maximal runs of moving frames are contact phases; two phases separated by
   at most ``lead_in + lead_out`` rest frames are merged (a hand does not release and
   regrasp in that time).
3. **Window.** A phase from first moving frame ``a`` to last moving frame ``b`` schedules
   contact on frames ``[a - lead_in, b + lead_out]`` (clipped to the trajectory): contact is
   made before the object starts to move and released after it stops.
4. **Fingertips.** Only fingertips that, in the *generated* trajectory at frame ``a``, lie
   within ``contact_radius`` [m] of the object surface (Euclidean distance to the nearest
   cloud point, or inside it by the point-to-plane sign) take part in the phase: the
   generator's grasp decides which fingers hold; the refinement only closes the gap.

Unscheduled (fingertip, frame) pairs get no contact pull, but penetration is penalised
everywhere (the inside branch of the kernel, see :mod:`unihm_core.refine.contact`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError
from unihm_core.refine.config import RefineConfig
from unihm_core.refine.surface import ObjectSurface


@dataclass(frozen=True, eq=False)
class ContactPhase:
    """One contact phase: moving frames ``first..last``, contact window ``start..end``
    (inclusive), and the indices of the fingertips that take part."""

    first: int
    last: int
    start: int
    end: int
    fingertips: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class ContactSchedule:
    """Attributes:
    mask: ``(T, F)`` bool, contact wanted for fingertip f at frame t.
    moving: ``(T,)`` bool, object moving at frame t.
    phases: the contact phases.
    source: ``"motion"`` (derived here) or ``"given"`` (passed by the caller).
    """

    mask: np.ndarray
    moving: np.ndarray
    phases: tuple[ContactPhase, ...]
    source: str = "motion"


def moving_frames(object_poses: np.ndarray, trans_tol: float, rot_tol: float) -> np.ndarray:
    """``(T,)`` bool: the object moves into or out of frame t (rule 1; one compiled pass,
    :func:`unihm_core.refine.compiled.moving_flags`)."""
    from unihm_core.refine.compiled import _plain, moving_flags  # noqa: PLC0415

    P = _plain(object_poses)
    if P.ndim != 3 or P.shape[1:] != (4, 4):
        raise InputError(f"object_poses: expected shape (T, 4, 4), got {P.shape}.")
    return moving_flags(P, float(trans_tol), float(rot_tol))


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` of True in ``flags``."""
    runs: list[tuple[int, int]] = []
    start = -1
    for t, f in enumerate(flags.tolist()):
        if f and start < 0:
            start = t
        elif not f and start >= 0:
            runs.append((start, t - 1))
            start = -1
    if start >= 0:
        runs.append((start, len(flags) - 1))
    return runs


def contact_schedule(object_poses: np.ndarray, fingertips: np.ndarray, surface: ObjectSurface,
                     config: RefineConfig) -> ContactSchedule:
    """The schedule of the module docstring.

    Args:
        object_poses: ``(T, 4, 4)`` object-to-world poses T_tar(t).
        fingertips: ``(T, F, 3)`` fingertip positions [m, world] of the generated trajectory.
        surface: the object surface (object frame).
        config: thresholds ``motion_trans_tol``, ``motion_rot_tol``, ``lead_in``,
            ``lead_out``, ``contact_radius``.
    """
    from unihm_core.refine.compiled import _plain, nearest_planes  # noqa: PLC0415

    T, F = fingertips.shape[:2]
    moving = moving_frames(object_poses, config.motion_trans_tol, config.motion_rot_tol)
    runs = _runs(moving)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] - 1 <= config.lead_in + config.lead_out:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    mask = np.zeros((T, F), bool)
    phases = []
    for a, b in merged:
        pose = object_poses[a]
        x = _plain((fingertips[a] - pose[:3, 3]) @ pose[:3, :3])  # object frame
        if not np.isfinite(x).all():
            raise InputError(f"contact schedule: fingertips or object pose at frame {a} contain NaN or inf.")
        dist, d_plane = nearest_planes(surface.kdtree, surface.leaf_planes, x)
        near = (dist <= config.contact_radius) | (d_plane < 0.0)
        start, end = max(0, a - config.lead_in), min(T - 1, b + config.lead_out)
        mask[start:end + 1, near] = True
        phases.append(ContactPhase(a, b, start, end, tuple(np.flatnonzero(near).tolist())))
    return ContactSchedule(mask, moving, tuple(phases), "motion")
