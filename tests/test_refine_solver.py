"""Algorithm 1 end to end: monotone energy, limits, caps, input validation, contact on known
geometry for every hand, and the Fig. B2 noise-robustness comparison."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import InputError
from unihm_core.hands import HAND_NAMES, load_hand
from unihm_core.refine import (CONVERGED, HIT_CAP, ObjectSurface, contact_terms, history,
                               prior_energies, prior_weights)
from unihm_core.refine.fingertips import FingertipKinematics
from unihm_core.refine.synthetic import Primitive, fit_primitive, grasp_pose, lift_scene

from unihm_core.refine import RefineConfig as _RefineConfig
from unihm_core.refine import refine as _refine


def RefineConfig(**kw):  # noqa: N802 -- these tests are about Algorithm 1, the paper's energy
    return _RefineConfig(**{"energy": "paper", **kw})


def refine(*args, config=None, **kw):
    """Algorithm 1 (``energy="paper"``) unless a test passes its own config."""
    return _refine(*args, config=config if config is not None else RefineConfig(), **kw)


@pytest.fixture(scope="module")
def shadow_scene():
    hand = load_hand("shadow")
    return hand, lift_scene(hand, "sphere", T=24, seed=0)


@pytest.mark.parametrize("backend", ["compiled", "python"])
def test_energy_never_increases_across_accepted_steps(shadow_scene, backend):
    hand, sc = shadow_scene
    res = refine(hand, sc.q_gen, sc.surface, sc.object_poses, trace=True, backend=backend)
    assert res.schedule.mask.any()
    n_acc = 0
    for t, rows in enumerate(res.trace):
        assert len(rows) == res.iterations[t]
        # rows of the start from q_gen (0), then of the restart from q_{t-1}^opt (1), each monotone
        starts = rows[:, 4]
        assert np.all(np.diff(starts) >= 0) and set(starts) == ({0.0} if t == 0 else {0.0, 1.0})
        ends = []
        for k in np.unique(starts):
            seg = rows[starts == k]
            E = seg[0, 0]
            if k == 0:
                assert E == pytest.approx(res.energies["initial_total"][t])
            for e_cur, e_new, accepted, _, _ in seg:
                assert e_cur == pytest.approx(E, rel=1e-12)
                if accepted:
                    assert e_new <= e_cur
                    E = e_new
                    n_acc += 1
            ends.append(E)
        assert min(ends) == pytest.approx(res.energies["total"][t], rel=1e-9)  # the better start is kept
        assert res.energies["total"][t] <= res.energies["initial_total"][t]
    assert n_acc > len(res.trace)
    # the recorded terms add up to E_t (Eq. 16)
    parts = res.energies["contact_total"] + res.energies["gen"] + res.energies["vel"] + res.energies["acc"]
    np.testing.assert_allclose(parts, res.energies["total"], rtol=1e-9)
    np.testing.assert_allclose(res.energies["contact"].sum(1), res.energies["contact_total"])
    assert set(res.status) <= {CONVERGED, "stalled", HIT_CAP} and np.all(res.iterations >= 1)
    assert res.energies["total"].sum() < 0.2 * res.energies["initial_total"].sum()


def test_recorded_energies_recomputed_from_the_result(shadow_scene):
    """Every recorded term equals a fresh evaluation at the returned q_opt (Eq. 13-16), with the
    history of the boundary rule: checks the solver's bookkeeping independently of its loop."""
    hand, sc = shadow_scene
    cfg = RefineConfig()
    res = refine(hand, sc.q_gen, sc.surface, sc.object_poses, config=cfg)
    W = prior_weights(cfg, hand.dof, hand.n_wrist)
    fk = FingertipKinematics(hand)
    for t in range(len(res.q)):
        s, Js = fk(res.q[t])
        ct = contact_terms(s, Js, sc.object_poses[t], sc.surface, res.schedule.mask[t], cfg)
        eg, ev, ea = prior_energies(res.q[t], sc.q_gen[t], *history(res.q, sc.q_gen, t), W)
        np.testing.assert_allclose(res.energies["contact"][t], ct.energy, rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(res.distances[t], ct.d, rtol=0, atol=1e-15)
        np.testing.assert_allclose([res.energies["gen"][t], res.energies["vel"][t], res.energies["acc"][t]],
                                   [eg, ev, ea], rtol=1e-10, atol=1e-18)
        assert res.energies["total"][t] == pytest.approx(ct.total + eg + ev + ea, rel=1e-12)


def test_joints_stay_within_limits():
    hand = load_hand("allegro")
    sc = lift_scene(hand, "box", T=20, seed=1)
    q_gen = sc.q_gen.copy()
    q_gen[:, 6:] += 0.8  # push many finger joints beyond their upper limits
    assert not np.all(hand.within_limits(q_gen))
    res = refine(hand, q_gen, sc.surface, sc.object_poses, config=RefineConfig(lambda0=0.0))
    assert np.all(hand.within_limits(res.q, tol=0.0))
    assert np.array_equal(res.q_gen, q_gen)  # the prior keeps referring to the given values
    assert np.any(res.q == hand.upper)  # the solution sits on active limits


def test_singular_pose_and_unreachable_target_stop_at_the_cap():
    hand = load_hand("shadow")
    q = hand.zero()  # straight fingers: singular finger Jacobians
    tips = hand.fingertip_positions(q)
    pose = np.eye(4)
    pose[:3, 3] = tips.mean(0) + np.array([0.0, 0.0, 8.0])  # beyond the wrist's 5 m travel: unreachable
    rng = np.random.default_rng(0)
    v = rng.normal(size=(500, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    surf = ObjectSurface(0.03 * v, v)
    T = 3
    sched = np.ones((T, len(tips)), bool)
    res = refine(hand, np.repeat(q[None], T, 0), surf, np.repeat(pose[None], T, 0), schedule=sched,
                 config=RefineConfig(max_iters=3, energy_rtol=0.0, energy_atol=0.0, step_tol=1e-14))
    # the cap holds per start: 3 solves at t = 0, 3 + 3 once the restart from q_{t-1}^opt runs too
    assert np.all(res.status == HIT_CAP) and list(res.iterations) == [3, 6, 6]
    assert np.all(np.isfinite(res.q)) and all(np.all(np.isfinite(v)) for v in res.energies.values())
    assert np.all(hand.within_limits(res.q))
    assert not res.converged.any()
    # with the default cap it stops without blowing up, on the wrist limit, short of the target
    res2 = refine(hand, np.repeat(q[None], T, 0), surf, np.repeat(pose[None], T, 0), schedule=sched)
    assert np.all(np.isfinite(res2.q)) and np.all(hand.within_limits(res2.q))
    assert np.all(res2.distances > 2.5) and np.allclose(res2.q[:, 2], hand.upper[2])
    assert np.all(np.isin(res2.status, [CONVERGED, "stalled", HIT_CAP]))


def test_invalid_inputs_are_rejected(shadow_scene):
    hand, sc = shadow_scene
    q, P, S = sc.q_gen, sc.object_poses, sc.surface
    bad_q = q.copy()
    bad_q[3, 7] = np.nan
    with pytest.raises(InputError, match="q_gen: contains NaN"):
        refine(hand, bad_q, S, P)
    bad_P = P.copy()
    bad_P[2, 0, 3] = np.inf
    with pytest.raises(InputError, match="object_poses: contains NaN"):
        refine(hand, q, S, bad_P)
    pts = S.points.copy()
    pts[5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        refine(hand, q, pts, P, normals=S.normals)
    with pytest.raises(InputError, match=r"q_gen: expected shape \(T, 30\)"):
        refine(hand, q[:, :10], S, P)
    with pytest.raises(InputError, match="object_poses: expected shape"):
        refine(hand, q, S, P[:-1])
    skew = P.copy()
    skew[0, :3, :3] *= 2.0
    with pytest.raises(InputError, match="not a proper rotation"):
        refine(hand, q, S, skew)
    mirror = P.copy()
    mirror[3, :3, 0] *= -1.0  # orthonormal, det -1: a reflection, reported at its frame
    with pytest.raises(InputError, match=r"object_poses\[3\].*det = -1"):
        refine(hand, q, S, mirror)
    last = P.copy()
    last[2, 3, 0] = 0.5
    with pytest.raises(InputError, match="last row"):
        refine(hand, q, S, last)
    with pytest.raises(InputError, match="schedule"):
        refine(hand, q, S, P, schedule=np.ones((len(q), 3), bool))


def _single_tip_scene(hand, shape, gap, tip=1):
    """One fingertip touching (gap = 0), hovering (gap > 0) or penetrating (gap < 0) a sphere or
    the centre of a box's large face; every other fingertip well clear of the object."""
    q = grasp_pose(hand)
    tips = hand.fingertip_positions(q)
    u = tips[tip] - q[:3]
    u /= np.linalg.norm(u)
    if shape == "sphere":
        prim = Primitive("sphere", np.array([0.02]))
        R = np.eye(3)
    else:
        prim = Primitive("box", np.array([0.04, 0.04, 0.01]))
        a = np.cross([0.0, 0.0, 1.0], -u)  # rotate the box's +z face normal onto -u
        from scipy.spatial.transform import Rotation

        ang = np.arccos(np.clip(-u[2], -1, 1))
        R = Rotation.from_rotvec(a / max(np.linalg.norm(a), 1e-12) * ang).as_matrix()
    h = prim.size[0] if shape == "sphere" else prim.size[2]
    pose = np.eye(4)
    pose[:3, :3] = R
    pose[:3, 3] = tips[tip] + (h + gap) * u
    pts, nrm = prim.cloud(4000, np.random.default_rng(0))
    return q, prim, pose, ObjectSurface(pts, nrm)


def _exact_sdf(hand, prim, pose, q):
    x = (hand.fingertip_positions(q) - pose[:3, 3]) @ pose[:3, :3]
    return prim.sdf(x)


@pytest.mark.parametrize("name", HAND_NAMES)
@pytest.mark.parametrize("shape", ["sphere", "box"])
def test_penetrating_tip_is_pushed_out_and_hovering_tip_pulled_in(name, shape):
    hand = load_hand(name)
    F = len(hand.fingertip_links)
    # penetrating by 6 mm: pushed to the surface even without scheduled contact
    q, prim, pose, surf = _single_tip_scene(hand, shape, -0.006)
    sd0 = _exact_sdf(hand, prim, pose, q)
    assert sd0[1] == pytest.approx(-0.006, abs=1e-9)
    res = refine(hand, q[None], surf, pose[None], schedule=np.zeros((1, F), bool))
    sd1 = _exact_sdf(hand, prim, pose, res.q[0])
    assert abs(sd1[1]) < 1e-3 and abs(res.distances[0, 1]) < 1e-3 and res.converged[0]
    assert sd1.min() > -1e-3  # nothing else got pushed inside
    # hovering 8 mm with contact scheduled for that fingertip: pulled onto the surface
    q, prim, pose, surf = _single_tip_scene(hand, shape, 0.008)
    sched = np.zeros((1, F), bool)
    sched[0, 1] = True
    res = refine(hand, q[None], surf, pose[None], schedule=sched)
    sd1 = _exact_sdf(hand, prim, pose, res.q[0])
    assert abs(sd1[1]) < 1e-3 and abs(res.distances[0, 1]) < 1e-3 and res.converged[0]
    # ... but not without a scheduled contact (free space: no pull)
    res = refine(hand, q[None], surf, pose[None], schedule=np.zeros((1, F), bool))
    assert _exact_sdf(hand, prim, pose, res.q[0])[1] == pytest.approx(0.008, abs=1e-6)


def test_trajectory_contacts_follow_the_schedule():
    hand = load_hand("inspire")
    sc = lift_scene(hand, "sphere", T=32, seed=2)
    res = refine(hand, sc.q_gen, sc.surface, sc.object_poses)
    m = res.schedule.mask
    a, b = sc.lift
    assert m[a:b].any(axis=0).sum() >= 3 and not m[0].any() and not m[-1].any()
    x = np.stack([(hand.fingertip_positions(q) - P[:3, 3]) @ P[:3, :3] for q, P in zip(res.q, sc.object_poses)])
    sd = sc.primitive.sdf(x)
    x0 = np.stack([(hand.fingertip_positions(q) - P[:3, 3]) @ P[:3, :3]
                   for q, P in zip(hand.clamp(sc.q_gen), sc.object_poses)])
    sd0 = sc.primitive.sdf(x0)
    assert np.median(np.abs(sd[m])) < 1e-3 < np.median(np.abs(sd0[m]))
    assert sd.min() > -2e-3 and sd0.min() < -5e-3
    # free-space frames stay close to the generated trajectory
    free = ~m.any(1)
    assert np.abs(res.q[free] - hand.clamp(sc.q_gen[free]))[:, 6:].max() < 0.1


@pytest.mark.parametrize("sigma", [0.002, 0.003])
def test_fig_b2_kernel_is_more_robust_to_cloud_noise_than_euclidean(sigma):
    """Fig. B2: with a noisy cloud, fingertips refined with the f(d) kernel end closer to the
    clean surface than with a plain Euclidean-distance objective (same lambda_c, same solver)."""
    errs = {"kernel": [], "euclidean": []}
    for name in ("shadow", "human", "allegro"):
        hand = load_hand(name)
        q = grasp_pose(hand)
        prim, c = fit_primitive(hand, q, "sphere")
        pose = np.eye(4)
        pose[:3, 3] = c
        F = len(hand.fingertip_links)
        for seed in range(3):
            rng = np.random.default_rng(seed)
            pts, nrm = prim.cloud(3000, rng)
            noisy = ObjectSurface(pts + rng.normal(scale=sigma, size=pts.shape), nrm)
            for model in errs:
                res = refine(hand, q[None], noisy, pose[None], schedule=np.ones((1, F), bool),
                             config=RefineConfig(contact_model=model))
                errs[model].append(np.abs(_exact_sdf(hand, prim, pose, res.q[0])).mean())
    k, e = np.mean(errs["kernel"]), np.mean(errs["euclidean"])
    assert k < e
    assert k < 1.5 * sigma
