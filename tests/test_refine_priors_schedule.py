"""Priors (Eq. 14, 15, 18 and the t < 2 boundary rule), configuration, contact schedule."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import ConfigError, InputError
from unihm_core.refine import (ContactSchedule, ObjectSurface, PriorWeights, RefineConfig, contact_schedule,
                               history, moving_frames, prior_energies, prior_gradient, prior_weights)
from unihm_core.refine.priors import trajectory_prior_energies
from unihm_core.refine.synthetic import sphere_cloud


def _spd(rng, D):
    A = rng.normal(size=(D, D))
    return A @ A.T + D * np.eye(D)


def test_prior_energies_and_gradient():
    rng = np.random.default_rng(0)
    D = 9
    W = PriorWeights(_spd(rng, D), _spd(rng, D), _spd(rng, D))
    q, qg, q1, q2 = rng.normal(size=(4, D))
    eg, ev, ea = prior_energies(q, qg, q1, q2, W)
    assert eg == pytest.approx(0.5 * (q - qg) @ W.W_gen @ (q - qg))
    assert ev == pytest.approx(0.5 * (q - q1) @ W.W_vel @ (q - q1))
    assert ea == pytest.approx(0.5 * (q - 2 * q1 + q2) @ W.W_acc @ (q - 2 * q1 + q2))
    g = prior_gradient(q, qg, q1, q2, W)
    h = 1e-6
    fd = np.array([(sum(prior_energies(q + h * e, qg, q1, q2, W)) - sum(prior_energies(q - h * e, qg, q1, q2, W)))
                   / (2 * h) for e in np.eye(D)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(W.hessian, W.W_gen + W.W_vel + W.W_acc)


def test_boundary_rule():
    rng = np.random.default_rng(1)
    q_gen, q_opt = rng.normal(size=(2, 5, 4))
    q1, q2 = history(q_opt, q_gen, 0)
    assert np.array_equal(q1, q_gen[0]) and np.array_equal(q2, q_gen[0])
    q1, q2 = history(q_opt, q_gen, 1)
    assert np.array_equal(q1, q_opt[0]) and np.array_equal(q2, q_gen[0])
    q1, q2 = history(q_opt, q_gen, 3)
    assert np.array_equal(q1, q_opt[2]) and np.array_equal(q2, q_opt[1])


@pytest.mark.parametrize("T", [1, 2, 7])
def test_trajectory_prior_energies_equal_the_per_frame_ones(T):
    """All frames at once (the solver's final record) = Eq. 14/15 frame by frame with the boundary rule."""
    rng = np.random.default_rng(T)
    D = 6
    W = PriorWeights(_spd(rng, D), _spd(rng, D), _spd(rng, D))
    q_gen, q_opt = rng.normal(size=(2, T, D))
    got = np.stack(trajectory_prior_energies(q_opt, q_gen, W), axis=1)
    want = np.array([prior_energies(q_opt[t], q_gen[t], *history(q_opt, q_gen, t), W) for t in range(T)])
    assert got.shape == (T, 3)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(got > 0)


def test_prior_weights_from_config_and_validation():
    W = prior_weights(RefineConfig(w_gen=(3.0, 2.0, 1.0), w_vel=0.5, w_acc=(1, 1, 4)), 8)
    np.testing.assert_allclose(np.diag(W.W_gen), [3, 3, 3, 2, 2, 2, 1, 1])
    np.testing.assert_allclose(np.diag(W.W_vel), 0.5)
    np.testing.assert_allclose(np.diag(W.W_acc), [1, 1, 1, 1, 1, 1, 4, 4])
    I = np.eye(3)
    with pytest.raises(InputError, match="positive definite"):
        PriorWeights(np.diag([1.0, 0.0, 1.0]), I, I)
    with pytest.raises(InputError, match="symmetric"):
        PriorWeights(I + np.triu(np.ones((3, 3)), 1), I, I)
    with pytest.raises(InputError, match="square"):
        PriorWeights(I, np.eye(4), I)
    with pytest.raises(InputError, match="NaN"):
        PriorWeights(np.full((3, 3), np.nan), I, I)


@pytest.mark.parametrize("bad", [dict(lambda_c=0.0), dict(alpha=-1.0), dict(k=np.nan), dict(eps=0.0),
                                 dict(w_gen=(1.0, 0.0, 1.0)), dict(w_vel=(1.0, 2.0)), dict(w_acc="x"),
                                 dict(lambda_up=1.0), dict(lambda_down=1.5), dict(max_iters=0),
                                 dict(max_iters=2.5), dict(lead_in=-1), dict(contact_model="l2"),
                                 dict(lambda0=-1.0), dict(lambda_max=1e-9), dict(contact_radius=0.0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError):
        RefineConfig(**bad)


def test_config_from_dict():
    cfg = RefineConfig.from_dict({"lambda_c": 10, "w_gen": 2})
    assert cfg.lambda_c == 10.0 and cfg.w_gen == (2.0, 2.0, 2.0)
    with pytest.raises(ConfigError, match="unknown"):
        RefineConfig.from_dict({"lamda_c": 1})


def _poses(z):
    P = np.tile(np.eye(4), (len(z), 1, 1))
    P[:, 2, 3] = z
    return P


def test_moving_frames_translation_and_rotation():
    z = np.r_[np.zeros(10), np.linspace(0, 0.05, 11)[1:], np.full(10, 0.05)]
    mv = moving_frames(_poses(z), 5e-4, 5e-3)
    assert not mv[:9].any() and mv[9:20].all() and not mv[20:].any()
    from scipy.spatial.transform import Rotation

    P = _poses(np.zeros(12))
    P[6:, :3, :3] = Rotation.from_rotvec([0, 0, 0.1]).as_matrix()  # one 0.1 rad turn between 5 and 6
    mv = moving_frames(P, 5e-4, 5e-3)
    assert mv.tolist() == [False] * 5 + [True, True] + [False] * 5
    assert not moving_frames(_poses(np.zeros(1)), 1e-3, 1e-3).any()


def test_contact_schedule_rule():
    """Contact from lead_in before the motion to lead_out after it, only for fingertips near
    the surface at the first moving frame; a static object schedules nothing."""
    rng = np.random.default_rng(2)
    pts, nrm = sphere_cloud(0.04, 2000, rng)
    surf = ObjectSurface(pts, nrm)
    T = 40
    z = np.r_[np.zeros(15), np.linspace(0, 0.1, 11)[1:], np.full(15, 0.1)][:T] + 0.04
    P = _poses(z)
    # fingertips: 0 touches, 1 hovers 2 cm, 2 hovers 5 cm, 3 penetrates 1 cm; all follow the object
    local = np.array([[0.04, 0, 0], [0, 0.06, 0], [0, 0, 0.09], [-0.03, 0, 0]])
    tips = local[None] + P[:, None, :3, 3]
    cfg = RefineConfig(lead_in=6, lead_out=4, contact_radius=0.03)
    sch = contact_schedule(P, tips, surf, cfg)
    assert isinstance(sch, ContactSchedule) and sch.mask.shape == (T, 4)
    first, last = 14, 24
    assert len(sch.phases) == 1 and (sch.phases[0].first, sch.phases[0].last) == (first, last)
    on = np.zeros(T, bool)
    on[first - 6:last + 4 + 1] = True
    assert np.array_equal(sch.mask[:, 0], on) and np.array_equal(sch.mask[:, 1], on)
    assert np.array_equal(sch.mask[:, 3], on) and not sch.mask[:, 2].any()
    assert sch.phases[0].fingertips == (0, 1, 3)
    static = contact_schedule(_poses(np.full(T, 0.04)), tips * 0 + tips[:1], surf, cfg)
    assert not static.mask.any() and static.phases == ()


def test_contact_schedule_merges_close_phases_and_clips_window():
    rng = np.random.default_rng(3)
    pts, nrm = sphere_cloud(0.04, 500, rng)
    surf = ObjectSurface(pts, nrm)
    z = np.zeros(30)
    z[2:6] = np.linspace(0.01, 0.04, 4)   # moves at frames 1..6
    z[6:] = 0.04
    z[12:16] = 0.05                       # a second, short motion at 11..16 (gap of 4 rest frames)
    P = _poses(z)
    tips = P[:, None, :3, 3] + np.array([[0.04, 0.0, 0.0]])
    sch = contact_schedule(P, tips, surf, RefineConfig(lead_in=6, lead_out=2))
    assert len(sch.phases) == 1
    assert sch.phases[0].start == 0 and sch.phases[0].end == 18
    sch2 = contact_schedule(P, tips, surf, RefineConfig(lead_in=1, lead_out=1))
    assert len(sch2.phases) == 2
