"""Object target trajectories (smooth, right start and end per task) and the initial hand pose q0."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import ConfigError, InputError
from unihm_core.planning import TASKS, TrajectoryConfig, final_pose_error, jerk, object_trajectory, resolve_task
from unihm_core.planning.initial_pose import hand_frame, initial_hand_pose

SIZE = (0.06, 0.06, 0.12)


def _pose(x=0.1, y=0.05, yaw=0.3) -> np.ndarray:
    T = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    T[:2, :2] = [[c, -s], [s, c]]
    T[:3, 3] = [x, y, 0.0]
    return T


class _Slide:
    """A prismatic drawer joint along the object's -y (values in [0, 0.2] m)."""

    kind, axis, origin, lower, upper = "prismatic", (0.0, -1.0, 0.0), (0.0, 0.0, 0.0), 0.0, 0.2

    def transform(self, v: float) -> np.ndarray:
        T = np.eye(4)
        T[:3, 3] = np.array(self.axis) * v
        return T


class _Hinge:
    """A lid hinge about the object's x axis at the back top edge (values in [0, 1.5] rad)."""

    kind, axis, origin, lower, upper = "revolute", (1.0, 0.0, 0.0), (0.0, 0.05, 0.1), 0.0, 1.5

    def transform(self, v: float) -> np.ndarray:
        from scipy.spatial.transform import Rotation

        T = np.eye(4)
        T[:3, :3] = Rotation.from_rotvec(np.array(self.axis) * v).as_matrix()
        o = np.array(self.origin)
        T[:3, 3] = o - T[:3, :3] @ o
        return T


def _place_for(task: str, T0: np.ndarray) -> np.ndarray | None:
    return {"pick_place": np.array([-0.2, 0.12, 0.03]), "push": np.array([0.1, 0.2, 0.0]),
            "pull": np.array([0.1, -0.08, 0.0]), "handover": np.array([0.12, -0.2, 0.2])}.get(task)


@pytest.mark.parametrize("task", [t for t in TASKS if t not in ("open", "close")])
def test_trajectory_starts_at_object_and_ends_at_place(task):
    T0 = _pose()
    place = _place_for(task, T0)
    cfg = TrajectoryConfig()
    traj = object_trajectory(task, T0, SIZE, place_xyz=place, config=cfg)
    assert traj.shape == (cfg.num_frames, 4, 4)
    np.testing.assert_allclose(traj[0], T0, atol=1e-12)
    hold, _, rest = cfg.phase_frames(task)
    # object static while the hand approaches, and at the end while it lets go
    np.testing.assert_allclose(traj[:hold], np.repeat(T0[None], hold, 0), atol=1e-12)
    np.testing.assert_allclose(traj[-rest:], np.repeat(traj[-1][None], rest, 0), atol=1e-12)
    assert np.linalg.norm(traj[hold + 3, :3, 3] - T0[:3, 3]) > 1e-4 or task == "pour"  # it does move
    end = traj[-1]
    if place is not None:
        np.testing.assert_allclose(end[:3, 3], place, atol=1e-9)
    else:  # grab, rotate, pour return to the start position
        np.testing.assert_allclose(end[:3, 3], T0[:3, 3], atol=1e-9)
    expected_turn = {"rotate": np.pi / 2}.get(task, 0.0)
    _, ang = final_pose_error(end, T0)
    assert ang == pytest.approx(expected_turn, abs=1e-6)
    assert np.allclose(np.einsum("tij,tkj->tik", traj[:, :3, :3], traj[:, :3, :3]), np.eye(3), atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_trajectory_is_smooth(task):
    cfg = TrajectoryConfig()
    traj = object_trajectory(task, _pose(), SIZE, place_xyz=_place_for(task, _pose()), joint=None, config=cfg)
    p = traj[:, :3, 3]
    v = np.diff(p, axis=0) * cfg.fps
    acc = np.diff(v, axis=0) * cfg.fps
    assert np.abs(v).max() < 3.0  # [m/s]
    assert np.abs(acc).max() < 40.0  # [m/s^2]
    assert jerk(traj, cfg.fps).max() < 1500.0  # [m/s^3]
    # rotation changes smoothly too: no frame-to-frame turn above 0.2 rad
    R = traj[:, :3, :3]
    rel = np.einsum("tji,tjk->tik", R[:-1], R[1:])
    ang = np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert ang.max() < 0.2  # [rad per frame] = 6 rad/s


def test_single_segment_jerk_matches_minimum_jerk_bound():
    """A push is one minimum-jerk segment: its jerk peaks at 60 L / t^3, no higher."""
    cfg = TrajectoryConfig()
    T0 = _pose()
    place = np.array([0.1, 0.2, 0.0])
    traj = object_trajectory("push", T0, SIZE, place_xyz=place, config=cfg)
    _, man, _ = cfg.phase_frames()
    L = np.linalg.norm(place - T0[:3, 3])
    bound = 60 * L / (man / cfg.fps) ** 3
    j = jerk(traj, cfg.fps)
    assert j.max() <= 1.05 * bound
    assert j.max() >= 0.5 * bound
    # a trajectory with a 1 cm jump is caught by the same kind of check
    bad = traj.copy()
    bad[40:, 0, 3] += 0.01
    assert jerk(bad, cfg.fps).max() > 1.05 * bound


@pytest.mark.parametrize("task", ["open", "close"])
@pytest.mark.parametrize("joint_cls", [_Slide, _Hinge])
def test_articulation_drives_the_joint(task, joint_cls):
    joint = joint_cls()
    base = _pose(yaw=0.2)
    cfg = TrajectoryConfig()
    hi = joint.lower + cfg.open_fraction * (joint.upper - joint.lower)
    v0, v1 = (joint.lower, hi) if task == "open" else (hi, joint.lower)
    start = base @ joint.transform(v0)
    traj = object_trajectory(task, start, SIZE, joint=joint, joint_value=v0, config=cfg)
    np.testing.assert_allclose(traj[0], start, atol=1e-12)
    np.testing.assert_allclose(traj[-1], base @ joint.transform(v1), atol=1e-9)
    assert jerk(traj, cfg.fps).max() < 1500.0


def test_articulation_without_joint_slides_towards_viewer():
    traj = object_trajectory("open", _pose(), SIZE)
    d = traj[-1, :3, 3] - traj[0, :3, 3]
    np.testing.assert_allclose(d, [0.0, -TrajectoryConfig().default_slide, 0.0], atol=1e-12)


def test_pour_tilts_and_returns():
    traj = object_trajectory("pour", _pose(), SIZE, approach=np.array([0.0, 1.0, 0.0]))
    z_axes = traj[:, :3, 2]
    tilt = np.degrees(np.arccos(np.clip(z_axes[:, 2], -1, 1)))
    assert tilt.max() == pytest.approx(90.0, abs=1.0)
    assert tilt[-1] == pytest.approx(0.0, abs=1e-6)


def test_resolve_task_and_validation():
    assert resolve_task("push_pull", "drag") == "pull"
    assert resolve_task("push_pull", "shove") == "push"
    assert resolve_task("open_close", "shut") == "close"
    assert resolve_task("rotate_pour", "pour") == "pour"
    assert resolve_task("rotate_pour", "tip") == resolve_task("rotate_pour", "empty") == "pour"
    assert resolve_task("rotate_pour", "twist") == "rotate"
    assert resolve_task("grab_lift") == "grab"
    with pytest.raises(InputError, match="unknown task"):
        resolve_task("juggle")
    with pytest.raises(InputError, match="4x4 rigid"):
        object_trajectory("grab", np.ones((4, 4)), SIZE)
    with pytest.raises(InputError, match="positive extents"):
        object_trajectory("grab", np.eye(4), (0.1, 0.0, 0.1))
    with pytest.raises(ConfigError):
        TrajectoryConfig(num_frames=8)
    with pytest.raises(ConfigError):
        TrajectoryConfig(hold_fraction=0.5, rest_fraction=0.4)


@pytest.mark.parametrize("hand", ["shadow", "allegro", "panda_gripper", "human", "inspire", "leap", "ability",
                                  "schunk_svh"])
@pytest.mark.parametrize("size,approach", [((0.06, 0.06, 0.15), (0.0, 1.0, 0.0)),  # tall: from the side
                                           ((0.08, 0.08, 0.05), (0.0, 0.0, -1.0))])  # low: from the top
def test_initial_pose_faces_object_from_distance(hand, size, approach):
    from unihm_core.hands import load_hand, q_to_wrist_pose
    from unihm_core.hands.poses import preset_pose

    T0 = _pose(yaw=0.0)
    q0 = initial_hand_pose(hand, "grab", T0, size, distance=0.15)
    model = load_hand(hand)
    assert q0.shape == (model.dof,)
    np.testing.assert_allclose(q0, preset_pose(model, "open", q0[:6]))  # fingers open
    W = q_to_wrist_pose(q0[:6])
    R_c, centroid = hand_frame(hand)
    palm_out = W[:3, :3] @ R_c[:, 0]
    np.testing.assert_allclose(palm_out, approach, atol=1e-6)  # palm faces the object
    # knuckles 15 cm from the object's bounding box along the approach
    centre = T0[:3, 3] + np.array([0.0, 0.0, size[2] / 2])
    knuck = W[:3, :3] @ centroid + W[:3, 3]
    half = 0.5 * np.abs(np.asarray(approach)) @ np.asarray(size)
    assert (centre - knuck) @ np.asarray(approach) == pytest.approx(0.15 + half, abs=1e-6)
    # fingertips lie farther out along the fingers than the knuckles, nearer the object than the wrist
    tips = model.fingertip_positions(q0)
    assert np.all(np.linalg.norm(tips - centre, axis=1) > 0.1)
    closing = model.fingertip_positions(preset_pose(model, "power grasp", q0[:6])).mean(0) - tips.mean(0)
    if model.spec.name != "panda_gripper":  # closing the fingers moves the tips towards the object side
        assert closing @ np.asarray(approach) > 0.0
