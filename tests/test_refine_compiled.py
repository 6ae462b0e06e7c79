"""The compiled refinement (unihm_core.refine.compiled) against the libraries and the Python loop
it replaces: kinematic tree vs pinocchio, k-d tree vs scipy's cKDTree, and the whole of
Algorithm 1 vs the reference loop in solver.py, on every hand; plus the restart from the
previous frame (RefineConfig.restart_from_previous)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from unihm_core.errors import InputError
from unihm_core.hands import HAND_NAMES, load_hand
from unihm_core.refine import PriorWeights
from unihm_core.refine import compiled as cc
from unihm_core.refine.fingertips import FingertipKinematics
from unihm_core.refine.synthetic import lift_scene

from unihm_core.refine import RefineConfig as _RefineConfig
from unihm_core.refine import refine as _refine


def RefineConfig(**kw):  # noqa: N802 -- these tests are about Algorithm 1, the paper's energy
    return _RefineConfig(**{"energy": "paper", **kw})


def refine(*args, config=None, **kw):
    """Algorithm 1 (``energy="paper"``) unless a test passes its own config."""
    return _refine(*args, config=config if config is not None else RefineConfig(), **kw)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_chain_kinematics_equal_pinocchio(name):
    """Fingertip positions and world Jacobians (mimic joints and wrist included) equal the
    pinocchio ones, also for wrist angles far from zero."""
    hand = load_hand(name)
    chain = cc.chain_from_hand(hand)
    rng = np.random.default_rng(3)
    Q = hand.random(rng, 12, wrist_scale=0.5)
    S, J = cc.fingertip_kinematics(chain, Q)
    fk = FingertipKinematics(hand)
    assert S.shape == (12, len(hand.fingertip_links), 3) and J.shape == (12, len(hand.fingertip_links), 3, hand.dof)
    for i, q in enumerate(Q):
        s, Js = fk(q)
        np.testing.assert_allclose(S[i], s, rtol=0, atol=1e-12)
        np.testing.assert_allclose(J[i], Js, rtol=0, atol=1e-12)
    # a mimic-coupled hand really exercises the multiplier path
    if name == "schunk_svh":
        assert np.any(chain.mult[1:] != 1.0)


@pytest.mark.parametrize("cloud", ["gaussian", "grid_ties", "tiny", "duplicates", "flat", "large"])
def test_kdtree_nearest_equals_scipy(cloud):
    rng = np.random.default_rng(5)
    P = {"gaussian": rng.normal(size=(3000, 3)),
         "grid_ties": rng.integers(0, 4, size=(400, 3)).astype(float),
         "tiny": rng.normal(size=(3, 3)),
         "duplicates": np.repeat(rng.normal(size=(5, 3)), 40, axis=0),
         "flat": np.c_[rng.normal(size=(500, 2)), np.zeros(500)],
         "large": rng.uniform(-0.1, 0.1, size=(40000, 3))}[cloud]
    X = rng.normal(size=(500, 3)) * P.std() * 1.5
    tree = cc.build_kdtree(P)
    d, i = cc.kdtree_query(tree, X)
    d_ref, i_ref = cKDTree(P).query(X)
    np.testing.assert_allclose(d, d_ref, rtol=0, atol=1e-12)
    # the distance to the returned point is the reported one (ties may pick another equally near point)
    np.testing.assert_allclose(np.linalg.norm(P[i] - X, axis=1), d, rtol=0, atol=1e-12)
    if cloud in ("gaussian", "large", "flat"):
        assert np.array_equal(i, i_ref)
    assert sorted(tree.index.tolist()) == list(range(len(P))) and np.array_equal(tree.points.T, P[tree.index])
    # every node's box is the bounding box of exactly its points (the search prunes with it)
    for (left, right, s, e), box in zip(tree.nodes, tree.box):
        pts = tree.points[:, s:e].T
        assert np.array_equal(box[:3], pts.min(0)) and np.array_equal(box[3:], pts.max(0))
        if left >= 0:  # an inner node's children split its points in two, neither under a quarter
            assert tree.nodes[left, 2] == s and tree.nodes[left, 3] == tree.nodes[right, 2] and tree.nodes[right, 3] == e
            assert 4 * min(tree.nodes[right, 2] - s, e - tree.nodes[right, 2]) >= e - s
        else:  # a leaf: at most LEAF_SIZE points, unless they are all the same point
            assert e - s <= cc.LEAF_SIZE or np.ptp(pts, axis=0).max() == 0.0


def test_kdtree_guess_does_not_change_the_answer():
    """A warm-start guess (the previous nearest neighbour) only prunes: any guess, good or bad,
    gives the exact nearest point."""
    rng = np.random.default_rng(6)
    P = rng.normal(size=(2000, 3))
    tree = cc.build_kdtree(P)
    X = rng.normal(size=(300, 3))
    _, i_ref = cKDTree(P).query(X)
    sn, sb = np.empty(cc.STACK, np.int64), np.empty(cc.STACK)
    leaf = np.argsort(tree.index)  # caller's order -> leaf order
    for x, ir in zip(X, i_ref):
        for guess in (-1, int(rng.integers(len(P))), int(leaf[ir])):
            j, dd = cc._kd_nearest(tree, x[0], x[1], x[2], sn, sb, guess)
            assert tree.index[j] == ir and dd == pytest.approx(np.sum((P[ir] - x) ** 2), rel=1e-12)


def _both(hand, sc, **kw):
    py = refine(hand, sc.q_gen, sc.surface, sc.object_poses, backend="python", **kw)
    co = refine(hand, sc.q_gen, sc.surface, sc.object_poses, backend="compiled", **kw)
    return py, co


def _assert_same(py, co, atol=1e-9):
    np.testing.assert_allclose(co.q, py.q, rtol=0, atol=atol)
    assert np.array_equal(co.status, py.status) and np.array_equal(co.iterations, py.iterations)
    assert np.array_equal(co.schedule.mask, py.schedule.mask)
    for k in ("contact", "contact_total", "gen", "vel", "acc", "total", "initial_total"):
        np.testing.assert_allclose(co.energies[k], py.energies[k], rtol=1e-9, atol=1e-15, err_msg=k)
    np.testing.assert_allclose(co.distances, py.distances, rtol=0, atol=1e-12)
    np.testing.assert_allclose(co.initial_distances, py.initial_distances, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", HAND_NAMES)
@pytest.mark.parametrize("shape", ["sphere", "box"])
def test_compiled_loop_equals_the_python_loop(name, shape):
    hand = load_hand(name)
    sc = lift_scene(hand, shape, T=24, seed=2)
    py, co = _both(hand, sc)
    _assert_same(py, co)
    assert co.timings["backend"] == "compiled" and py.timings["backend"] == "python"
    assert co.iterations.sum() > 2 * len(co.q)  # real iterations ran


@pytest.mark.parametrize("variant", ["euclidean", "no_restart", "limits", "full_weights", "trace", "cap"])
def test_compiled_loop_equals_the_python_loop_on_every_path(variant):
    """The branches the default scenes may not reach: the Fig. B2 contact model, Algorithm 1
    with one start, the active set on joint limits, non-diagonal prior weights, the iteration
    trace and the iteration cap."""
    hand = load_hand("allegro")
    sc = lift_scene(hand, "box", T=20, seed=1)
    kw: dict = {}
    if variant == "euclidean":
        kw["config"] = RefineConfig(contact_model="euclidean")
    elif variant == "no_restart":
        kw["config"] = RefineConfig(restart_from_previous=False)
    elif variant == "limits":
        sc.q_gen[:, 6:] += 0.8  # beyond many upper limits: the projected steps and the active set
        kw["config"] = RefineConfig(lambda0=0.0)
    elif variant == "full_weights":
        rng = np.random.default_rng(0)
        A = rng.normal(size=(hand.dof, hand.dof)) * 0.05
        base = np.diag(np.r_[np.full(3, 100.0), np.full(3, 1.0), np.full(hand.dof - 6, 0.1)])
        kw["weights"] = PriorWeights(base + A @ A.T, 0.05 * base + 0.01 * A @ A.T, 0.2 * base)
    elif variant == "trace":
        kw["trace"] = True
    elif variant == "cap":
        kw["config"] = RefineConfig(max_iters=2, energy_rtol=0.0, energy_atol=0.0, step_tol=1e-14)
    py, co = _both(hand, sc, **kw)
    _assert_same(py, co)
    if variant == "limits":
        assert np.any(co.q == hand.upper) and np.all(hand.within_limits(co.q, tol=0.0))
    if variant == "trace":
        assert len(co.trace) == len(py.trace)
        for a, b in zip(co.trace, py.trace):
            assert a.shape == b.shape and a.shape[1] == 5
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-15)
    if variant == "cap":
        assert (co.status == "hit_cap").sum() > len(co.q) // 2
        assert co.iterations[0] <= 2 and np.all(co.iterations[1:] <= 4) and co.iterations.max() == 4
    if variant == "no_restart":
        assert np.all(co.iterations <= co.config.max_iters)


def test_restart_from_the_previous_frame_lowers_the_energy():
    """Frame 1 has the same history with and without the restart (frame 0 never restarts), so
    there the restart can only lower E_t; on the panda box scene, whose single start lands a
    fingertip on the wrong face of a box edge (docs/RESULTS.md), the total drops by more than half."""
    hand = load_hand("panda_gripper")
    sc = lift_scene(hand, "box", T=32, seed=0)
    on = refine(hand, sc.q_gen, sc.surface, sc.object_poses)
    off = refine(hand, sc.q_gen, sc.surface, sc.object_poses, config=RefineConfig(restart_from_previous=False))
    assert on.config.restart_from_previous and not off.config.restart_from_previous
    np.testing.assert_array_equal(on.q[0], off.q[0])
    assert on.energies["total"][1] <= off.energies["total"][1] + 1e-15
    assert on.energies["total"].sum() < 0.5 * off.energies["total"].sum()


def test_backend_choice_is_validated():
    hand = load_hand("panda_gripper")
    sc = lift_scene(hand, "sphere", T=16, seed=0)
    fk = FingertipKinematics(hand)
    with pytest.raises(InputError, match="backend"):
        refine(hand, sc.q_gen, sc.surface, sc.object_poses, backend="gpu")
    with pytest.raises(InputError, match="kinematics"):
        refine(hand, sc.q_gen, sc.surface, sc.object_poses, backend="compiled", kinematics=fk)
    # 'auto' with custom kinematics runs the Python loop, and gives the same result
    res = refine(hand, sc.q_gen, sc.surface, sc.object_poses, kinematics=fk)
    ref = refine(hand, sc.q_gen, sc.surface, sc.object_poses)
    assert res.timings["backend"] == "python" and ref.timings["backend"] == "compiled"
    _assert_same(res, ref)
    with pytest.raises(Exception, match="restart_from_previous"):
        RefineConfig(restart_from_previous="yes")


def test_threads_share_a_hand_model_and_get_the_same_result():
    """The compiled loop keeps no state and releases the GIL: concurrent refinements with one
    shared hand model (as the app's concurrent requests do) equal a sequential one."""
    import threading

    hand = load_hand("allegro")
    scenes = [lift_scene(hand, shape, T=24, seed=s) for shape, s in (("sphere", 0), ("box", 1), ("sphere", 2))]
    ref = [refine(hand, sc.q_gen, sc.surface, sc.object_poses).q for sc in scenes]
    out: dict = {}

    def work(i):
        for _ in range(5):
            sc = scenes[i]
            out[i] = refine(hand, sc.q_gen, sc.surface, sc.object_poses).q

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(scenes))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i, q in enumerate(ref):
        np.testing.assert_array_equal(out[i], q)


def test_every_coordinate_held_on_a_limit():
    """q_gen beyond every limit: the projected step is empty (every coordinate active); both loops
    stop as converged instead of solving a 0x0 system."""
    hand = load_hand("panda_gripper")
    sc = lift_scene(hand, "box", T=16, seed=0)
    q_gen = np.repeat((hand.upper + 1.0)[None], 16, 0)
    py = refine(hand, q_gen, sc.surface, sc.object_poses, backend="python")
    co = refine(hand, q_gen, sc.surface, sc.object_poses, backend="compiled")
    _assert_same(py, co)
    assert np.all(np.isfinite(co.q)) and np.all(hand.within_limits(co.q, tol=0.0))


def test_one_compiled_version_for_any_input_layout():
    """Read-only, Fortran-ordered, float32 or strided inputs and user weights all reach the compiled
    loop as the same array types, so nothing is compiled at request time after warm_up()."""
    hand = load_hand("allegro")
    sc = lift_scene(hand, "sphere", T=16, seed=0)
    q32 = np.asfortranarray(sc.q_gen.astype(np.float32))
    pts = sc.surface.points.copy()
    pts.setflags(write=False)
    poses = np.asfortranarray(sc.object_poses)
    W = PriorWeights(np.eye(hand.dof) * 2.0, np.eye(hand.dof) * 0.1, np.eye(hand.dof) * 0.3)
    ref = refine(hand, sc.q_gen, sc.surface.points, sc.object_poses, normals=sc.surface.normals)
    res = refine(hand, q32, pts, poses, normals=sc.surface.normals[::1])
    refine(hand, sc.q_gen, sc.surface, sc.object_poses, weights=W)
    np.testing.assert_allclose(res.q, ref.q, atol=1e-5)  # float32 input rounding only
    assert len(cc.refine_frames.signatures) == 1
    assert len(cc._kd_build.signatures) == 1 and len(cc._tips_batch.signatures) == 1
    for fn in (cc.tangent_planes, cc.unit_normals, cc.rigid_errors, cc.moving_flags, cc.nearest_planes):
        assert len(fn.signatures) == 1, fn


def test_kdtree_ties_and_non_finite_queries():
    """Among exactly equidistant points the first in the caller's order wins, whatever the
    search's starting guess (so the contact plane of duplicated points does not depend on the
    iteration history); non-finite queries are refused like scipy refuses them."""
    P = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0], [0, 0, 1.0]] * 20)  # many exact duplicates
    tree = cc.build_kdtree(P)
    sn, sb = np.empty(cc.STACK, np.int64), np.empty(cc.STACK)
    leaf = np.argsort(tree.index)
    for guess in [-1, *leaf[[2, 4, 6, 40, 78]]]:
        j, _ = cc._kd_nearest(tree, 2.0, 0.0, 0.0, sn, sb, int(guess))
        assert tree.index[j] == 0
    j, _ = cc._kd_nearest(tree, 0.0, 0.0, 0.0, sn, sb, -1)  # equidistant to all four: point 0
    assert tree.index[j] == 0
    with pytest.raises(ValueError, match="finite"):
        cc.kdtree_query(tree, np.array([[np.nan, 0.0, 0.0]]))


def test_auto_falls_back_to_the_python_loop_for_unsupported_joints(monkeypatch):
    hand = load_hand("panda_gripper")
    sc = lift_scene(hand, "sphere", T=16, seed=0)

    def unsupported(_hand):
        raise ValueError("joint type not supported")

    monkeypatch.setattr(cc, "chain_for", unsupported)
    res = refine(hand, sc.q_gen, sc.surface, sc.object_poses)
    assert res.timings["backend"] == "python"
    with pytest.raises(ValueError, match="not supported"):
        refine(hand, sc.q_gen, sc.surface, sc.object_poses, backend="compiled")


def test_linear_solves_cholesky_and_lu_fallback():
    """The compiled Cholesky solve matches LAPACK on positive-definite systems, also on a subset of
    the coordinates (the active set holds those on a limit), and reports an indefinite one, which
    the LU fallback (partial pivoting) then solves like numpy."""
    rng = np.random.default_rng(3)
    for n in (1, 7, 30):
        D = n + 3
        A = rng.normal(size=(D, D))
        free = np.sort(rng.permutation(D)[:n])  # the coordinates not held
        sub = np.ix_(free, free)
        g, L, x = rng.normal(size=D), np.zeros((D, D)), np.zeros(D)
        H = A @ A.T + D * np.eye(D)
        assert cc._spd_solve(H, g, free, n, L, x)
        np.testing.assert_allclose(x[:n], np.linalg.solve(H[sub], g[free]), rtol=1e-10, atol=1e-12)
        H = A + A.T  # symmetric, indefinite
        H[free[0], free[0]] = -abs(H[free[0], free[0]]) - 1.0
        assert not cc._spd_solve(H, g, free, n, L, x)
        cc._lu_solve(H, g, free, n, L, x)
        np.testing.assert_allclose(x[:n], np.linalg.solve(H[sub], g[free]), rtol=1e-8, atol=1e-10)


def test_kdtree_ties_against_brute_force_and_the_exact_median_fallback():
    """On clouds full of exact ties the answer is the first nearest point in the caller's order
    (what argmin of the brute-force distances gives), and a cloud where most points share one
    coordinate (so the sampled-median split would leave a side nearly empty) falls back to the
    exact median and still builds a balanced, exact tree."""
    rng = np.random.default_rng(11)
    grid = rng.integers(0, 4, size=(600, 3)).astype(float)
    lump = np.c_[np.where(rng.random(800) < 0.9, 0.5, 10.0 * rng.random(800)), rng.random((800, 2))]
    for P in (grid, lump):
        tree = cc.build_kdtree(P)
        X = np.r_[rng.integers(-1, 5, size=(200, 3)).astype(float) + 0.5 * rng.integers(0, 2, size=(200, 3)),
                  rng.random((200, 3))]
        d, i = cc.kdtree_query(tree, X)
        dd = ((X[:, None, :] - P[None]) ** 2).sum(-1)
        np.testing.assert_array_equal(i, dd.argmin(1))
        np.testing.assert_allclose(d, np.sqrt(dd.min(1)), rtol=0, atol=1e-12)
        for left, right, s, e in tree.nodes:
            if left >= 0:
                assert 4 * min(tree.nodes[right, 2] - s, e - tree.nodes[right, 2]) >= e - s
    root_right = tree.nodes[0, 1]
    assert tree.nodes[root_right, 2] == len(lump) // 2  # the root of the lump: the exact median split
