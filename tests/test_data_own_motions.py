"""Each hand's own motions (unihm_core.data.dexterous_grasp, push_contact, own_motions): the grasp's
geometry, the trajectory's phases, and that the grasps hold in SAPIEN where open hands do not."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from unihm_core.data.dexterous_grasp import IK_TOLERANCE, MAX_LINK_PENETRATION, dexterous_trajectories, hand_axes, pinch_grasps
from unihm_core.data.own_motions import own_trajectories
from unihm_core.data.push_contact import GAP, push_pose, push_trajectory
from unihm_core.data.validation import moving_frames
from unihm_core.hands import load_hand, q_to_wrist_pose
from unihm_core.refine.whole_hand import hull_distance, hull_planes

DEXTEROUS = ("shadow", "allegro", "leap", "ability", "inspire", "human")


def _box(size, centre, n=3000, seed=0):
    box = trimesh.creation.box(size)
    box.apply_translation((0, 0, size[2] / 2))
    pts, faces = trimesh.sample.sample_surface_even(box, n, seed=seed)
    return pts + centre, box.face_normals[faces], box


def _plan(centre, T=60, start=30, lift=0.10, slide=None):
    """Rest until ``start``, then lift by ``lift`` (or slide by ``slide``) over 15 frames and hold."""
    P = np.repeat(np.eye(4)[None], T, 0)
    P[:, :3, 3] = centre
    step = np.array([0.0, 0.0, lift]) if slide is None else np.asarray(slide, float)
    for t in range(start, T):
        P[t, :3, 3] += step * min(1.0, (t - start) / 15)
    return P


@pytest.mark.parametrize("hand", DEXTEROUS)
def test_hand_axes_are_orthonormal_and_the_palm_faces_the_closing_fingers(hand):
    from unihm_core.hands.poses import preset_pose

    m = load_hand(hand)
    ax = hand_axes(m)
    assert np.linalg.norm(ax.finger) == pytest.approx(1) and np.linalg.norm(ax.palm) == pytest.approx(1)
    assert abs(ax.finger @ ax.palm) < 1e-9
    closing = m.fingertip_positions(preset_pose(m, "power grasp"))[1:] - m.fingertip_positions(preset_pose(m, "open"))[1:]
    assert (closing @ ax.palm).mean() > 0.01  # fingers close towards the palm side
    assert len(ax.knuckles) == len(m.spec.fingertip_links) - 1


@pytest.mark.parametrize("hand", ("shadow", "allegro", "human"))
def test_pinch_puts_the_thumb_and_two_fingers_on_opposite_sides_without_links_inside(hand):
    m = load_hand(hand)
    pts, nrm, _ = _box((0.05, 0.09, 0.08), np.array([0.0, 0.35, 0.0]))
    grasps = pinch_grasps(m, pts, nrm)
    assert grasps, "no feasible pinch of a 5 x 9 x 8 cm box"
    g = grasps[0]
    assert g.width == pytest.approx(0.05, abs=0.004)  # across the narrow side
    assert abs(g.jaw_axis[0]) > 0.99
    planes = hull_planes(pts)
    tips = m.fingertip_positions(g.q)
    d, _ = hull_distance(planes, tips)
    r = m.spec.link_radius
    along = (tips - pts.mean(0)) @ g.jaw_axis
    assert d[0] < r + IK_TOLERANCE and along[0] < 0  # thumb touching, on the near side
    touching = np.flatnonzero((d[1:] < r + IK_TOLERANCE) & (along[1:] > 0))
    assert len(touching) >= 2  # two fingers opposing it
    assert g.penetration <= MAX_LINK_PENETRATION
    knuckles = m.link_positions(g.q, hand_axes(m).knuckles)
    assert knuckles[:, 2].mean() > pts[:, 2].max()  # the palm stays above the object
    pre = m.fingertip_positions(g.q_pre)
    assert (hull_distance(planes, pre)[0] >= r).all()  # the digits come down beside it


def test_no_pinch_for_an_object_wider_than_the_hand():
    pts, nrm, _ = _box((0.30, 0.30, 0.05), np.array([0.0, 0.4, 0.0]))
    assert pinch_grasps(load_hand("allegro"), pts, nrm) == []


def test_pinch_trajectory_phases():
    m = load_hand("shadow")
    centre = np.array([0.0, 0.35, 0.0])
    pts, nrm, _ = _box((0.05, 0.09, 0.08), centre)
    P = _plan(centre)
    cands = dexterous_trajectories(m, pts - centre, nrm, P, moving_frames(P), "grab")
    assert cands
    q, g = cands[0]
    a = int(np.flatnonzero(moving_frames(P))[0]) - 1
    assert np.allclose(q[a], m.clamp(g.q), atol=1e-6)  # grasped by the anchor frame
    assert q[0, 2] > q[a, 2] + 0.09  # came straight down from above
    assert np.allclose(q[0, :2], q[a, :2], atol=1e-6)
    assert np.allclose(q[0, 6:], m.clamp(g.q_pre)[6:])  # digits open on the way down
    W = q_to_wrist_pose(q[:, :6])
    rel = np.linalg.inv(P) @ W
    assert np.allclose(rel[a:], rel[a], atol=1e-6)  # carried rigidly (the object stays in the air)
    assert dexterous_trajectories(m, pts - centre, nrm, P, moving_frames(P), "open") == []


@pytest.mark.parametrize("hand", ("shadow", "allegro"))
def test_pinch_lifts_a_box_in_physics_and_open_digits_do_not(hand):
    from unihm_core.sim.execution import ExecutionConfig, execution_check

    m = load_hand(hand)
    centre = np.array([0.0, 0.35, 0.0])
    pts, nrm, box = _box((0.05, 0.09, 0.08), centre)
    P = _plan(centre)
    q, g = dexterous_trajectories(m, pts - centre, nrm, P, moving_frames(P), "grab")[0]
    cfg = ExecutionConfig(disturbance=False)
    rep = execution_check(hand, q, box, P, "grab", config=cfg)
    assert rep.success, rep.reason
    assert rep.object_poses[-1, 2, 3] > 0.09 and rep.max_link_penetration < 0.005
    q_open = q.copy()
    q_open[:, 6:] = m.clamp(g.q_pre)[6:]
    rep_open = execution_check(hand, q_open, box, P, "grab", config=cfg)
    assert not rep_open.success and rep_open.failure == "never_moved", rep_open.reason


def test_push_pose_stands_behind_the_object_above_the_table():
    from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics

    m = load_hand("shadow")
    pts, _, _ = _box((0.06, 0.06, 0.10), np.array([0.0, 0.35, 0.0]))
    d = np.array([0.0, 1.0, 0.0])
    q = push_pose(m, pts, d)
    hs = hand_spheres(m)
    X = sphere_kinematics(m, q[None])[0][0]
    real = ~hs.table_only
    assert (X[real, 2] - hs.radius[real]).min() > 0.003  # off the table
    low = real & (X[:, 2] <= pts[:, 2].max())
    front = (X[low] @ d + hs.radius[low]).max()
    assert front == pytest.approx((pts @ d).min() - GAP, abs=1e-6)  # just behind the rear face


def test_push_trajectory_follows_the_planned_translation_and_pushes_the_box():
    from unihm_core.sim.execution import ExecutionConfig, execution_check

    m = load_hand("shadow")
    centre = np.array([0.0, 0.35, 0.0])
    pts, nrm, box = _box((0.06, 0.06, 0.06), centre)
    P = _plan(centre, slide=(0.0, 0.10, 0.0))
    mv = moving_frames(P)
    q = push_trajectory(m, pts - centre, P, mv, "push")
    a = int(np.flatnonzero(mv)[0]) - 1
    assert np.allclose(q[40, :3] - q[a, :3], P[40, :3, 3] - P[a, :3, 3], atol=1e-6)
    assert push_trajectory(m, pts - centre, P, mv, "grab") is None
    rep = execution_check("shadow", q, box, P, "push", config=ExecutionConfig(disturbance=False))
    assert rep.position_error[-1] < 0.03, rep.reason  # the object ends where the plan puts it


def test_own_trajectories_by_task():
    centre = np.array([0.0, 0.35, 0.0])
    pts, nrm, _ = _box((0.05, 0.09, 0.08), centre)
    lift, slide = _plan(centre), _plan(centre, slide=(0.0, 0.10, 0.0))
    shadow, panda = load_hand("shadow"), load_hand("panda_gripper")
    assert {s for _, s in own_trajectories(shadow, pts - centre, nrm, lift, moving_frames(lift), "grab")} == {"pinch_top"}
    srcs = [s for _, s in own_trajectories(shadow, pts - centre, nrm, slide, moving_frames(slide), "push")]
    assert srcs[-1] == "flat_push" and srcs[0] == "pinch_top"
    assert own_trajectories(panda, pts - centre, nrm, lift, moving_frames(lift), "grab")[0][1].startswith("antipodal")
    assert own_trajectories(shadow, pts - centre, nrm, lift, moving_frames(lift), "open") == []


def _drawer_plan(obj, T=60, start=28, travel=0.10, base_xy=(0.0, 0.40)):
    """The drawer's planned moving-part poses and joint values: closed, then pulled out by ``travel``."""
    base = np.eye(4)
    base[:2, 3] = base_xy
    jv = np.zeros(T)
    for t in range(start, T):
        jv[t] = travel * min(1.0, (t - start) / 16)
    P = np.stack([base @ obj.joint.transform(v) for v in jv])
    return P, jv


def test_drawer_handle_pinch_opens_the_drawer_in_physics_and_open_digits_do_not():
    from unihm_core.data.objects import make_object
    from unihm_core.data.own_motions import FRONT, articulated_inputs
    from unihm_core.data.dexterous_grasp import handle_trajectories
    from unihm_core.sim.execution import ArticulatedObject, ExecutionConfig, execution_check

    obj = make_object("drawer", 7)  # one instance; the rates over a build are in the build card
    P, jv = _drawer_plan(obj)
    mv = moving_frames(P)
    hp, hn, mov, static = articulated_inputs(obj, jv, P)
    m = load_hand("shadow")
    cands = handle_trajectories(m, hp, hn, mov, static, P, mv, FRONT)
    assert cands, "no handle pinch of the drawer"
    q, g = cands[0]
    # thumb under the bar, two fingers on it
    tips = m.fingertip_positions(q[int(np.flatnonzero(mv)[0]) - 1])
    a = int(np.flatnonzero(mv)[0]) - 1
    bar = hp @ P[a, :3, :3].T + P[a, :3, 3]
    assert tips[0, 2] < bar[:, 2].min() and (tips[1:, 2] > bar[:, 2].max()).sum() >= 2  # two fingers on it
    art = ArticulatedObject(obj.joint, obj.static_mesh, obj.moving_mesh, jv)
    cfg = ExecutionConfig(disturbance=False)
    outcomes = [execution_check("shadow", qc, None, P, "open", articulation=art, config=cfg) for qc, _ in cands]
    assert any(rep.success for rep in outcomes), [rep.reason for rep in outcomes]
    best = next(rep for rep in outcomes if rep.success)
    assert best.joint_travel_fraction >= 0.8
    q_open = q.copy()
    q_open[:, 6:] = m.clamp(g.q_pre)[6:]
    rep_open = execution_check("shadow", q_open, None, P, "open", articulation=art, config=cfg)
    assert not rep_open.success, rep_open.reason  # the pinch, not the hand's motion alone, pulls it out
