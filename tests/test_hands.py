"""Hand models: specs, URDFs (pinocchio, SAPIEN, dex-retargeting), kinematics, limits."""

import numpy as np
import pytest

from unihm_core.errors import ConfigError, JointLimitError, UnknownHandError
from unihm_core.hands import (
    HAND_NAMES,
    ROBOT_HAND_NAMES,
    HandSpec,
    euler_xyz_to_matrix,
    load_hand,
    load_spec,
    matrix_to_euler_xyz,
    q_to_wrist_pose,
    urdf_path,
    wrist_pose_to_q,
)
from unihm_core.hands.poses import PRESETS, preset_pose

EXPECTED_DOF = {  # 6 wrist + actuated finger joints of the real robots
    "shadow": 30, "allegro": 22, "schunk_svh": 15, "leap": 22, "ability": 12, "inspire": 12,
    "panda_gripper": 7, "human": 26,
}


@pytest.mark.parametrize("name", HAND_NAMES)
def test_urdf_loads_in_pinocchio(name):
    import pinocchio as pin

    model = pin.buildModelFromUrdf(str(urdf_path(name)))
    spec = load_spec(name)
    assert model.nq == sum(j.type != "fixed" for j in spec.joints)
    for link in spec.fingertip_links:
        assert model.existFrame(link)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_dof_names_and_limits(name):
    hand = load_hand(name)
    assert hand.dof == EXPECTED_DOF[name]
    assert hand.joint_names[:6] == tuple(f"dummy_{a}_translation_joint" for a in "xyz") + tuple(
        f"dummy_{a}_rotation_joint" for a in "xyz")
    assert np.all(hand.lower < hand.upper)
    assert len(hand.fingertip_links) == len(hand.spec.fingers)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_fingertip_jacobians_match_finite_differences(name):
    hand = load_hand(name)
    rng = np.random.default_rng(1234)
    eps = 1e-6
    for _ in range(50):
        q = hand.random(rng)
        # keep finite differences inside the limits
        q[6:] = np.clip(q[6:], hand.lower[6:] + 2 * eps, hand.upper[6:] - 2 * eps)
        pos, jac = hand.fingertip_jacobians(q)
        assert np.allclose(pos, hand.fingertip_positions(q))
        num = np.empty_like(jac)
        for k in range(hand.dof):
            dq = np.zeros(hand.dof)
            dq[k] = eps
            num[:, :, k] = (hand.fingertip_positions(q + dq) - hand.fingertip_positions(q - dq)) / (2 * eps)
        assert np.abs(jac - num).max() < 1e-6


@pytest.mark.parametrize("name", [n for n in HAND_NAMES if any(j.mimic for j in load_spec(n).joints)])
def test_mimic_joints_follow_ratios(name):
    hand = load_hand(name)
    rng = np.random.default_rng(7)
    q = hand.random(rng)
    full = hand.expand(q)
    names = list(hand.model.names)
    spec = hand.spec
    for j in spec.joints:
        if j.mimic is None:
            continue
        src = full[hand.model.joints[names.index(j.mimic.joint)].idx_q]
        dst = full[hand.model.joints[names.index(j.name)].idx_q]
        assert dst == pytest.approx(j.mimic.multiplier * src + j.mimic.offset, abs=1e-12)
    assert all(j.mimic is None for j in spec.actuated_joints)
    assert not set(hand.joint_names) & {j.name for j in spec.joints if j.mimic}


def test_fk_rejects_out_of_limit_and_clamp_projects():
    hand = load_hand("allegro")
    q = hand.zero()
    q[7] = hand.upper[7] + 0.2
    with pytest.raises(JointLimitError, match="outside"):
        hand.fk(q)
    qc = hand.clamp(q)
    assert qc[7] == hand.upper[7]
    hand.fk(qc)
    with pytest.raises(JointLimitError, match="NaN"):
        hand.fk(np.full(hand.dof, np.nan))
    with pytest.raises(JointLimitError, match="expected"):
        hand.fk(np.zeros(3))


def test_batch_fk_matches_single():
    hand = load_hand("shadow")
    q = hand.random(np.random.default_rng(0), n=4)
    batch = hand.fk(q)
    assert batch.link_poses.shape == (4, len(hand.link_names), 4, 4)
    for i in range(4):
        assert np.allclose(batch.fingertips[i], hand.fingertip_positions(q[i]))


def test_wrist_moves_hand_rigidly():
    hand = load_hand("leap")
    q = preset_pose(hand, "power grasp")
    base = hand.fingertip_positions(q)
    q2 = q.copy()
    q2[:6] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6]
    T = q_to_wrist_pose(q2[:6])
    moved = hand.fingertip_positions(q2)
    assert np.allclose(moved, base @ T[:3, :3].T + T[:3, 3], atol=1e-9)


def test_euler_round_trip():
    rng = np.random.default_rng(3)
    r = rng.uniform(-1.4, 1.4, size=(20, 3))
    assert np.allclose(matrix_to_euler_xyz(euler_xyz_to_matrix(r)), r)
    T = q_to_wrist_pose(np.concatenate([rng.normal(size=(20, 3)), r], 1))
    assert np.allclose(q_to_wrist_pose(wrist_pose_to_q(T)), T)


def test_unknown_hand_message():
    with pytest.raises(UnknownHandError, match="choose one of: shadow"):
        load_hand("robotiq")


def test_spec_validation():
    d = {"name": "bad", "root_link": "a", "palm_link": "a", "link_radius": 0.01, "fingers": ["f"],
         "fingertip_links": ["c"], "joints": [
             {"name": "j2", "type": "revolute", "parent": "b", "child": "c", "lower": 0, "upper": 1},
             {"name": "j1", "type": "revolute", "parent": "a", "child": "b", "lower": 0, "upper": 1}]}
    with pytest.raises(ConfigError, match="parents-first"):
        HandSpec.from_dict(d)
    d["joints"] = d["joints"][::-1]
    HandSpec.from_dict(d)
    d["joints"][0]["upper"] = -1
    with pytest.raises(ConfigError, match="lower limit"):
        HandSpec.from_dict(d)


def test_human_hand_proportions():
    hand = load_hand("human")
    kp = hand.keypoints(preset_pose(hand, "open"))
    assert kp.shape == (21, 3)
    length = np.linalg.norm(kp[12] - kp[0])  # wrist to middle fingertip
    assert 0.17 < length < 0.21
    bones = np.linalg.norm(kp[[6, 7, 8]] - kp[[5, 6, 7]], axis=1)
    assert np.all(bones > 0.015) and np.all(bones < 0.05)
    # flexion curls towards the palm (+x)
    closed = hand.keypoints(preset_pose(hand, "power grasp"))
    assert closed[8, 0] > kp[8, 0] + 0.03


@pytest.mark.parametrize("name", HAND_NAMES)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_within_limits(name, preset):
    hand = load_hand(name)
    q = preset_pose(hand, preset)
    assert hand.within_limits(q)


@pytest.mark.parametrize("name", ROBOT_HAND_NAMES)
def test_power_grasp_brings_fingertips_together(name):
    hand = load_hand(name)
    open_tips = hand.fingertip_positions(preset_pose(hand, "open"))
    closed_tips = hand.fingertip_positions(preset_pose(hand, "power grasp"))
    spread = lambda p: np.linalg.norm(p - p.mean(0), axis=1).mean()  # noqa: E731
    assert spread(closed_tips) < spread(open_tips) + 1e-9
