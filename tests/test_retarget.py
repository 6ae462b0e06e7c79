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
        assert np.linalg.norm(tips.mean(0) - human_grasp[-1, [4, 8]].mean(0)) < 0.06
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
