"""Retargeting human keypoint sequences to every hand with dex-retargeting."""

import numpy as np
import pytest

from unihm_core.errors import InputError
from unihm_core.hands import HAND_NAMES, ROBOT_HAND_NAMES, load_hand
from unihm_core.hands.poses import preset_pose
from unihm_core.hands.retarget import build_retargeting, human_hand_frame, retarget_sequence

T = 16


@pytest.fixture(scope="module")
def human_grasp():
    """A smooth human grasp: the hand closes from open to a power grasp, wrist fixed."""
    hand = load_hand("human")
    wrist = np.array([0.05, 0.02, 0.12, 0.3, 1.2, 0.4])
    q0, q1 = preset_pose(hand, "open", wrist), preset_pose(hand, "power grasp", wrist)
    s = (1 - np.cos(np.linspace(0, np.pi, T))) / 2  # smooth in time
    kp = hand.keypoints(q0 * (1 - s[:, None]) + q1 * s[:, None])
    return kp


def _order_checks(tips: np.ndarray, kp_last: np.ndarray) -> None:
    """Thumb opposes the fingers around the object; fingers keep the human's radial order."""
    frame = human_hand_frame(kp_last)
    radial = frame[:3, 1]
    centre = tips.mean(0)
    thumb, fingers = tips[0] - centre, tips[1:].mean(0) - centre
    assert thumb @ fingers < 0, "thumb must be on the other side of the object from the fingers"
    proj = tips[1:] @ radial
    assert np.all(np.diff(proj) < 0.005), f"fingers out of radial order: {proj}"


@pytest.mark.parametrize("name", ROBOT_HAND_NAMES)
def test_shipped_config_builds_with_our_urdf(name):
    retargeting = build_retargeting(name)
    model = load_hand(name)
    assert set(model.joint_names) <= set(retargeting.joint_names)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_retarget_grasp_within_limits_and_ordered(name, human_grasp):
    res = retarget_sequence(human_grasp, name)
    hand = load_hand(name)
    assert res.q.shape == (T, hand.dof)
    assert hand.within_limits(res.q).all()
    tips = hand.fingertip_positions(res.q[-1])
    if name == "panda_gripper":
        # two fingers: the gripper closes along the human thumb-index axis, between them
        human_axis = human_grasp[-1, 4] - human_grasp[-1, 8]
        grip_axis = tips[0] - tips[1]
        cos = abs(grip_axis @ human_axis) / np.linalg.norm(grip_axis) / np.linalg.norm(human_axis)
        assert cos > 0.7
        assert np.linalg.norm(tips.mean(0) - human_grasp[-1, [4, 8]].mean(0)) < 0.015  # the tips, not the finger bases
    else:
        _order_checks(tips, human_grasp[-1])
        assert res.tip_error.max() < 0.04
    # smooth output: no jumps between frames
    assert np.abs(np.diff(res.q[:, 6:], axis=0)).max() < 0.6


def test_human_grasp_itself_is_ordered(human_grasp):
    _order_checks(human_grasp[-1, [4, 8, 12, 16, 20]], human_grasp[-1])


def test_bad_keypoints_rejected():
    with pytest.raises(InputError, match=r"\(T, 21, 3\)"):
        retarget_sequence(np.zeros((4, 20, 3)), "allegro")
    kp = np.zeros((2, 21, 3))
    kp[0, 3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        retarget_sequence(kp, "allegro")


@pytest.mark.parametrize("name", ["shadow", "allegro", "panda_gripper"])
def test_numpy_objective_equals_dex_retargeting(name):
    """Our numpy position objective returns dex-retargeting's torch value and gradient."""
    from dex_retargeting.optimizer import PositionOptimizer

    from unihm_core.hands.retarget import position_objective

    opt = build_retargeting(name).optimizer
    rng = np.random.default_rng(0)
    lo, hi = np.array(opt.opt.get_lower_bounds()), np.array(opt.opt.get_upper_bounds())
    for k in range(6):
        x = rng.uniform(np.maximum(lo, -1.0), np.minimum(hi, 1.0))
        # half the cases near the links (Huber's quadratic branch), half far away (linear branch)
        scale = 0.005 if k % 2 else 0.2
        target = rng.normal(size=(len(opt.target_link_indices), 3)) * scale
        fixed = np.zeros(len(opt.idx_pin2fixed))
        last = (x + rng.normal(size=x.shape) * 0.01).astype(np.float32)
        g_ref, g_ours = np.zeros_like(x), np.zeros_like(x)
        v_ref = PositionOptimizer.get_objective_function(opt, target, fixed, last)(x, g_ref)
        v_ours = position_objective(opt, target, fixed, last)(x, g_ours)
        assert v_ours == pytest.approx(v_ref, abs=1e-12)
        np.testing.assert_allclose(g_ours, g_ref, atol=1e-12)


def _carried(kp: np.ndarray, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The last frame of ``kp`` held for ``n`` frames while its object is lifted 12 cm and
    turned 90 degrees about z (the object frame starts at the keypoints' centroid)."""
    from scipy.spatial.transform import Rotation

    s = (1 - np.cos(np.linspace(0, np.pi, n))) / 2
    P = np.repeat(np.eye(4)[None], n, axis=0)
    P[:, :3, :3] = Rotation.from_rotvec(np.outer(s, [0, 0, np.pi / 2])).as_matrix()
    centre = kp[-1].mean(0)
    P[:, :3, 3] = centre + np.outer(s, [0, 0, 0.12])
    local = kp[-1] - centre
    moving_kp = np.einsum("tij,kj->tki", P[:, :3, :3], local) + P[:, None, :3, 3]
    object_poses = np.concatenate([np.repeat(P[:1], len(kp), axis=0), P])
    object_poses[: len(kp), :3, 3] = centre
    return np.concatenate([kp, moving_kp]), object_poses


@pytest.mark.parametrize("name", ["shadow", "allegro", "inspire"])
def test_object_motion_keeps_the_grasp(name, human_grasp):
    """With the object's poses the robot's palm stays put on a carried object (no lag)."""
    kp, P = _carried(human_grasp)
    hand = load_hand(name)
    moving = slice(T, None)

    def palm_drift(q):
        palm = hand.link_positions(q, (hand.spec.palm_link,))[moving, 0]
        inv = np.linalg.inv(P[moving])
        local = np.einsum("tij,tj->ti", inv[:, :3, :3], palm) + inv[:, :3, 3]
        return np.linalg.norm(local - local[0], axis=1).max()

    with_poses = retarget_sequence(kp, name, object_poses=P)
    without = retarget_sequence(kp, name)
    assert hand.within_limits(with_poses.q).all()
    # measured: shadow 5 mm (74 mm without the poses), allegro 0.6 mm (11), inspire 9 mm (194)
    assert palm_drift(with_poses.q) < 0.01
    assert palm_drift(with_poses.q) < 0.25 * palm_drift(without.q)
    # the wrist turns smoothly (its Euler coordinates may swing near Ry = +-pi/2, the rotation may not)
    from unihm_core.hands import euler_xyz_to_matrix

    R = euler_xyz_to_matrix(with_poses.q[T:, 3:6])  # the object turns <= 0.08 rad per frame
    cos = (np.einsum("tij,tij->t", R[1:], R[:-1]) - 1) / 2
    assert np.arccos(np.clip(cos, -1, 1)).max() < 0.15


def test_object_poses_validated(human_grasp):
    with pytest.raises(InputError, match="object_poses"):
        retarget_sequence(human_grasp, "allegro", object_poses=np.eye(4)[None])


def test_nearest_euler_picks_the_continuous_branch():
    from unihm_core.hands.model import euler_xyz_to_matrix
    from unihm_core.hands.retarget import nearest_euler

    prev = np.array([1.5, 1.7, 0.1])  # past Ry = pi/2, and rx near pi/2
    R = euler_xyz_to_matrix(prev + 0.01)
    np.testing.assert_allclose(nearest_euler(R, prev), prev + 0.01, atol=1e-9)
    prev = np.array([3.1, 0.2, -3.1])
    R = euler_xyz_to_matrix(np.array([3.2, 0.2, -3.2]))  # wraps past +-pi
    np.testing.assert_allclose(nearest_euler(R, prev), [3.2, 0.2, -3.2], atol=1e-9)
