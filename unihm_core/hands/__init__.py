"""Hand models: parametric specs, URDF generation, kinematics and retargeting."""

from unihm_core.hands.model import (
    FKResult,
    HandModel,
    euler_xyz_to_matrix,
    matrix_to_euler_xyz,
    q_to_wrist_pose,
    wrist_pose_to_q,
)
from unihm_core.hands.registry import (
    HAND_NAMES,
    ROBOT_HAND_NAMES,
    available_hands,
    canonical_hand,
    canonical_hands,
    floating_urdf_path,
    load_hand,
    load_spec,
    new_hand_model,
    urdf_path,
    write_all_urdfs,
)
from unihm_core.hands.spec import HandSpec, JointSpec, MimicSpec
from unihm_core.hands.urdf import WRIST_JOINT_NAMES, urdf_string

__all__ = [
    "FKResult", "HandModel", "HandSpec", "JointSpec", "MimicSpec", "HAND_NAMES", "ROBOT_HAND_NAMES",
    "WRIST_JOINT_NAMES", "available_hands", "canonical_hand", "canonical_hands", "floating_urdf_path", "euler_xyz_to_matrix", "load_hand", "load_spec",
    "matrix_to_euler_xyz", "new_hand_model", "q_to_wrist_pose", "urdf_path", "urdf_string",
    "wrist_pose_to_q", "write_all_urdfs",
]
