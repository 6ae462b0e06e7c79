"""Antipodal gripper grasps (unihm_core.data.gripper_grasp): geometry of the chosen grasp, the
trajectory's phases, and that the grasp holds a box when executed in SAPIEN."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from unihm_core.data.gripper_grasp import MAX_WIDTH, PAD_INSET, SQUEEZE, gripper_trajectory, side_grasp, top_grasp
from unihm_core.data.validation import moving_frames
from unihm_core.hands import load_hand


def _box_surface(size, centre, n=3000, seed=0):
    box = trimesh.creation.box(size)
    pts, faces = trimesh.sample.sample_surface_even(box, n, seed=seed)
    return pts + centre, box.face_normals[faces], box


def _lift_poses(centre, T=45, start=25, lift=0.10):
    P = np.repeat(np.eye(4)[None], T, 0)
    P[:, :3, 3] = centre
    for t in range(start, T):
        P[t, 2, 3] += lift * min(1.0, (t - start) / 12)
    return P


def test_top_grasp_closes_across_the_narrow_side_with_normals_along_the_jaws():
    centre = np.array([0.1, 0.3, 0.03])
    pts, nrm, _ = _box_surface((0.12, 0.05, 0.06), centre)
    g = top_grasp(pts, nrm)
    assert g is not None and g.kind == "top"
    assert abs(abs(g.jaw_axis[1]) - 1.0) < 1e-6  # the 5 cm side, not the 12 cm one
    assert g.width == pytest.approx(0.05, abs=2e-3)
    assert g.quality > 0.9
    assert np.allclose(g.tcp[:2], centre[:2], atol=3e-3)
    assert g.finger == pytest.approx(g.width / 2 + PAD_INSET - SQUEEZE)
    # the hand points down, its y axis is the jaw axis, and the TCP lies 10.34 cm along its z
    assert np.allclose(g.wrist[:3, 2], [0, 0, -1])
    assert np.allclose(g.wrist[:3, 1], g.jaw_axis)
    assert np.allclose(g.wrist[:3, 3] + 0.1034 * g.wrist[:3, 2], g.tcp)


def test_no_grasp_for_an_object_wider_than_the_stroke():
    pts, nrm, _ = _box_surface((MAX_WIDTH + 0.02, MAX_WIDTH + 0.02, 0.05), np.array([0, 0.3, 0.025]))
    assert top_grasp(pts, nrm) is None
    assert side_grasp(pts, nrm) is None


def test_tall_object_is_taken_from_the_side_at_mid_height():
    centre = np.array([0.0, 0.3, 0.11])
    pts, nrm, _ = _box_surface((0.05, 0.05, 0.22), centre)
    g = side_grasp(pts, nrm)
    assert g is not None and g.kind == "side"
    assert abs(g.wrist[2, 2]) < 1e-9  # approach axis horizontal
    assert g.tcp[2] == pytest.approx(0.11, abs=1e-3)
    # the housing's face stays 5 mm or more in front of the object
    near = (pts @ g.wrist[:3, 2]).min()
    palm_face = g.wrist[:3, 3] @ g.wrist[:3, 2] + 0.061
    assert near - palm_face >= 0.005 - 1e-6


def test_trajectory_phases_approach_close_carry_release():
    model = load_hand("panda_gripper")
    centre = np.array([0.0, 0.3, 0.03])
    pts, nrm, box = _box_surface((0.05, 0.05, 0.06), centre)
    P = _lift_poses(centre)
    local = pts - centre
    out = gripper_trajectory(model, local, P, moving_frames(P), "grab", nrm)
    assert out is not None
    q, g = out
    assert q.shape == (len(P), model.dof)
    assert q[0, 6] == pytest.approx(model.upper[6])  # open during the approach
    assert q[0, 2] > q[20, 2] + 0.05  # comes down from above
    a = int(np.flatnonzero(moving_frames(P))[0]) - 1
    assert q[a, 6] == pytest.approx(g.finger)  # closed by the anchor frame
    # carried rigidly: the wrist keeps its offset to the object while it moves
    from unihm_core.hands import q_to_wrist_pose

    W = q_to_wrist_pose(q[:, :6])
    rel = np.linalg.inv(P) @ W
    assert np.allclose(rel[a:40], rel[a], atol=1e-6)
    assert gripper_trajectory(model, local, P, moving_frames(P), "push", nrm) is None


def test_top_grasp_lifts_a_box_in_physics():
    from unihm_core.sim.execution import ExecutionConfig, execution_check

    model = load_hand("panda_gripper")
    centre = np.array([0.0, 0.3, 0.03])
    pts, nrm, box = _box_surface((0.05, 0.12, 0.06), centre)
    P = _lift_poses(centre)
    q, _ = gripper_trajectory(model, pts - centre, P, moving_frames(P), "grab", nrm)
    rep = execution_check("panda_gripper", q, box, P, "grab", config=ExecutionConfig(disturbance=False))
    assert rep.success, rep.reason
    assert rep.position_error[30:].max() < 0.03
    # the same grasp without closing the jaws does not lift it: the check judges the grip
    q_open = q.copy()
    q_open[:, 6] = model.upper[6]
    rep_open = execution_check("panda_gripper", q_open, box, P, "grab", config=ExecutionConfig(disturbance=False))
    assert not rep_open.success
