"""The grasp-search prototype's building blocks (unihm_core.data.grasps) and the force squeeze."""

import numpy as np
import pytest

from unihm_core.data.grasps import closing_targets, finger_groups, transfer_grasp
from unihm_core.hands import load_hand, q_to_wrist_pose
from unihm_core.sim.execution import force_squeeze_targets


def _moving_object(T=30, a=10):
    P = np.tile(np.eye(4), (T, 1, 1))
    for t in range(a + 1, T):
        P[t, :3, 3] = [0.0, 0.0, 0.005 * (t - a)]
        c, s = np.cos(0.02 * (t - a)), np.sin(0.02 * (t - a))
        P[t, :2, :2] = [[c, -s], [s, c]]
    return P


def _trajectory(model, T=30, a=10, seed=0):
    rng = np.random.default_rng(seed)
    q_open = model.clamp(np.r_[0.0, -0.2, 0.1, 0.1, 0.2, 0.3, (model.lower[6:] + model.upper[6:]) / 2 * 0.2])
    q_grasp = q_open.copy()
    q_grasp[:3] += [0.0, 0.1, -0.05]
    q_grasp[6:] = model.clamp(q_open + rng.uniform(0.0, 0.4, model.dof))[6:]
    s = np.clip(np.arange(T) / a, 0.0, 1.0)
    return q_open + s[:, None] * (q_grasp - q_open)


def test_transfer_of_the_same_grasp_is_the_identity():
    model = load_hand("allegro")
    q, P = _trajectory(model), _moving_object()
    out = transfer_grasp(model, q, P, 10, q_to_wrist_pose(q[10, :6]), q[10])
    np.testing.assert_allclose(out, model.clamp(q), atol=1e-9)


def test_transferred_grasp_is_rigid_in_the_object_frame_while_carried():
    model = load_hand("allegro")
    q, P = _trajectory(model), _moving_object()
    # a rigid carry of the old grasp, then a new grasp 2 cm to the side and turned by 20 degrees
    W = q_to_wrist_pose(q[:, :6])
    for t in range(11, 30):
        W[t] = P[t] @ np.linalg.inv(P[10]) @ W[10]
    from unihm_core.hands.model import wrist_pose_to_q

    q[11:, :6] = wrist_pose_to_q(W[11:])
    new = W[10].copy()
    new[:3, 3] += [0.02, 0.0, 0.0]
    c, s = np.cos(0.35), np.sin(0.35)
    new[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ new[:3, :3]
    out = transfer_grasp(model, q, P, 10, new, q[10])
    W2 = q_to_wrist_pose(out[:, :6])
    rel = [np.linalg.inv(P[t]) @ W2[t] for t in range(10, 30)]
    for R in rel[1:]:
        np.testing.assert_allclose(R, rel[0], atol=1e-6)
    np.testing.assert_allclose(W2[10], new, atol=1e-6)
    assert not np.allclose(out[:, :3], q[:, :3])  # the approach moved with the grasp


def test_finger_groups_and_closing_targets():
    panda = load_hand("panda_gripper")
    q = panda.clamp(np.r_[np.zeros(6), 0.03])
    groups = finger_groups(panda, q)
    assert [g.tolist() for g in groups] == [[6]]  # one mimic jaw moves both fingertips
    closed = closing_targets(panda, np.r_[np.zeros(6), 0.04], np.r_[np.zeros(6), 0.03])
    assert closed[6] == pytest.approx(panda.lower[6])  # a closing jaw closes to its limit
    allegro = load_hand("allegro")
    qa = allegro.clamp(np.r_[np.zeros(6), np.full(allegro.dof - 6, 0.3)])
    assert len(finger_groups(allegro, qa)) == 4
    q0, q1 = qa.copy(), qa.copy()
    q1[7] += 0.3  # only one joint closes
    closed = closing_targets(allegro, q0, q1)
    assert closed[7] == pytest.approx(allegro.upper[7])
    np.testing.assert_allclose(np.delete(closed, 7), np.delete(q1, 7))


def test_force_squeeze_presses_a_touching_fingertip_towards_the_object():
    model = load_hand("allegro")
    q = model.clamp(np.r_[np.zeros(6), np.full(model.dof - 6, 0.4)])[None].repeat(3, 0)
    tip = model.fingertip_positions(q[0])[1]
    radius = 0.03
    centre = tip + np.array([0.0, 0.0, -(radius + model.spec.link_radius)])  # the sphere under the tip
    rng = np.random.default_rng(0)
    n = rng.normal(size=(2000, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    P = np.tile(np.eye(4), (3, 1, 1))
    P[:, :3, 3] = centre
    out = force_squeeze_targets(model, q, P, radius * n, n, np.array([0.0, 1.0, 1.0]), 4.0, 0.01, 20.0, 2e3)
    np.testing.assert_array_equal(out[0], q[0])  # weight 0: unchanged
    moved = model.fingertip_positions(out[1])[1] - tip
    assert moved @ (centre - tip) > 0  # pressed into the object
    assert np.linalg.norm(moved) < 0.01  # a bounded press (4 N / 20 N m/rad), not a jump
    np.testing.assert_array_equal(out[1, :6], q[1, :6])  # the wrist is not moved
    none = force_squeeze_targets(model, q, P, radius * n, n, np.ones(3), 0.0, 0.01, 20.0, 2e3)
    np.testing.assert_array_equal(none, q)
