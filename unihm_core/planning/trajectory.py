"""Smooth SE(3) object target trajectories per task family (the T_tar of paper Eq. 7, App. C.5).

The planner predicts *where* (pick and place); this module turns that into *how*: a
sequence of object poses ``(T, 4, 4)`` (default 64 frames at 30 fps) built from
minimum-jerk segments, the way GenH2R-style planners do and the way the synthetic
training data is made (:meth:`unihm_core.data.motions.HumanMotionSynthesizer.object_trajectory`,
whose helpers :func:`~unihm_core.data.motions.min_jerk`,
:func:`~unihm_core.data.motions.interpolate_poses` and
:func:`~unihm_core.data.motions.through_waypoints` are reused), so the inference-time
targets look like the training ones:

* **hold** (first ``hold_fraction`` ≈ 35 % of the frames; 25 % for pour): the object rests while the hand
  approaches and closes (approach + grasp phases of the data);
* **manipulation** (task dependent, below);
* **rest** (last ``rest_fraction`` ≈ 20 %; 10 % for pour): the object rests at its final pose while the
  hand releases and retreats.

Manipulation per task (same shapes as the data engine):

* ``grab``: lift ``lift_height``, hold, put back (quarter / half / quarter of the frames);
* ``pick_place``: lift ``carry_height``, carry above the place point, lower onto it;
* ``push`` / ``pull``: one minimum-jerk slide on the table to the place point;
* ``open`` / ``close``: drive the articulation joint between closed and 80 % open (a
  prismatic slide or a hinge rotation, from the object's
  :class:`~unihm_core.data.objects.JointSpec`); without a known joint, a 12 cm slide towards
  (open) or away from (close) the viewer;
* ``rotate``: lift 3 cm, turn ``rotate_angle`` about the vertical, put down;
* ``pour``: lift, tilt ``pour_angle`` about the horizontal axis across the approach
  direction (about the lifted object's centre), return, put back;
* ``handover``: one segment to the hand-over point (default 20 cm towards the viewer and
  20 cm up).

Every segment starts and ends with zero velocity and acceleration, so the concatenation is
C2-continuous and its jerk is bounded by ``60 L / t^3`` per segment (distance ``L`` [m],
duration ``t`` [s]). The object keeps its orientation except for rotate/pour/hinges.

Tasks: the data engine's nine (:data:`TASKS`) or perception's six families with the verb
(:func:`resolve_task`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from unihm_core import language
from unihm_core.errors import ConfigError, InputError

TASKS = language.TASKS
#: Tasks whose object ends where it started (the place prediction is not used for them).
RETURN_TASKS = ("grab", "rotate", "pour")
UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class TrajectoryConfig:
    """Timing [frames, s] and geometry [m, rad] of the generated object trajectories."""

    num_frames: int = 64
    fps: int = 30
    hold_fraction: float = 0.35
    rest_fraction: float = 0.2
    lift_height: float = 0.15
    carry_height: float = 0.11
    rotate_lift: float = 0.03
    rotate_angle: float = np.pi / 2
    pour_lift: float = 0.12
    pour_angle: float = np.deg2rad(90.0)
    pour_hold_fraction: float = 0.25
    pour_rest_fraction: float = 0.10
    handover_offset: tuple[float, float, float] = (0.0, -0.20, 0.20)
    default_slide: float = 0.12
    open_fraction: float = 0.8

    def __post_init__(self) -> None:
        if self.num_frames < 16:
            raise ConfigError(f"TrajectoryConfig.num_frames must be >= 16, got {self.num_frames}")
        if self.fps <= 0:
            raise ConfigError("TrajectoryConfig.fps must be > 0")
        for hold, rest in ((self.hold_fraction, self.rest_fraction),
                           (self.pour_hold_fraction, self.pour_rest_fraction)):
            if not (0 <= hold and 0 <= rest and hold + rest <= 0.7):
                raise ConfigError("TrajectoryConfig: hold and rest fractions must be >= 0 and sum to <= 0.7 "
                                  "(the manipulation needs the remaining frames)")
        if not 0 < self.open_fraction <= 1:
            raise ConfigError("TrajectoryConfig.open_fraction must be in (0, 1]")

    def phase_frames(self, task: str = "") -> tuple[int, int, int]:
        """(hold, manipulation, rest) frame counts of ``task``; they sum to ``num_frames``.

        Pouring gets shorter hold/rest phases: its tilt and return need the frames to stay
        below ~6 rad/s at 64 frames.
        """
        hf, rf = ((self.pour_hold_fraction, self.pour_rest_fraction) if task == "pour"
                  else (self.hold_fraction, self.rest_fraction))
        hold = int(round(hf * self.num_frames))
        rest = int(round(rf * self.num_frames))
        return hold, self.num_frames - hold - rest, rest


POUR_VERBS = language.POUR_VERBS  # base forms grounding reports for the rotate/pour family


def resolve_task(task: str, verb: str = "", location: str | None = None) -> str:
    """Data-engine task name from a task name or a perception family plus its verb (and the
    destination's location name); the rule is :func:`unihm_core.language.task_of`."""
    return language.task_of(task, verb, location)


def _moved(T0: np.ndarray, dp=np.zeros(3), R=np.eye(3), about: np.ndarray | None = None) -> np.ndarray:
    """``T0`` rotated by ``R`` about point ``about`` (default: its origin) and translated by ``dp``."""
    T = T0.copy()
    c = T0[:3, 3] if about is None else about
    T[:3, :3] = R @ T0[:3, :3]
    T[:3, 3] = R @ (T0[:3, 3] - c) + c + dp
    return T


def _three(n: int) -> list[int]:
    """Frame counts of a (rise, middle, fall) manipulation of ``n`` poses (``n - 1`` steps), as the data."""
    k = max(n // 4, 2)
    return [k, n - 1 - 2 * k, k]


def object_trajectory(task: str, object_pose: np.ndarray, size: np.ndarray | tuple[float, float, float], *,
                      place_xyz: np.ndarray | None = None, joint=None, joint_value: float | None = None,
                      approach: np.ndarray | None = None,
                      config: TrajectoryConfig | None = None) -> np.ndarray:
    """Object poses for the whole sequence.

    Args:
        task: one of :data:`TASKS` (or a perception family, see :func:`resolve_task`).
        object_pose: (4, 4) world pose of the manipulated body at the start (for open/close:
            the moving part at ``joint_value``).
        size: (3,) object extents [m] (x, y, z of its frame; z = height).
        place_xyz: (3,) where the object origin ends [m], world. Used by pick_place, push,
            pull, handover; grab / rotate / pour return to the start xy unless it is given.
            Push/pull use only its x, y. Default: per-task (10 cm slide, hand-over point, ...).
        joint: articulation (``kind``, ``axis``, ``origin``, ``lower``, ``upper``, ``transform(v)``,
            e.g. :class:`~unihm_core.data.objects.JointSpec`) for open/close.
        joint_value: current joint value ([m] or [rad]) of ``joint``; default closed for
            open, ``open_fraction`` open for close.
        approach: (3,) unit direction the hand moves towards the object (default +y, away
            from the viewer); sets the pour tilt axis.
        config: timing and geometry.

    Returns:
        (num_frames, 4, 4) world poses; the first equals ``object_pose``.
    """
    from unihm_core.data.motions import through_waypoints

    cfg = config or TrajectoryConfig()
    task = resolve_task(task)
    T0 = np.asarray(object_pose, dtype=np.float64)
    if T0.shape != (4, 4) or not np.allclose(T0[:3, :3] @ T0[:3, :3].T, np.eye(3), atol=1e-4):
        raise InputError("object_pose must be a 4x4 rigid transform (orthonormal rotation)")
    ext = np.asarray(size, dtype=np.float64).reshape(3)
    if not np.all(ext > 0):
        raise InputError(f"object size must be three positive extents [m], got {ext}")
    place = None if place_xyz is None else np.asarray(place_xyz, dtype=np.float64).reshape(3)
    a = np.array([0.0, 1.0, 0.0]) if approach is None else np.asarray(approach, dtype=np.float64)
    hold, man, rest = cfg.phase_frames(task)
    n = man + 1  # manipulation poses including its start (= the held pose)
    p0 = T0[:3, 3]

    def final_xy_dp(z: float = 0.0) -> np.ndarray:
        return np.zeros(3) if place is None else np.array([place[0] - p0[0], place[1] - p0[1], z])

    if task == "grab":
        end = _moved(T0, final_xy_dp())
        wps = [T0, _moved(T0, UP * cfg.lift_height), _moved(end, UP * cfg.lift_height), end]
        traj = through_waypoints(wps, _three(n))
    elif task == "pick_place":
        target = place if place is not None else p0 + np.array([0.15, 0.0, 0.0])
        above = target + UP * cfg.carry_height
        wps = [T0, _moved(T0, UP * cfg.carry_height), _moved(T0, above - p0), _moved(T0, target - p0)]
        traj = through_waypoints(wps, _three(n))
    elif task in ("push", "pull"):
        if place is None:
            step = cfg.default_slide if task == "push" else -cfg.default_slide
            dp = np.array([0.0, step, 0.0])
        else:
            dp = final_xy_dp()
        traj = through_waypoints([T0, _moved(T0, dp)], [n - 1])
    elif task in ("open", "close"):
        traj = _articulation(task, T0, joint, joint_value, n, cfg)
    elif task == "rotate":
        Rz = Rotation.from_rotvec(UP * cfg.rotate_angle).as_matrix()
        lift = UP * cfg.rotate_lift
        dp = final_xy_dp()
        wps = [T0, _moved(T0, lift), _moved(T0, lift + dp, Rz), _moved(T0, dp, Rz)]
        traj = through_waypoints(wps, _three(n))
    elif task == "pour":
        side = np.cross(UP, a)
        if np.linalg.norm(side) < 1e-6:  # vertical approach: tilt about world x, as the data does
            side = np.array([1.0, 0.0, 0.0])
        side /= np.linalg.norm(side)
        tilt = Rotation.from_rotvec(side * cfg.pour_angle).as_matrix()
        lift = UP * cfg.pour_lift
        centre = p0 + lift + UP * ext[2] / 2
        end = _moved(T0, final_xy_dp())
        k = max(n // 8, 2)
        m = (n - 1 - 2 * k) // 2
        wps = [T0, _moved(T0, lift), _moved(T0, lift, tilt, about=centre), _moved(T0, lift), end]
        traj = through_waypoints(wps, [k, m, n - 1 - 2 * k - m, k])
    elif task == "handover":
        dp = np.asarray(cfg.handover_offset) if place is None else place - p0
        traj = through_waypoints([T0, _moved(T0, dp)], [n - 1])
    else:  # pragma: no cover - resolve_task guards
        raise InputError(f"unknown task {task!r}")
    return np.concatenate([np.repeat(T0[None], hold, 0), traj[1:], np.repeat(traj[-1][None], rest, 0)])


def _articulation(task: str, T0: np.ndarray, joint, joint_value: float | None, n: int,
                  cfg: TrajectoryConfig) -> np.ndarray:
    """Moving-part poses driving ``joint`` from its current value to open/closed (min-jerk in joint space)."""
    from unihm_core.data.motions import min_jerk, through_waypoints

    if joint is None:  # unknown articulation: a drawer-like slide towards / away from the viewer
        step = -cfg.default_slide if task == "open" else cfg.default_slide
        return through_waypoints([T0, _moved(T0, np.array([0.0, step, 0.0]))], [n - 1])
    lo, hi = float(joint.lower), float(joint.lower + cfg.open_fraction * (joint.upper - joint.lower))
    v0 = joint_value if joint_value is not None else (lo if task == "open" else hi)
    v1 = hi if task == "open" else lo
    base = T0 @ np.linalg.inv(joint.transform(v0))
    values = v0 + min_jerk(n) * (v1 - v0)
    return np.stack([base @ joint.transform(float(v)) for v in values])


def jerk(poses: np.ndarray, fps: float) -> np.ndarray:
    """(T-3,) norm of the third finite difference of the positions [m/s^3]."""
    p = np.asarray(poses)[:, :3, 3]
    return np.linalg.norm(np.diff(p, n=3, axis=0), axis=1) * fps**3


def final_pose_error(planned: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Translation [m] and rotation [rad] difference between two (4, 4) poses."""
    dt = float(np.linalg.norm(planned[:3, 3] - reference[:3, 3]))
    R = planned[:3, :3].T @ reference[:3, :3]
    ang = float(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0)))
    return dt, ang
