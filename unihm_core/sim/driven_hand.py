"""The PD-driven hand in a SAPIEN scene, and pose conversions, for :mod:`unihm_core.sim.execution`.

The floating-wrist URDF (:func:`unihm_core.hands.floating_urdf_path`) is loaded with its root fixed
at the world origin; its 6 wrist joints and every finger joint get PhysX implicit PD drives
(wrist translation, wrist rotation, revolute and prismatic finger joints each with their own
stiffness, damping and force/torque limit). Mimic joints are driven to their expanded targets
like any other joint: SAPIEN's URDF loader would couple them with a stiff fixed tendon, and
tendon plus drive makes the light phalanges blow up within a few steps, so the tendons are not
built. Gravity is disabled on the hand's links (the arm that carries a real hand compensates its
weight; the wrist drive only resists contact), and the hand's links do not collide with each
other (collision-group bit 2 shared by all of them).
"""

from __future__ import annotations

import numpy as np

from unihm_core.errors import InputError
from unihm_core.hands import floating_urdf_path


def sapien_pose(sapien, T: np.ndarray):
    """SAPIEN pose of a ``(4, 4)`` transform."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    return sapien.Pose(T[:3, 3].astype(np.float32), np.array([w, x, y, z], np.float32))


def pose_matrix(pose) -> np.ndarray:
    """``(4, 4)`` transform of a SAPIEN pose."""
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    w, x, y, z = pose.q
    T[:3, :3] = Rotation.from_quat([x, y, z, w]).as_matrix()
    T[:3, 3] = pose.p
    return T


def build_driven_hand(sapien, scene, hand: str, gains, material):
    """Load ``hand`` into ``scene`` with PD drives (module docstring).

    Args:
        gains: any object with the drive fields of :class:`unihm_core.sim.execution.ExecutionConfig`
            (``wrist_stiffness``, ..., ``prismatic_force_limit``, ``position_iterations``,
            ``velocity_iterations``).
        material: the PhysX material of every hand shape.
    """
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
    art.set_solver_position_iterations(gains.position_iterations)
    art.set_solver_velocity_iterations(gains.velocity_iterations)
    for k, j in enumerate(art.get_active_joints()):
        if k < 3:
            j.set_drive_property(gains.wrist_stiffness, gains.wrist_damping, gains.wrist_force_limit)
        elif k < 6:
            j.set_drive_property(gains.wrist_rot_stiffness, gains.wrist_rot_damping, gains.wrist_torque_limit)
        elif j.type.startswith("prismatic"):
            j.set_drive_property(gains.prismatic_stiffness, gains.prismatic_damping, gains.prismatic_force_limit)
        else:
            j.set_drive_property(gains.finger_stiffness, gains.finger_damping, gains.finger_torque_limit)
    return art
