"""Execution check: run a hand trajectory the way a position-controlled hand would, and judge it.

This is the project's judge of physical feasibility (DESIGN.md, Simulator). A trajectory ``q``
``(T, D)`` is replayed in SAPIEN/PhysX (CPU) against the object, and the object's simulated
motion is compared with the planned one by a written success rule per task family.

Scene (every number is a field of :class:`ExecutionConfig`):

* PhysX at ``fps * substeps`` Hz (30 fps x 10 = 300 Hz), gravity -9.81 m/s^2, a static ground
  plane at z = 0 standing in for the table top, enhanced determinism, a fresh scene per call:
  identical inputs give bit-identical reports.
* **Rigid objects**: one dynamic body, collision shape the convex hull of the mesh (concave
  objects such as bowls and mugs are filled), mass from the hull volume at ``density``.
* **Articulated objects** (drawer, lidded box; :class:`ArticulatedObject`): a two-link PhysX
  articulation, the static parts a fixed root link (a cabinet or box standing on the table does
  not slide; noted in the report), the moving parts (drawer, lid) a child link on the object's
  prismatic or revolute joint with the joint's limits and a little friction and damping. Each
  link's collision is one convex hull per connected component of its mesh (the parts are built
  from boxes, so the hollow drawer tray stays hollow). Open/close are judged on the joint's
  travel, not on a rigid-body pose.
* **The hand**: the floating-wrist URDF with its root fixed at the world origin; the 6 wrist
  joints and every finger joint are PhysX implicit PD drives (gains and force/torque limits in
  the config), targets updated at 30 fps. Mimic joints are driven to their expanded targets
  (no tendons: tendon plus drive makes light phalanges blow up). Hand links ignore gravity (an
  arm compensates a real hand's weight) and do not collide with each other.

Phases, read from the contact schedule (:func:`unihm_core.refine.schedule.contact_schedule`
on the trajectory's own fingertips): **approach** (before the first contact window),
**close** (contact window before the object starts to move), **carry** (the object's moving
frames), **release** (window after it stops), **retreat** (after the window). The *grasp
frame* is the first moving frame of the first phase.

**Squeeze** (the trick of DexGraspNet's validator): at contact frames the targets of the
scheduled fingertips are moved along the inward normal of their nearest surface point until the
fingertip sphere's surface is ``squeeze_depth`` (5 mm) past the object's (never outwards); the
finger joints (not the wrist) follow by damped least squares on the fingertip Jacobians. A PD drive whose target lies inside the object presses with a bounded
force (stiffness x angle error, capped by the torque limit) instead of stopping at first touch.
The squeeze ramps in over the close phase and out over the release phase.

Success rules (each failure names its reason and frame):

* every task: **flung** when the object's speed exceeds the plan's by more than ``flung_speed``
  (2 m/s) at any frame (PhysX ejects deeply penetrating bodies; a fast pick-and-place plan moves
  its object at up to 2.7 m/s, which a held object follows); **penetration** when a hand link is more than
  ``max_penetration`` (5 mm) inside the object or the table at any frame (PhysX contact
  separation);
* carried tasks (grab, pick_place, handover, pour, rotate): the object stays within
  ``carry_position_tol`` (3 cm) and ``carry_rotation_tol_deg`` (20 deg) of the plan at every
  frame (rotations about an object's symmetry do not count: a rolling ball, a can turning about
  its axis; :func:`symmetry_of`); a hand-over only until the hand lets go (the receiver would
  take the object; nobody does in the simulation, so it falls). A miss before the grasp frame is
  **knocked** (during the approach or close); a miss
  from the grasp frame on is **never moved** when the object never got ``moved_threshold``
  (2 cm) from its start, else **lost** (while carried, or during the release);
* push / pull: the final object position within ``final_position_tol`` (3 cm) of the planned
  one (**never moved** / **off target**), not knocked before the push starts;
* open / close with a joint: the joint reaches ``travel_fraction`` (80 %) of the planned travel
  (**short travel** / **never moved**). Without a known joint (a perceived object) open/close
  are judged as slides, which the report notes.
* a plan that never moves the object (nothing to manipulate) succeeds when the object stays
  within the carry tolerances.

**Disturbance test** (a second opinion, the DexGraspBench protocol, carried tasks only): the
state at the grasp frame is restored six times; each time the hand holds its grasp targets,
gravity on the object is switched off and a force of ``disturbance_factor`` x m g (10 m g) is
applied at its centre of mass along +x, -x, +y, -y, +z, -z for ``disturbance_duration``
(0.25 s). The grasp holds when the object moves less than ``disturbance_position_tol`` (5 cm)
and ``disturbance_rotation_tol_deg`` (15 deg) in every direction.

Speed: 300 Hz (10 substeps; 180 Hz, 6 substeps, until the drive-gain change below) with 16 position / 2 velocity solver iterations, chosen against a slow
reference (600 Hz, 50 / 10 iterations) on the agreement of outcomes. Measured 2026-12-04 on 100
random (sequence, hand) pairs of a fresh 150-sequence build (seed 11), machine loaded: 4 substeps
agreed on 93 % of the verdicts, 6 substeps on 97 % (8: 98 %; 32 or 50 position iterations at 4
substeps: 96 %) for 1.12x the time (8 substeps: 1.28x). The ``physics`` section of docs/RESULTS.md
(``bench/eval_physics.py``) has the current numbers.

Drive gains: finger joints 80 N m/rad (20 until 2026-12-04), the Panda's jaws 8,000 N/m (2,000).
At the 5 mm squeeze the softer fingers pressed 2-5 N per fingertip (12 N for the thumb) and let a
0.2-0.3 kg bottle slide out of a thumb-against-fingers grasp while it was lifted; at 80 N m/rad
they press about 10 N (the thumb up to about 45 N), the range of real dexterous hands' fingertip
forces, and the jaws 40 N (the Panda grasps with up to 70 N). Measured on the first candidate
grasps of the 20 carried sequences of a fresh 40-sequence build (seed 7): Shadow held 6 -> 13 of
20 objects, LEAP 3 -> 11, Inspire 1 -> 9. With the new gains the default setting agreed with the
slow reference on 100 of 100 random (sequence, hand) pairs of a fresh 40-sequence build whose
robot motions are the hands' own grasps; median 0.18 s per Shadow/Allegro trajectory. On 100
random pairs of a fresh 150-sequence build (seed 11) it agreed on only 94 % (93 % on the
benchmark's own 100 pairs), against 94 % at 8 substeps and 95 % at 10 substeps (median 0.15 /
0.18 / 0.22 s per Shadow/Allegro trajectory): the default is now 10 substeps (300 Hz), which
meets both the agreement (>= 95 %) and the speed (<= 0.25 s) targets.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from unihm_core.errors import ConfigError, InputError
from unihm_core.hands import load_hand
from unihm_core.sim.driven_hand import build_driven_hand, pose_matrix, sapien_pose
from unihm_core.sim.vulkan import import_sapien

CARRIED_TASKS = ("grab", "pick_place", "handover", "pour", "rotate")
SLID_TASKS = ("push", "pull")
ARTICULATED_TASKS = ("open", "close")
PHASES = ("approach", "close", "carry", "release", "retreat", "rest")
DIRECTIONS = (("+x", (1, 0, 0)), ("-x", (-1, 0, 0)), ("+y", (0, 1, 0)), ("-y", (0, -1, 0)),
              ("+z", (0, 0, 1)), ("-z", (0, 0, -1)))


@dataclass(frozen=True)
class ExecutionConfig:
    """Simulation parameters and success thresholds of :func:`execution_check`.

    Attributes:
        substeps: physics steps per trajectory frame.
        position_iterations, velocity_iterations: PhysX solver iterations (hand and object).
        wrist_stiffness, wrist_damping, wrist_force_limit: wrist translation drives [N/m],
            [N s/m], [N].
        wrist_rot_stiffness, wrist_rot_damping, wrist_torque_limit: wrist rotation drives
            [N m/rad], [N m s/rad], [N m].
        finger_stiffness, finger_damping, finger_torque_limit: revolute finger joints
            [N m/rad], [N m s/rad], [N m].
        prismatic_stiffness, prismatic_damping, prismatic_force_limit: prismatic finger joints
            (the Panda gripper) [N/m], [N s/m], [N].
        friction: static and dynamic friction coefficient of every contact.
        density: object density [kg/m^3].
        joint_friction, joint_damping: the articulated object's joint (friction [N or N m],
            damping [N s/m or N m s/rad]).
        squeeze_depth: how far past the surface the scheduled fingertips' targets go [m]
            (0 disables the squeeze).
        squeeze_iterations: damped-least-squares iterations per frame for the squeeze targets.
        squeeze: ``"depth"`` (the scheduled fingertips pressed ``squeeze_depth`` past the surface,
            :func:`squeeze_targets`, the default) or ``"force"`` (every finger link within
            ``squeeze_band`` of the object pressed with about ``squeeze_force`` newtons,
            :func:`force_squeeze_targets`). Measured on 12 carried sequences x 4 hands of a fresh
            build (2026-12-03), ground truth and whole-hand refined: "force" at 4 / 8 / 15 N held
            1-3 of 12 per hand, "depth" 0-4 of 12; neither changes the outcome, which is decided by
            where the grasp puts the contacts (see :mod:`unihm_core.data.grasps`).
        squeeze_force, squeeze_band: the "force" squeeze's force per link [N] and reach [m].
        surface_points: points sampled on the collision surface for the squeeze and the schedule.
        carry_position_tol, carry_rotation_tol_deg: carried tasks' tolerance [m], [deg].
        final_position_tol: push/pull final position tolerance [m].
        travel_fraction: share of the planned joint travel open/close must reach.
        moved_threshold: displacement from the start that counts as moved [m].
        flung_speed: object speed that counts as flung [m/s].
        max_penetration: hand-link penetration into the object or the table that fails [m].
        disturbance: run the six-direction disturbance test (carried tasks).
        disturbance_factor: disturbance force in units of the object's weight m g.
        disturbance_duration: how long each disturbance is applied [s].
        disturbance_position_tol, disturbance_rotation_tol_deg: largest motion under a
            disturbance that still counts as held [m], [deg].
    """

    substeps: int = 10
    position_iterations: int = 16
    velocity_iterations: int = 2
    wrist_stiffness: float = 2.0e4
    wrist_damping: float = 4.0e2
    wrist_force_limit: float = 500.0
    wrist_rot_stiffness: float = 2.0e3
    wrist_rot_damping: float = 40.0
    wrist_torque_limit: float = 100.0
    finger_stiffness: float = 80.0
    finger_damping: float = 0.5
    finger_torque_limit: float = 5.0
    prismatic_stiffness: float = 8.0e3
    prismatic_damping: float = 20.0
    prismatic_force_limit: float = 70.0
    friction: float = 1.0
    density: float = 500.0
    joint_friction: float = 0.05
    joint_damping: float = 0.5
    squeeze_depth: float = 0.005
    squeeze_iterations: int = 3
    squeeze: str = "depth"
    squeeze_force: float = 4.0
    squeeze_band: float = 0.01
    surface_points: int = 2048
    carry_position_tol: float = 0.03
    carry_rotation_tol_deg: float = 20.0
    final_position_tol: float = 0.03
    travel_fraction: float = 0.8
    moved_threshold: float = 0.02
    flung_speed: float = 2.0
    max_penetration: float = 0.005
    disturbance: bool = True
    disturbance_factor: float = 10.0
    disturbance_duration: float = 0.25
    disturbance_position_tol: float = 0.05
    disturbance_rotation_tol_deg: float = 15.0

    def __post_init__(self) -> None:
        if self.squeeze not in ("force", "depth"):
            raise ConfigError(f"ExecutionConfig.squeeze={self.squeeze!r}: choose 'force' or 'depth'.")
        for name, value in asdict(self).items():
            if isinstance(value, (bool, str)):
                continue
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"ExecutionConfig.{name}={value!r} must be a finite non-negative number.")
        for name in ("substeps", "position_iterations", "squeeze_iterations", "surface_points"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"ExecutionConfig.{name}={v!r} must be an integer >= 1.")
        if not isinstance(self.velocity_iterations, int):
            raise ConfigError(f"ExecutionConfig.velocity_iterations={self.velocity_iterations!r} must be an integer.")
        for name in ("density", "carry_position_tol", "carry_rotation_tol_deg", "final_position_tol",
                     "moved_threshold", "flung_speed", "max_penetration", "disturbance_duration",
                     "disturbance_position_tol", "disturbance_rotation_tol_deg"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"ExecutionConfig.{name} must be positive, got {getattr(self, name)}.")
        if not 0.0 < self.travel_fraction <= 1.0:
            raise ConfigError(f"ExecutionConfig.travel_fraction={self.travel_fraction} must lie in (0, 1].")

    @classmethod
    def reference(cls) -> ExecutionConfig:
        """The slow reference setting the default is checked against (600 Hz, 50 / 10 iterations)."""
        return cls(substeps=20, position_iterations=50, velocity_iterations=10)


@dataclass(frozen=True, eq=False)
class ArticulatedObject:
    """An object with one joint, for :func:`execution_check`.

    Attributes:
        joint: the :class:`~unihm_core.data.objects.JointSpec` (object frame).
        static_mesh, moving_mesh: trimesh-like meshes of the fixed and the moving parts, object
            frame at joint value 0 [m].
        joint_values: ``(T,)`` planned joint values [m or rad]; the planned object poses are
            the moving part's, ``base @ joint.transform(joint_values[t])``.
    """

    joint: object
    static_mesh: object
    moving_mesh: object
    joint_values: np.ndarray


@dataclass(frozen=True, eq=False)
class ExecutionReport:
    """Outcome of :func:`execution_check` (positions [m], angles [deg]).

    Attributes:
        success: the task family's rule held (module docstring).
        failure: None, or one of ``"flung"``, ``"penetration"``, ``"knocked"``, ``"lost"``,
            ``"never_moved"``, ``"off_target"``, ``"short_travel"``.
        reason: one sentence saying what happened ("" on success).
        failed_at: frame of the failure (None on success or for end-of-motion rules).
        task, family: the task and its family (``"carried"``, ``"slid"``, ``"articulated"``).
        phases: per frame phase name ``(T,)`` (:data:`PHASES`).
        grasp_frame: first moving frame of the first contact phase (None: the plan is static).
        position_error, rotation_error_deg: ``(T,)`` simulated object against the plan.
        max_speed: the object's largest speed [m/s].
        max_link_penetration: deepest hand-link penetration into object or table [m].
        penetration_frame: frame of that penetration.
        joint_travel_fraction: open/close: achieved / planned joint travel (None otherwise).
        object_poses: ``(T, 4, 4)`` simulated object (moving-part) poses.
        joint_values: ``(T,)`` simulated joint values (articulated), else None.
        q_targets: ``(T, D)`` the drive targets used (the trajectory with the squeeze).
        hand_q: ``(T, D)`` the simulated hand's state at each frame (what the PD drives reached).
        hand_tracking_error: max over frames and fingertips of the simulated fingertip's distance
            from its drive target's [m] (large = the hand was blocked or pushed, or unstable).
        disturbance: None (not run / not applicable) or ``{"held": bool, "directions":
            {name: [displacement m, rotation deg]}}``.
        timings: ``"simulate_s"``, ``"disturbance_s"``, ``"total_s"``.
        notes: caveats of this run.
    """

    success: bool
    failure: str | None
    reason: str
    failed_at: int | None
    task: str
    family: str
    phases: np.ndarray
    grasp_frame: int | None
    position_error: np.ndarray
    rotation_error_deg: np.ndarray
    max_speed: float
    max_link_penetration: float
    penetration_frame: int | None
    joint_travel_fraction: float | None
    object_poses: np.ndarray
    joint_values: np.ndarray | None
    q_targets: np.ndarray
    hand_q: np.ndarray
    hand_tracking_error: float = 0.0
    disturbance: dict | None = None
    timings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready summary (no per-frame arrays except the phase boundaries)."""
        bounds = {}
        for t, name in enumerate(self.phases.tolist()):
            bounds.setdefault(name, [t, t])[1] = t
        out = {"success": bool(self.success), "failure": self.failure, "reason": self.reason,
               "failed_at_frame": self.failed_at, "task": self.task, "family": self.family,
               "grasp_frame": self.grasp_frame, "phases": bounds,
               "max_position_error_m": round(float(self.position_error.max()), 4),
               "final_position_error_m": round(float(self.position_error[-1]), 4),
               "max_rotation_error_deg": round(float(self.rotation_error_deg.max()), 2),
               "max_object_speed_m_s": round(self.max_speed, 3),
               "max_link_penetration_mm": round(1000.0 * self.max_link_penetration, 2),
               "penetration_frame": self.penetration_frame,
               "hand_tracking_error_m": round(self.hand_tracking_error, 4),
               "joint_travel_fraction": None if self.joint_travel_fraction is None
               else round(self.joint_travel_fraction, 3),
               "disturbance": self.disturbance,
               "timings_s": {k: round(v, 4) for k, v in self.timings.items()}, "notes": list(self.notes)}
        return out


def task_family(task: str) -> str:
    """``"carried"``, ``"slid"`` or ``"articulated"`` for a task name (or a perception family)."""
    from unihm_core.planning.trajectory import resolve_task

    task = resolve_task(task)
    if task in CARRIED_TASKS:
        return "carried"
    return "slid" if task in SLID_TASKS else "articulated"


# --------------------------------------------------------------------------------------------
# phases and the squeeze


def frame_phases(schedule, T: int) -> tuple[np.ndarray, int | None]:
    """Per-frame phase names ``(T,)`` and the grasp frame from a contact schedule."""
    phases = np.full(T, "approach", dtype="<U8")
    if not schedule.phases:
        phases[:] = "rest"
        return phases, None
    for k, ph in enumerate(schedule.phases):
        if k > 0:
            phases[schedule.phases[k - 1].end + 1:ph.start] = "rest"
        phases[ph.start:ph.first] = "close"
        phases[ph.first:ph.last + 1] = "carry"
        phases[ph.last + 1:ph.end + 1] = "release"
    phases[schedule.phases[-1].end + 1:] = "retreat"
    return phases, schedule.phases[0].first


def squeeze_weights(schedule, T: int) -> np.ndarray:
    """``(T,)`` squeeze ramp in [0, 1]: rises over each close phase, 1 while carried, falls over
    the release phase."""
    w = np.zeros(T)
    for ph in schedule.phases:
        n_in = ph.first - ph.start + 1
        w[ph.start:ph.first + 1] = np.arange(1, n_in + 1) / n_in
        w[ph.first:ph.last + 1] = 1.0
        n_out = ph.end - ph.last
        if n_out > 0:
            w[ph.last + 1:ph.end + 1] = np.arange(n_out, 0, -1) / (n_out + 1)
    return w


def squeeze_targets(model, q: np.ndarray, object_poses: np.ndarray, points: np.ndarray, normals: np.ndarray,
                    mask: np.ndarray, weights: np.ndarray, depth: float, iterations: int = 3,
                    damping: float = 0.01) -> np.ndarray:
    """Drive targets ``(T, D)``: ``q`` with the scheduled fingertips pressed past the surface.

    For frame ``t`` with ``weights[t] > 0``, each fingertip ``f`` with ``mask[t, f]`` gets the
    target moved along ``-n`` until its signed distance to the tangent plane at ``p`` is
    ``rho - depth`` (``p`` its nearest surface point, ``n`` the outward normal, both moved by
    ``object_poses[t]``; ``rho`` the fingertip sphere's radius, the hand's ``link_radius``, so that
    the fingertip's *surface* is pressed ``depth`` past the object's; a fingertip already deeper is
    left where it is), blended with its current position by ``weights[t]``; the
    finger joints (not the wrist) follow by ``iterations`` damped least-squares steps
    ``dq = J^T (J J^T + damping^2 I)^-1 dx`` on the fingertip Jacobians, within the joint limits.

    Args:
        model: a :class:`~unihm_core.hands.HandModel`.
        q: ``(T, D)`` trajectory; object_poses ``(T, 4, 4)``.
        points, normals: ``(N, 3)`` surface samples and outward normals, object frame [m].
        mask: ``(T, F)`` scheduled contact; weights ``(T,)`` the ramp.
        depth: how far past the surface [m].
    """
    from scipy.spatial import cKDTree

    out = np.array(q, float)
    if depth <= 0 or not mask.any():
        return out
    tree = cKDTree(points)
    nw = model.n_wrist
    radius = float(model.spec.link_radius)  # fingertip frames are the centres of spheres of this radius
    for t in np.flatnonzero((weights > 0) & mask.any(1)):
        rows = np.flatnonzero(mask[t])
        R, p0 = object_poses[t, :3, :3], object_poses[t, :3, 3]
        tips = model.fingertip_positions(out[t])[rows]
        local = (tips - p0) @ R
        _, j = tree.query(local)
        # along the normal until the fingertip sphere's surface is `depth` inside; never outwards
        sd = np.einsum("ij,ij->i", local - points[j], normals[j])
        push = np.maximum(sd - (radius - depth), 0.0)
        goal = tips - weights[t] * push[:, None] * (normals[j] @ R.T)
        for _ in range(iterations):
            pos, J = model.fingertip_jacobians(out[t])
            dx = (goal - pos[rows]).reshape(-1)
            Jf = J[rows][:, :, nw:].reshape(-1, model.dof - nw)
            dq = Jf.T @ np.linalg.solve(Jf @ Jf.T + damping**2 * np.eye(len(dx)), dx)
            out[t, nw:] = np.clip(out[t, nw:] + dq, model.lower[nw:], model.upper[nw:])
    return out


def force_squeeze_targets(model, q: np.ndarray, object_poses: np.ndarray, points: np.ndarray,
                          normals: np.ndarray, weights: np.ndarray, force: float, band: float,
                          finger_stiffness: float, prismatic_stiffness: float) -> np.ndarray:
    """Drive targets ``(T, D)``: ``q`` with finger-joint offsets that press every finger link near
    the object onto it with about ``force`` newtons (the Jacobian-transpose squeeze).

    For frame ``t`` with ``weights[t] > 0``, every link's sphere closest to the object (the
    whole-hand sphere model, :mod:`unihm_core.refine.hand_spheres`) whose surface lies within
    ``band`` of the object's contributes a force ``f_s = force (1 - gap / band)`` along the inward
    normal of its nearest surface point; the finger joints get the torques ``tau = sum_s J_s^T
    f_s`` and the drive target moves by ``tau / k`` (``k`` the joint's effective drive stiffness,
    mimic followers included), scaled by ``weights[t]``. A PD drive whose link is stopped by the
    object then pushes with ``k (target - q) = tau``: each touching phalanx presses with a bounded
    force, whichever link touched first (a fingertip-only squeeze leaves phalanges and the thumb's
    middle link, the usual first contacts of a wrap, without force). The wrist is not moved.
    """
    from scipy.spatial import cKDTree

    from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics

    out = np.array(q, float)
    if force <= 0 or not (weights > 0).any():
        return out
    nw = model.n_wrist
    hs = hand_spheres(model)
    use = np.flatnonzero(~hs.table_only)
    links = hs.link[use]
    A = model.mimic_map[0][:, nw:]
    prismatic = np.array([row["unit"] == "m" for row in model.joint_table()[nw:]])
    k = np.where(prismatic, prismatic_stiffness, finger_stiffness) * np.maximum((A**2).sum(0), 1.0)
    tree = cKDTree(points)
    frames = np.flatnonzero(weights > 0)
    C, JJ = sphere_kinematics(model, q[frames])  # all squeezed frames in one batch
    link_rows = [np.flatnonzero(links == li) for li in np.unique(links)]
    for t, c, J in zip(frames, C[:, use], JJ[:, use][:, :, :, nw:]):
        R, p0 = object_poses[t, :3, :3], object_poses[t, :3, 3]
        local = (c - p0) @ R
        _, j = tree.query(local)
        gap = np.einsum("ij,ij->i", local - points[j], normals[j]) - hs.radius[use]
        tau = np.zeros(model.dof - nw)
        for rows in link_rows:
            s = rows[np.argmin(gap[rows])]
            if gap[s] >= band or not np.abs(J[s]).any():
                continue
            f = force * min(1.0, 1.0 - gap[s] / band)
            tau += J[s].T @ (-(normals[j[s]] @ R.T) * f)
        out[t, nw:] = np.clip(q[t, nw:] + weights[t] * tau / k, model.lower[nw:], model.upper[nw:])
    return out


# --------------------------------------------------------------------------------------------
# judging


def _angle_deg(Ra: np.ndarray, Rb: np.ndarray, symmetry: str = "none") -> np.ndarray:
    """``(T,)`` rotation angle between ``(T, 3, 3)`` stacks [deg], up to the object's symmetry:
    ``"none"`` the full relative rotation, ``"axial"`` (a solid of revolution about its z axis,
    e.g. a can) the angle between the z axes, ``"spherical"`` (a ball) zero."""
    if symmetry == "spherical":
        return np.zeros(len(Ra))
    if symmetry == "axial":
        return np.degrees(np.arccos(np.clip(np.einsum("ti,ti->t", Ra[:, :, 2], Rb[:, :, 2]), -1.0, 1.0)))
    tr = np.einsum("tij,tij->t", Ra, Rb)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


SYMMETRIES = ("none", "axial", "spherical")


def symmetry_of(shape_class: str) -> str:
    """The rotational symmetry the success rule ignores for a primitive class (box / cylinder /
    sphere / other): a rolling ball or a can turning about its axis is still on the plan."""
    return {"sphere": "spherical", "cylinder": "axial"}.get(shape_class, "none")


def judge(family: str, sim_poses: np.ndarray, planned: np.ndarray, grasp_frame: int | None, *,
          release_frame: int | None = None, speeds: np.ndarray | None = None,
          planned_speeds: np.ndarray | None = None, penetration: np.ndarray | None = None, joint_values: np.ndarray | None = None,
          planned_joint_values: np.ndarray | None = None, symmetry: str = "none",
          judged_until: int | None = None,
          config: ExecutionConfig = ExecutionConfig()) -> tuple[str | None, str, int | None]:
    """The success rule of ``family`` on simulated vs planned object poses ``(T, 4, 4)``.

    Returns ``(failure, reason, frame)``: ``failure`` None on success (see the module docstring
    for the rules and names). ``speeds`` ``(T,)`` [m/s] (the object's; ``planned_speeds`` the plan's,
    which the flung rule subtracts) and ``penetration`` ``(T,)`` [m] feed the flung / penetration rules; ``release_frame`` is the last carried frame (for the wording);
    ``joint_values`` / ``planned_joint_values`` ``(T,)`` the articulated rule; ``symmetry`` (see
    :func:`symmetry_of`) which rotations do not count; ``judged_until``: frames after it are not
    judged (a hand-over: the receiver takes the object when the hand lets go).
    """
    if judged_until is not None:
        n = judged_until + 1
        sim_poses, planned = sim_poses[:n], planned[:n]
        speeds = None if speeds is None else speeds[:n]
        planned_speeds = None if planned_speeds is None else planned_speeds[:n]
        penetration = None if penetration is None else penetration[:n]
    T = len(planned)
    pos_err = np.linalg.norm(sim_poses[:, :3, 3] - planned[:, :3, 3], axis=1)
    rot_err = _angle_deg(sim_poses[:, :3, :3], planned[:, :3, :3], symmetry)
    excess = None if speeds is None else speeds - (0.0 if planned_speeds is None else planned_speeds)
    if excess is not None and np.any(excess > config.flung_speed):
        k = int(np.argmax(excess > config.flung_speed))
        planned = "" if planned_speeds is None else f" (planned {planned_speeds[k]:.1f} m/s)"
        return "flung", f"flung at frame {k}: the object reached {speeds[k]:.1f} m/s{planned}", k
    if penetration is not None and np.any(penetration > config.max_penetration):
        k = int(np.argmax(penetration > config.max_penetration))
        return ("penetration", f"a hand link went {1000 * penetration[k]:.0f} mm into the object or the table "
                f"at frame {k}", k)
    g = T if grasp_frame is None else grasp_frame
    off = (pos_err > config.carry_position_tol) | (rot_err > config.carry_rotation_tol_deg)
    before = np.flatnonzero(off[:g])
    if len(before):
        k = int(before[0])
        return ("knocked", f"knocked at frame {k} during the {'approach' if grasp_frame is not None else 'motion'} "
                f"(object {100 * pos_err[k]:.1f} cm, {rot_err[k]:.0f} deg from the plan)", k)
    disp = np.linalg.norm(sim_poses[:, :3, 3] - sim_poses[0, :3, 3], axis=1)
    if family == "articulated" and joint_values is not None and planned_joint_values is not None:
        planned_travel = float(planned_joint_values[-1] - planned_joint_values[0])
        travel = float(joint_values[-1] - joint_values[0])
        frac = travel / planned_travel if abs(planned_travel) > 1e-9 else 1.0
        if frac >= config.travel_fraction:
            return None, "", None
        if abs(travel) < 0.1 * abs(planned_travel):
            return "never_moved", "never moved: the joint did not follow the hand", None
        return "short_travel", f"reached {100 * frac:.0f} % of the planned joint travel", None
    if family in ("slid", "articulated"):
        if pos_err[-1] <= config.final_position_tol:
            return None, "", None
        if disp.max() < config.moved_threshold:
            return "never_moved", "never moved: the hand did not push the object", None
        return "off_target", f"ended {100 * pos_err[-1]:.1f} cm from the planned final position", None
    after = np.flatnonzero(off[g:])
    if not len(after):
        return None, "", None
    k = g + int(after[0])
    if disp.max() < config.moved_threshold:
        return "never_moved", f"never moved: the object stayed on the table from frame {k} on", k
    where = "during the release" if release_frame is not None and k > release_frame else "while carried"
    return ("lost", f"lost at frame {k} {where} (object {100 * pos_err[k]:.1f} cm, {rot_err[k]:.0f} deg "
            "from the plan)", k)


# --------------------------------------------------------------------------------------------
# the simulation


def _convex_pieces(mesh) -> list:
    """Convex hulls of the connected components of ``mesh`` (one hull when it is one piece)."""
    import trimesh

    m = trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=True)
    parts = m.split(only_watertight=False) if len(m.faces) else []
    parts = [p for p in parts if len(p.vertices) >= 4] or [m]
    hulls = []
    for p in parts:
        try:
            hulls.append(p.convex_hull)
        except Exception:  # noqa: BLE001 - a flat or degenerate piece: leave it out
            continue
    if not hulls:
        raise InputError("execution check: the object mesh has no volume (every piece is flat); "
                         "pass a closed mesh")
    return hulls


def _add_hulls(builder, hulls, material, density: float, folder: str) -> None:
    """Add one convex collision per hull; the files in ``folder`` must live until the build
    (the builder reads them then)."""
    import os

    for h in hulls:
        path = os.path.join(folder, f"hull_{len(os.listdir(folder))}.obj")
        h.export(path)
        builder.add_convex_collision_from_file(path, material=material, density=density)


def _joint_frame(sapien, joint):
    """SAPIEN pose whose x axis is the joint axis, at the joint origin (object frame)."""
    from scipy.spatial.transform import Rotation

    a = np.asarray(joint.axis, float)
    helper = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    y = np.cross(helper, a)
    y /= np.linalg.norm(y)
    R = np.stack([a, y, np.cross(a, y)], axis=1)
    x, yq, z, w = Rotation.from_matrix(R).as_quat()
    return sapien.Pose(np.asarray(joint.origin, np.float32), np.array([w, x, yq, z], np.float32))


def _set_groups(entity_or_link, groups) -> None:
    for shape in entity_or_link.collision_shapes:
        shape.set_collision_groups(groups)


def _sample_surface(hulls, n: int) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    from unihm_core.refine.normals import sample_mesh_surface

    whole = trimesh.util.concatenate(hulls)
    return sample_mesh_surface(whole, n, seed=0)


def execution_check(hand: str, q: np.ndarray, object_mesh, object_poses: np.ndarray, task: str, *,
                    articulation: ArticulatedObject | None = None, fps: float = 30.0,
                    config: ExecutionConfig = ExecutionConfig(), schedule=None,
                    symmetry: str = "none") -> ExecutionReport:
    """Execute ``q`` ``(T, D)`` on the object in PhysX and judge it (module docstring).

    Args:
        hand: hand name.
        q: ``(T, D)`` hand states (clamped to the joint limits first).
        object_mesh: trimesh-like mesh (``vertices``, ``faces``) of the object, object frame [m];
            ignored when ``articulation`` is given.
        object_poses: ``(T, 4, 4)`` planned object poses, world [m] (the moving part's for an
            articulated object).
        task: task name (:data:`unihm_core.planning.trajectory.TASKS`) or perception family.
        articulation: simulate the object with its joint (open/close of drawers and lids).
        fps: trajectory frame rate [1/s].
        config: simulation parameters and thresholds.
        schedule: a :class:`~unihm_core.refine.schedule.ContactSchedule` (e.g. the
            refinement's); derived from ``q``'s fingertips and the object's motion when None.
        symmetry: the object's rotational symmetry (:func:`symmetry_of`): rotations about it do
            not count against the plan.

    Raises:
        InputError: mis-shaped or non-finite inputs, unknown task, a diverged simulation.
    """
    t_start = time.perf_counter()
    from unihm_core.planning.trajectory import resolve_task
    from unihm_core.refine.config import RefineConfig
    from unihm_core.refine.schedule import contact_schedule
    from unihm_core.refine.surface import ObjectSurface

    task = resolve_task(task)
    family = task_family(task)
    if symmetry not in SYMMETRIES:
        raise InputError(f"execution check: symmetry={symmetry!r}; choose one of {SYMMETRIES}")
    q = np.asarray(q, float)
    poses = np.asarray(object_poses, float)
    if q.ndim != 2 or len(q) < 2 or poses.shape != (len(q), 4, 4):
        raise InputError(f"execution check: q must be (T, D) with T >= 2 and object_poses (T, 4, 4) with the "
                         f"same T; got {q.shape} and {poses.shape}")
    if not (np.isfinite(q).all() and np.isfinite(poses).all()):
        raise InputError("execution check: q or object_poses contain NaN or inf")
    if not fps > 0:
        raise InputError(f"execution check: fps must be positive, got {fps}")
    model = load_hand(hand)
    if q.shape[1] != model.dof:
        raise InputError(f"execution check: hand {hand!r} has {model.dof} state values per frame, q has {q.shape[1]}")
    q = model.clamp(q)
    T = len(q)
    notes: list[str] = []
    if articulation is not None:
        jv = np.asarray(articulation.joint_values, float)
        if jv.shape != (T,) or not np.isfinite(jv).all():
            raise InputError(f"execution check: articulation.joint_values must be ({T},) finite, got {jv.shape}")
        static_hulls = _convex_pieces(articulation.static_mesh)
        moving_hulls = _convex_pieces(articulation.moving_mesh)
        contact_hulls = moving_hulls
        notes.append("the articulated object's fixed part is fixed to the table")
    else:
        contact_hulls = _convex_pieces(object_mesh)
        if len(contact_hulls) > 1:  # a rigid body: one hull of everything (concave objects filled)
            import trimesh

            contact_hulls = [trimesh.util.concatenate(contact_hulls).convex_hull]
        if family == "articulated":
            notes.append("no joint is known for this object: open/close judged as a slide")
            family = "slid"
    points, normals = _sample_surface(contact_hulls, config.surface_points)

    # phases and squeeze targets
    if schedule is None:
        surf = ObjectSurface.build(points, normals)
        schedule = contact_schedule(poses, model.fingertip_positions(q), surf, RefineConfig())
    phases, grasp = frame_phases(schedule, T)
    weights = squeeze_weights(schedule, T)
    if config.squeeze == "force":
        targets = force_squeeze_targets(model, q, poses, points, normals, weights, config.squeeze_force,
                                        config.squeeze_band, config.finger_stiffness, config.prismatic_stiffness)
    else:
        targets = squeeze_targets(model, q, poses, points, normals, np.asarray(schedule.mask, bool), weights,
                                  config.squeeze_depth, config.squeeze_iterations)

    sapien = import_sapien()
    scene_cfg = sapien.physx.PhysxSceneConfig()
    scene_cfg.enable_enhanced_determinism = True
    sapien.physx.set_scene_config(scene_cfg)
    scene = sapien.Scene()
    scene.set_timestep(1.0 / (fps * config.substeps))
    material = scene.create_physical_material(config.friction, config.friction, 0.0)
    scene.add_ground(0.0, material=material)
    tmpdir = tempfile.TemporaryDirectory()
    tmp = tmpdir.name
    object_groups = [1, 1, 4, 0]  # bit 4 shared by the object's links: they do not collide with each other
    obj_art = None
    if articulation is not None:
        joint = articulation.joint
        base = poses[0] @ np.linalg.inv(joint.transform(float(np.clip(jv[0], joint.lower, joint.upper))))
        ab = scene.create_articulation_builder()
        root = ab.create_link_builder()
        root.set_name("object_base")
        _add_hulls(root, static_hulls, material, config.density, tmp)
        child = ab.create_link_builder(root)
        child.set_name("object_moving")
        child.set_joint_name("object_joint")
        frame = _joint_frame(sapien, joint)
        child.set_joint_properties(joint.kind, [[joint.lower, joint.upper]], frame, frame,
                                   friction=config.joint_friction, damping=config.joint_damping)
        _add_hulls(child, moving_hulls, material, config.density, tmp)
        obj_art = ab.build(fix_root_link=True)
        obj_art.set_root_pose(sapien_pose(sapien, base))
        obj_art.set_qpos(np.array([jv[0]], np.float32))
        obj_art.set_solver_position_iterations(config.position_iterations)
        obj_art.set_solver_velocity_iterations(config.velocity_iterations)
        for link in obj_art.links:
            _set_groups(link, object_groups)
        body = obj_art.links[1]
        obj_pose = lambda: body.entity_pose  # noqa: E731
    else:
        b = scene.create_actor_builder()
        _add_hulls(b, contact_hulls, material, config.density, tmp)
        obj = b.build(name="object")
        obj.set_pose(sapien_pose(sapien, poses[0]))
        body = obj.find_component_by_type(sapien.physx.PhysxRigidDynamicComponent)
        body.set_solver_position_iterations(config.position_iterations)
        body.set_solver_velocity_iterations(config.velocity_iterations)
        obj_pose = lambda: obj.pose  # noqa: E731
    tmpdir.cleanup()
    art = build_driven_hand(sapien, scene, hand, config, material)
    joints = art.get_active_joints()
    pin_names = list(model.model.names)
    index = [model.model.joints[pin_names.index(j.name)].idx_q for j in joints]
    full = model.expand(targets)[:, index]
    art.set_qpos(model.expand(q[:1])[0, index].astype(np.float32))
    hand_links = {link.entity.name for link in art.links}
    active = [j.name for j in joints]
    state_cols = [active.index(n) for n in model.joint_names]  # state coordinates among the drives

    sim_poses = np.empty((T, 4, 4))
    speeds = np.zeros(T)
    pen = np.zeros(T)
    sim_jv = np.empty(T) if obj_art is not None else None
    hand_q = np.empty((T, model.dof))
    snapshot = None
    prev = pose_matrix(obj_pose())[:3, 3]
    for t in range(T):
        for j, target in zip(joints, full[t]):
            j.set_drive_target(float(target))
        for _ in range(config.substeps):
            scene.step()
        sim_poses[t] = pose_matrix(obj_pose())
        p = sim_poses[t, :3, 3]
        speeds[t] = max(float(np.linalg.norm(body.linear_velocity)), float(np.linalg.norm(p - prev)) * fps)
        prev = p
        pen[t] = _hand_penetration(scene, hand_links)
        hand_q[t] = art.get_qpos()[state_cols]
        if sim_jv is not None:
            sim_jv[t] = float(obj_art.get_qpos()[0])
        if t == grasp and family == "carried" and config.disturbance and obj_art is None:
            snapshot = (art.get_qpos(), art.get_qvel(), obj.pose, body.linear_velocity, body.angular_velocity,
                        full[t].copy())
    if not np.isfinite(sim_poses).all():
        raise InputError("execution check: the simulation diverged (non-finite object pose); check the "
                         "trajectory for jumps between frames")
    t_sim = time.perf_counter() - t_start

    release = schedule.phases[0].last if schedule.phases else None
    planned_speeds = np.zeros(T)
    planned_speeds[1:] = np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1) * fps
    planned_speeds[:-1] = np.maximum(planned_speeds[:-1], planned_speeds[1:])  # either side of frame t
    failure, reason, failed_at = judge(family, sim_poses, poses, grasp, release_frame=release, speeds=speeds,
                                       planned_speeds=planned_speeds, penetration=pen, joint_values=sim_jv,
                                       planned_joint_values=None if articulation is None else jv,
                                       symmetry=symmetry, judged_until=release if task == "handover" else None,
                                       config=config)
    if task == "handover" and release is not None:
        notes.append(f"hand-over: judged until the hand lets go (frame {release}); nobody takes the object here")
    travel = None
    if sim_jv is not None:
        planned_travel = float(jv[-1] - jv[0])
        travel = float((sim_jv[-1] - jv[0]) / planned_travel) if abs(planned_travel) > 1e-9 else 1.0
    disturbance = None
    t_dist = time.perf_counter()
    if snapshot is not None:
        disturbance = _disturb(sapien, scene, art, joints, obj, body, snapshot, fps, config)
    timings = {"simulate_s": t_sim, "disturbance_s": time.perf_counter() - t_dist,
               "total_s": time.perf_counter() - t_start}
    pos_err = np.linalg.norm(sim_poses[:, :3, 3] - poses[:, :3, 3], axis=1)
    rot_err = _angle_deg(sim_poses[:, :3, :3], poses[:, :3, :3], symmetry)
    k = int(np.argmax(pen))
    tips_sim = model.fingertip_positions(model.clamp(hand_q))
    tip_err = float(np.linalg.norm(tips_sim - model.fingertip_positions(targets), axis=-1).max())
    return ExecutionReport(failure is None, failure, reason, failed_at, task, family, phases, grasp, pos_err,
                           rot_err, float(speeds.max()), float(pen.max()), k if pen[k] > 0 else None, travel,
                           sim_poses, sim_jv, targets, hand_q, tip_err, disturbance, timings, tuple(notes))


def _hand_penetration(scene, hand_links: set) -> float:
    """Deepest penetration [m] of a hand link into anything that is not the hand (PhysX contact
    separation of the last step)."""
    deepest = 0.0
    for c in scene.get_contacts():
        a, b = c.bodies
        if (a.entity.name in hand_links) == (b.entity.name in hand_links):
            continue
        for pt in c.points:
            if -pt.separation > deepest:
                deepest = -pt.separation
    return deepest


def _disturb(sapien, scene, art, joints, obj, body, snapshot, fps: float, config: ExecutionConfig) -> dict:
    """The six-direction disturbance test from the grasp-frame state (module docstring)."""
    qpos, qvel, pose, v, w, target = snapshot
    mass = float(body.mass)
    force = config.disturbance_factor * mass * 9.81
    steps = max(1, int(round(config.disturbance_duration * fps * config.substeps)))
    body.set_disable_gravity(True)
    R0 = pose_matrix(pose)
    out = {}
    held = True
    for name, d in DIRECTIONS:
        art.set_qpos(qpos)
        art.set_qvel(qvel)
        for j, tg in zip(joints, target):
            j.set_drive_target(float(tg))
        obj.set_pose(pose)
        body.set_linear_velocity(v)
        body.set_angular_velocity(w)
        f = np.asarray(d, np.float32) * np.float32(force)
        for _ in range(steps):
            body.add_force_torque(f, np.zeros(3, np.float32))
            scene.step()
        M = pose_matrix(obj.pose)
        dp = float(np.linalg.norm(M[:3, 3] - R0[:3, 3]))
        ang = float(_angle_deg(M[None, :3, :3], R0[None, :3, :3])[0])
        ok = dp < config.disturbance_position_tol and ang < config.disturbance_rotation_tol_deg
        held &= ok
        out[name] = [round(dp, 4), round(ang, 2)]
    body.set_disable_gravity(False)
    return {"held": bool(held), "force_n": round(force, 3), "directions": out}


def check_sequence(record: dict, arrays: dict, hand: str, q: np.ndarray | None = None, *,
                   config: ExecutionConfig = ExecutionConfig()) -> ExecutionReport:
    """:func:`execution_check` of one dataset sequence (:class:`~unihm_core.data.dataset.SyntheticDataset`).

    Args:
        record: the sequence's manifest record (task, target type and instance seed).
        arrays: its arrays (``object_poses``, ``joint_values``, ``q/<hand>`` or ``human_q``).
        hand: a robot hand of the build or ``"human"``.
        q: ``(T, D)`` trajectory to execute instead of the stored one (e.g. a refined one).
    """
    from unihm_core.data.objects import make_object

    if q is None:
        key = "human_q" if hand == "human" else f"q/{hand}"
        if key not in arrays:
            raise InputError(f"sequence {record.get('seq_id')}: no trajectory for hand {hand!r} ({key} missing)")
        q = arrays[key]
    target = record["target"]
    obj = make_object(target["type_name"], int(target["instance_seed"]))
    poses = np.asarray(arrays["object_poses"], float)
    articulation = None
    if obj.joint is not None and record["task"] in ARTICULATED_TASKS:
        values = np.clip(np.asarray(arrays["joint_values"], float), obj.joint.lower, obj.joint.upper)
        articulation = ArticulatedObject(obj.joint, obj.static_mesh, obj.moving_mesh, values)
    return execution_check(hand, np.asarray(q, float), obj.mesh, poses, record["task"], articulation=articulation,
                           config=config, symmetry=symmetry_of(obj.spec.shape_class))
