"""Dynamics check: replay a hand trajectory in SAPIEN physics and see what the object does.

What is simulated (:class:`DynamicsConfig` holds every number):

* PhysX (CPU) at ``fps * substeps`` Hz (30 fps x 10 = 300 Hz) with gravity -9.81 m/s^2 and
  a static ground plane at z = 0 standing in for the table top.
* The object is one dynamic rigid body whose collision shape is the convex hull of its
  mesh (concave objects such as bowls or mugs are filled), mass from the hull volume at
  ``density`` (500 kg/m^3, a light plastic/wood object), starting at the first planned pose.
  Articulated objects are simulated as a single rigid body (their joint is not modelled),
  which the report notes.
* The hand is the floating-wrist URDF (:func:`unihm_core.hands.floating_urdf_path`) whose
  root is fixed at the world origin; its 6 wrist joints and every finger joint are driven
  by PhysX's implicit joint PD drives towards the trajectory, frame by frame (the target
  changes at 30 fps and is held for ``substeps`` steps). Mimic joints are driven to their
  expanded targets like any other joint: SAPIEN's URDF loader would couple them with a
  stiff fixed tendon, and tendon plus drive makes the light phalanges blow up within a few
  steps, so the tendons are not built. Gravity is disabled on the hand's links: the arm
  that carries a real hand compensates its weight, and the wrist drive should only have to
  resist contact. Gains: wrist translation ``wrist_stiffness`` N/m, wrist rotation
  ``wrist_rot_stiffness`` N m/rad, revolute finger joints ``finger_stiffness`` N m/rad,
  prismatic finger joints (the Panda gripper) ``prismatic_stiffness`` N/m, each with the
  force/torque limit given in the config. A finger that is commanded slightly inside the
  object therefore squeezes it with a bounded force, like a position-controlled hand.
* Hand links do not collide with each other, only with the object and the table. One
  physical material (static/dynamic friction ``friction``, no restitution) is used for
  every contact; 30 position / 4 velocity solver iterations.

Outcome, comparing the simulated object with the planned object poses (all positions [m]):

* ``held``: the object follows the plan: its position stays within ``held_tolerance``
  (3 cm) of the planned position at every frame. An object that should stay where it is
  and does also counts as held;
* ``slipped``: the object moved with the hand (more than ``moved_threshold`` = 2 cm from
  its start at some frame) but lost the plan somewhere (pushed away, rotated out, fell
  from the fingers);
* ``dropped``: the object never moved although the plan moves it (the hand missed it or
  could not lift it).

The check is deterministic: PhysX on the CPU with enhanced determinism and a fresh scene per
call gives bit-identical results for identical inputs.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass

import numpy as np

from unihm_core.errors import ConfigError, InputError
from unihm_core.hands import floating_urdf_path, load_hand
from unihm_core.sim.vulkan import import_sapien


@dataclass(frozen=True)
class DynamicsConfig:
    """Simulation parameters of :func:`dynamics_check` (see the module docstring).

    Attributes:
        substeps: physics steps per trajectory frame.
        wrist_stiffness, wrist_damping: wrist translation drives [N/m], [N s/m].
        wrist_force_limit: wrist translation force limit [N].
        wrist_rot_stiffness, wrist_rot_damping: wrist rotation drives [N m/rad], [N m s/rad].
        wrist_torque_limit: wrist rotation torque limit [N m].
        finger_stiffness, finger_damping: revolute finger joints [N m/rad], [N m s/rad].
        finger_torque_limit: revolute finger joint torque limit [N m].
        prismatic_stiffness, prismatic_damping, prismatic_force_limit: prismatic finger
            joints [N/m], [N s/m], [N].
        friction: static and dynamic friction coefficient of every contact.
        density: object density [kg/m^3].
        position_iterations, velocity_iterations: PhysX solver iterations.
        held_tolerance: max distance from the planned object position for ``held`` [m].
        moved_threshold: displacement from the start that counts as moved [m].
    """

    substeps: int = 10
    wrist_stiffness: float = 2.0e4
    wrist_damping: float = 4.0e2
    wrist_force_limit: float = 500.0
    wrist_rot_stiffness: float = 2.0e3
    wrist_rot_damping: float = 40.0
    wrist_torque_limit: float = 100.0
    finger_stiffness: float = 20.0
    finger_damping: float = 0.5
    finger_torque_limit: float = 5.0
    prismatic_stiffness: float = 2.0e3
    prismatic_damping: float = 20.0
    prismatic_force_limit: float = 70.0
    friction: float = 1.0
    density: float = 500.0
    position_iterations: int = 30
    velocity_iterations: int = 4
    held_tolerance: float = 0.03
    moved_threshold: float = 0.02

    def __post_init__(self) -> None:
        if self.substeps < 1 or self.position_iterations < 1 or self.velocity_iterations < 0:
            raise ConfigError("DynamicsConfig: substeps and position_iterations must be >= 1, "
                              "velocity_iterations >= 0")
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"DynamicsConfig.{name} must be a finite non-negative number, got {value}")
        if self.density <= 0 or self.held_tolerance <= 0 or self.moved_threshold <= 0:
            raise ConfigError("DynamicsConfig: density, held_tolerance and moved_threshold must be positive")


@dataclass(frozen=True)
class DynamicsReport:
    """Outcome of :func:`dynamics_check` (positions [m], angles [deg]).

    Attributes:
        outcome: ``held``, ``slipped`` or ``dropped`` (module docstring).
        tracking_error: max over frames of the object's distance from the plan [m].
        final_position_error, final_rotation_error_deg: last frame against the last planned pose.
        max_displacement: max over frames of the object's distance from its start [m].
        hand_tracking_error: max over frames and fingertips of the simulated fingertip's
            distance from its kinematic target [m] (large = the hand was blocked or pushed).
        object_positions: ``(T, 3)`` simulated object positions [m].
        lost_at: first frame where the object is farther than ``held_tolerance`` from the plan
            (None when held).
        plan_moves_at: first frame where the plan moves the object by more than 1 cm from its
            start (None when it never does); ``lost_at < plan_moves_at`` means the hand knocked
            the object away before it was meant to move.
        notes: caveats of this run.
    """

    outcome: str
    tracking_error: float
    final_position_error: float
    final_rotation_error_deg: float
    max_displacement: float
    hand_tracking_error: float
    object_positions: np.ndarray
    lost_at: int | None = None
    plan_moves_at: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "tracking_error_m": round(self.tracking_error, 4),
                "final_position_error_m": round(self.final_position_error, 4),
                "final_rotation_error_deg": round(self.final_rotation_error_deg, 2),
                "max_displacement_m": round(self.max_displacement, 4),
                "hand_tracking_error_m": round(self.hand_tracking_error, 4), "lost_at_frame": self.lost_at,
                "plan_moves_at_frame": self.plan_moves_at, "notes": list(self.notes)}


def _pose(sapien, T: np.ndarray):
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    return sapien.Pose(T[:3, 3].astype(np.float32), np.array([w, x, y, z], np.float32))


def _matrix(pose) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    w, x, y, z = pose.q
    T[:3, :3] = Rotation.from_quat([x, y, z, w]).as_matrix()
    T[:3, 3] = pose.p
    return T


def classify(object_positions: np.ndarray, planned_positions: np.ndarray,
             config: DynamicsConfig = DynamicsConfig()) -> tuple[str, float, float]:
    """``(outcome, tracking_error, max_displacement)`` of simulated vs planned ``(T, 3)`` positions [m]."""
    tracking = float(np.linalg.norm(object_positions - planned_positions, axis=1).max())
    disp = float(np.linalg.norm(object_positions - planned_positions[0], axis=1).max())
    if tracking <= config.held_tolerance:
        return "held", tracking, disp
    return ("slipped" if disp > config.moved_threshold else "dropped"), tracking, disp


def _build_hand(sapien, scene, hand: str, config: DynamicsConfig, material):
    loader = scene.create_urdf_loader()
    loader.fix_root_link = True
    builders, actors, _ = loader.parse(str(floating_urdf_path(hand)))
    if len(builders) != 1 or actors:
        raise InputError(f"hand {hand!r}: its URDF must hold exactly one articulation")
    art = builders[0].build(build_mimic_joints=False)  # mimic joints are driven (module docstring)
    for link in art.links:
        link.set_disable_gravity(True)
        for shape in link.collision_shapes:
            shape.set_collision_groups([1, 1, 2, 0])  # bit 2 shared by all hand shapes: no self-collision
            shape.set_physical_material(material)
    art.set_solver_position_iterations(config.position_iterations)
    art.set_solver_velocity_iterations(config.velocity_iterations)
    for k, j in enumerate(art.get_active_joints()):
        if k < 3:
            j.set_drive_property(config.wrist_stiffness, config.wrist_damping, config.wrist_force_limit)
        elif k < 6:
            j.set_drive_property(config.wrist_rot_stiffness, config.wrist_rot_damping, config.wrist_torque_limit)
        elif j.type.startswith("prismatic"):
            j.set_drive_property(config.prismatic_stiffness, config.prismatic_damping, config.prismatic_force_limit)
        else:
            j.set_drive_property(config.finger_stiffness, config.finger_damping, config.finger_torque_limit)
    return art


def dynamics_check(hand: str, q: np.ndarray, object_mesh, object_poses: np.ndarray, *, fps: float = 30.0,
                   config: DynamicsConfig = DynamicsConfig(), articulated: bool = False) -> DynamicsReport:
    """Replay ``q`` ``(T, D)`` with PD control and simulate the object; see the module docstring.

    Args:
        hand: hand name.
        q: ``(T, D)`` hand states (clamped to the joint limits first).
        object_mesh: a trimesh-like mesh (``vertices`` ``(V, 3)``, ``faces``) in the object frame [m].
        object_poses: ``(T, 4, 4)`` planned object poses, world [m].
        fps: trajectory frame rate [1/s].
        config: simulation parameters.
        articulated: the object has a joint (simulated as one rigid body; noted in the report).
    """
    import trimesh

    q = np.asarray(q, float)
    poses = np.asarray(object_poses, float)
    if q.ndim != 2 or poses.shape != (len(q), 4, 4):
        raise InputError(f"dynamics_check: q must be (T, D) and object_poses (T, 4, 4) with the same T; got "
                         f"{q.shape} and {poses.shape}")
    if fps <= 0:
        raise InputError(f"dynamics_check: fps must be positive, got {fps}")
    sapien = import_sapien()
    model = load_hand(hand)
    if q.shape[1] != model.dof:
        raise InputError(f"dynamics_check: hand {hand!r} has {model.dof} state values per frame, q has {q.shape[1]}")
    q = model.clamp(q)
    scene_cfg = sapien.physx.PhysxSceneConfig()
    scene_cfg.enable_enhanced_determinism = True
    sapien.physx.set_scene_config(scene_cfg)
    scene = sapien.Scene()
    scene.set_timestep(1.0 / (fps * config.substeps))
    material = scene.create_physical_material(config.friction, config.friction, 0.0)
    scene.add_ground(0.0, material=material)

    hull = trimesh.Trimesh(np.asarray(object_mesh.vertices), np.asarray(object_mesh.faces), process=False).convex_hull
    with tempfile.NamedTemporaryFile(suffix=".obj") as f:
        hull.export(f.name)
        b = scene.create_actor_builder()
        b.add_convex_collision_from_file(f.name, material=material, density=config.density)
        obj = b.build(name="object")
    obj.set_pose(_pose(sapien, poses[0]))
    body = obj.find_component_by_type(sapien.physx.PhysxRigidDynamicComponent)
    body.set_solver_position_iterations(config.position_iterations)
    body.set_solver_velocity_iterations(config.velocity_iterations)

    art = _build_hand(sapien, scene, hand, config, material)
    joints = art.get_active_joints()
    pin_names = list(model.model.names)
    index = [model.model.joints[pin_names.index(j.name)].idx_q for j in joints]
    full = model.expand(q)[:, index]
    art.set_qpos(full[0].astype(np.float32))
    tips = [art.find_link_by_name(n) for n in model.fingertip_links]
    planned_tips = model.fingertip_positions(q)

    positions = np.empty((len(q), 3))
    tip_err = 0.0
    for t in range(len(q)):
        for j, target in zip(joints, full[t]):
            j.set_drive_target(float(target))
        for _ in range(config.substeps):
            scene.step()
        positions[t] = obj.pose.p
        sim_tips = np.array([link.entity_pose.p for link in tips])
        tip_err = max(tip_err, float(np.linalg.norm(sim_tips - planned_tips[t], axis=1).max()))
    final = _matrix(obj.pose)
    err = float(np.linalg.norm(final[:3, 3] - poses[-1, :3, 3]))
    R_rel = poses[-1, :3, :3].T @ final[:3, :3]
    ang = float(np.degrees(np.arccos(np.clip((np.trace(R_rel) - 1) / 2, -1, 1))))
    outcome, tracking, disp = classify(positions, poses[:, :3, 3], config)
    notes = ("articulated object simulated as one rigid body",) if articulated else ()
    if not np.all(np.isfinite(positions)):
        raise InputError("dynamics_check: the simulation diverged (non-finite object pose); "
                         "check the trajectory for jumps between frames")
    off = np.flatnonzero(np.linalg.norm(positions - poses[:, :3, 3], axis=1) > config.held_tolerance)
    moves = np.flatnonzero(np.linalg.norm(poses[:, :3, 3] - poses[0, :3, 3], axis=1) > 0.01)
    return DynamicsReport(outcome, tracking, err, ang, disp, tip_err, positions,
                          lost_at=int(off[0]) if len(off) else None,
                          plan_moves_at=int(moves[0]) if len(moves) else None, notes=notes)
