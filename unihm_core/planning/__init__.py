"""Planning: CLIPort-style pick/place network, object target trajectories, initial hand pose.

Paper Eq. 7 / App. C.5: ``T_tar = CLIPort(I_rgbd, instruction)``. :func:`plan` runs the
stage on a perceived scene; torch is imported only when a network is built or loaded.
"""

from unihm_core.planning.heightmap import Heightmap, HeightmapConfig, heightmap_from_points, heightmap_from_rgbd
from unihm_core.planning.initial_pose import approach_frame, initial_hand_pose
from unihm_core.planning.planner import PickPlace, Plan, Planner, plan
from unihm_core.planning.trajectory import (
    TASKS,
    TrajectoryConfig,
    final_pose_error,
    jerk,
    object_trajectory,
    resolve_task,
)

__all__ = [
    "TASKS",
    "Heightmap",
    "HeightmapConfig",
    "PickPlace",
    "Plan",
    "Planner",
    "TrajectoryConfig",
    "approach_frame",
    "final_pose_error",
    "heightmap_from_points",
    "heightmap_from_rgbd",
    "initial_hand_pose",
    "jerk",
    "object_trajectory",
    "plan",
    "resolve_task",
]
