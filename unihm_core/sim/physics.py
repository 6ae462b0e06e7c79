"""Dynamics check: replay a hand trajectory in SAPIEN physics and see what the object does.

Setup: PhysX CPU at 240 Hz (8 substeps per 30 fps trajectory frame); a static ground plane
is the table top (z = 0); the object is a dynamic rigid body whose collision shape is the
convex hull of its mesh (mass from the hull volume at 500 kg/m^3, friction 1.0); the hand
is the floating-wrist URDF (:func:`unihm_core.hands.floating_urdf_path`) with its root fixed
at the world origin and *every* joint, the six wrist joints included, driven by a PD
controller towards the trajectory (mimic joints get their expanded targets). Hand links do
not collide with each other, only with the object and the table.

Outcome, comparing the simulated object with the planned object poses:

* ``held``: the simulated object stays within ``held_tolerance`` (3 cm) of the planned
  position at every frame (tracking error) -- a plan that puts the object back where it
  started is not "held" by an object that never moved, because the lifted frames differ;
* ``slipped``: the object moved (more than 2 cm from its start at some frame) but lost
  track of the plan somewhere;
* ``dropped``: it never moved with the hand although the plan moves it.

Articulated objects are simulated as a single rigid body (their joint is not modelled),
which the report says.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np

from unihm_core.hands import floating_urdf_path, load_hand
from unihm_core.sim.vulkan import import_sapien

SUBSTEPS = 8
DENSITY = 500.0  # [kg/m^3]


@dataclass(frozen=True)
class DynamicsReport:
    """Outcome of :func:`dynamics_check` (positions [m], angles [deg])."""

    outcome: str
    tracking_error: float
    final_position_error: float
    final_rotation_error_deg: float
    max_displacement: float
    object_positions: np.ndarray
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "tracking_error_m": round(self.tracking_error, 4),
                "final_position_error_m": round(self.final_position_error, 4),
                "final_rotation_error_deg": round(self.final_rotation_error_deg, 2),
                "max_displacement_m": round(self.max_displacement, 4), "notes": list(self.notes)}


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


def dynamics_check(hand: str, q: np.ndarray, object_mesh, object_poses: np.ndarray, *, fps: float = 30.0,
                   stiffness: float = 3000.0, damping: float = 100.0, held_tolerance: float = 0.03,
                   articulated: bool = False) -> DynamicsReport:
    """Replay ``q`` ``(T, D)`` with PD control and simulate the object; see the module docstring."""
    import trimesh

    sapien = import_sapien()
    model = load_hand(hand)
    q = model.clamp(np.asarray(q, float))
    poses = np.asarray(object_poses, float)
    scene = sapien.Scene()
    scene.set_timestep(1.0 / (fps * SUBSTEPS))
    scene.add_ground(0.0)
    material = scene.create_physical_material(1.0, 1.0, 0.0)

    hull = trimesh.Trimesh(object_mesh.vertices, object_mesh.faces, process=False).convex_hull
    with tempfile.NamedTemporaryFile(suffix=".obj") as f:
        hull.export(f.name)
        b = scene.create_actor_builder()
        b.add_convex_collision_from_file(f.name, material=material, density=DENSITY)
        obj = b.build(name="object")
    obj.set_pose(_pose(sapien, poses[0]))

    loader = scene.create_urdf_loader()
    loader.fix_root_link = True
    art = loader.load(str(floating_urdf_path(hand)))
    for link in art.links:
        for shape in link.collision_shapes:
            shape.set_collision_groups([1, 1, 2, 0])  # group bit 2 shared by all hand shapes: no self-collision
            shape.set_physical_material(material)
    joints = art.get_active_joints()
    pin_names = list(model.model.names)
    index = [model.model.joints[pin_names.index(j.name)].idx_q for j in joints]
    for j in joints:
        j.set_drive_property(stiffness, damping, force_limit=200.0)
    full = model.expand(q)[:, index]
    art.set_qpos(full[0].astype(np.float32))
    for j, target in zip(joints, full[0]):
        j.set_drive_target(float(target))

    positions = np.empty((len(q), 3))
    for t in range(len(q)):
        for j, target in zip(joints, full[t]):
            j.set_drive_target(float(target))
        for _ in range(SUBSTEPS):
            scene.step()
        positions[t] = obj.pose.p
    final = _matrix(obj.pose)
    err = float(np.linalg.norm(final[:3, 3] - poses[-1, :3, 3]))
    R_rel = poses[-1, :3, :3].T @ final[:3, :3]
    ang = float(np.degrees(np.arccos(np.clip((np.trace(R_rel) - 1) / 2, -1, 1))))
    disp = float(np.linalg.norm(positions - poses[0, :3, 3], axis=1).max())
    tracking = float(np.linalg.norm(positions - poses[:, :3, 3], axis=1).max())
    if tracking <= held_tolerance:
        outcome = "held"
    elif disp > 0.02:
        outcome = "slipped"
    else:
        outcome = "dropped"
    notes = ("articulated object simulated as one rigid body",) if articulated else ()
    return DynamicsReport(outcome, tracking, err, ang, disp, positions, notes)
