"""Whole-hand refinement: link spheres, every term's Jacobian against finite differences on every
hand, the block-banded solve, what the refinement does to a scene, and the package's import graph."""

import ast
from pathlib import Path

import numpy as np
import pytest

from unihm_core.hands import load_hand
from unihm_core.refine import ContactSchedule, ObjectSurface, RefineConfig, refine
from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics
from unihm_core.refine.priors import prior_weights
from unihm_core.refine.schedule import ContactPhase
from unihm_core.refine.synthetic import box_cloud, lift_scene
from unihm_core.refine.banded import block_banded_solve
from unihm_core.refine.whole_hand import (TERMS, WholeHandProblem, _prior_blocks, _prior_gradient, hull_distance,
                                          hull_planes, margins)

HANDS = ("shadow", "allegro", "schunk_svh", "leap", "ability", "inspire", "panda_gripper", "human")


@pytest.mark.parametrize("name", HANDS)
def test_spheres_cover_the_collision_shapes_and_follow_the_links(name):
    hand = load_hand(name)
    hs = hand_spheres(hand)
    assert len(hs.tip_spheres) == len(hand.fingertip_links)
    assert set(hs.link.tolist()) <= set(range(len(hand.link_names)))
    q = hand.random(np.random.default_rng(1))
    X, J = sphere_kinematics(hand, q)
    hand.fk(q)
    for s in range(0, len(hs), 7):  # a sphere centre is a fixed point of its link
        M = hand.data.oMf[hand.model.getFrameId(hs.links[hs.link[s]])]
        np.testing.assert_allclose(X[s], M.rotation @ hs.centre[s] + M.translation, atol=1e-12)
    eps = 1e-6
    k = hand.dof - 1  # the last finger coordinate, through the whole chain
    dq = np.zeros(hand.dof)
    dq[k] = eps
    fd = (sphere_kinematics(hand, q + dq)[0] - sphere_kinematics(hand, q - dq)[0]) / (2 * eps)
    np.testing.assert_allclose(J[..., k], fd, atol=1e-7)
    np.testing.assert_allclose(X[hs.tip_spheres], hand.fingertip_positions(q), atol=1e-12)


def _scene(hand):
    """A box whose centre sits between the thumb and the index fingertip, so that some spheres are
    inside it, some close to it, some below the table; three moving frames, every fingertip scheduled."""
    rng = np.random.default_rng(0)
    q = hand.zero()
    q[6:] = 0.5 * (hand.lower[6:] + hand.upper[6:])
    tips = hand.fingertip_positions(q)
    q[:3] -= np.array([0.0, 0.0, tips[:, 2].min() - 0.004])  # the lowest fingertip 4 mm above the table
    tips = hand.fingertip_positions(q)
    c = 0.5 * (tips[0] + tips[1])
    pts, nrm = box_cloud(np.array([0.03, 0.02, 0.04]), 1500, rng)
    Q = np.stack([q + 0.002 * k * np.r_[1.0, 0.5, 0.0, np.zeros(hand.dof - 3)] for k in range(3)])
    Q += rng.normal(scale=0.01, size=Q.shape) * np.r_[np.zeros(3), 0.1 * np.ones(3), np.ones(hand.dof - 6)]
    Q = np.clip(Q, hand.lower + 1e-3, hand.upper - 1e-3)
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, :3, 3] = c + np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.002], [0.001, 0.0, 0.004]])
    F = len(hand.fingertip_links)
    sched = ContactSchedule(np.ones((3, F), bool), np.ones(3, bool), (), "given")
    return Q, ObjectSurface(pts, nrm), poses, sched


def _fd_gradient(energy, Q, eps=1e-7):
    """Central differences of ``energy(Q)`` in every coordinate of every frame."""
    fd = np.zeros_like(Q)
    for t in range(Q.shape[0]):
        for k in range(Q.shape[1]):
            Qp, Qm = Q.copy(), Q.copy()
            Qp[t, k] += eps
            Qm[t, k] -= eps
            fd[t, k] = (energy(Qp) - energy(Qm)) / (2 * eps)
    return fd


def _gradient(rows, T, D):
    g = np.zeros((T, D))
    np.add.at(g, rows.frame, rows.r[:, None] * rows.J)
    if rows.J_prev is not None:
        np.add.at(g, rows.frame - 1, rows.r[:, None] * rows.J_prev)
    return g


@pytest.mark.parametrize("name", HANDS)
def test_every_term_jacobian_matches_finite_differences(name):
    """The gradient J^T r of each term's 0.5 |r|^2 against central differences of that energy in every
    coordinate of every frame (correspondences and hull facets re-evaluated at every perturbation;
    the scene avoids their switching points at this step size)."""
    hand = load_hand(name)
    Q, surface, poses, sched = _scene(hand)
    prob = WholeHandProblem(hand, surface, poses, sched, RefineConfig())
    rows = prob.evaluate(Q)
    T, D = Q.shape
    for term in TERMS:
        if term == "table" and not len(rows[term].r):
            continue  # a hand whose lowest fingertip is its only low sphere
        assert len(rows[term].r) > 0, f"{name}: the scene must activate {term}"
        g = _gradient(rows[term], T, D)
        fd = _fd_gradient(lambda Qx: prob.evaluate(Qx, jacobians=False)[term].energy, Q)
        scale = max(np.abs(g).max(), 1e-6)
        np.testing.assert_allclose(g, fd, atol=2e-4 * scale, err_msg=f"{name}: {term}")


@pytest.mark.parametrize("name", ["shadow", "panda_gripper", "human"])
def test_palm_box_term_jacobian_matches_finite_differences(name):
    """Object points inside the palm box (and inside it grown by the margin): the box at the object's
    centre, turned a little, so that points fill it and its faces; gradient against central
    differences as above."""
    hand = load_hand(name)
    hs = hand_spheres(hand)
    box = hs.boxes[0]
    q = hand.zero()
    q[3:6] = (0.3, -0.2, 0.25)
    q[6:] = 0.5 * (hand.lower[6:] + hand.upper[6:])
    Q = np.stack([q, q + 0.001, q - 0.002])
    from unihm_core.refine.hand_spheres import box_kinematics

    centre = box_kinematics(hand, Q)[0][:, 0]  # the box centres, world
    pts, nrm = box_cloud(0.8 * box.half[::-1], 1500, np.random.default_rng(4))
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, :3, 3] = centre + 0.3 * box.half.min()
    F = len(hand.fingertip_links)
    sched = ContactSchedule(np.zeros((3, F), bool), np.zeros(3, bool), (), "given")
    prob = WholeHandProblem(hand, ObjectSurface(pts, nrm), poses, sched, RefineConfig())
    pen, clr, deepest = prob._box_rows(Q, True)
    assert pen and clr and deepest.min() > 0.0
    T, D = Q.shape
    for k, term in enumerate((pen, clr)):
        rows = term[0] if len(term) == 1 else type(term[0])(np.concatenate([r.r for r in term]),
                                                            np.concatenate([r.frame for r in term]),
                                                            np.concatenate([r.J for r in term]))
        g = _gradient(rows, T, D)

        fd = _fd_gradient(lambda Qx: sum(r.energy for r in prob._box_rows(Qx, False)[k]), Q)  # noqa: B023
        np.testing.assert_allclose(g, fd, atol=2e-4 * max(np.abs(g).max(), 1e-6), err_msg=f"{name}: box {k}")


def test_hull_distance_is_exact_inside_a_box_and_a_lower_bound_outside():
    from scipy.spatial import ConvexHull

    pts, _ = box_cloud(np.array([0.03, 0.02, 0.04]), 3000, np.random.default_rng(2))
    planes = hull_planes(pts)
    assert len(planes) < len(ConvexHull(pts).simplices)  # coplanar facets merged
    assert sum(np.allclose(p[:3], [1.0, 0.0, 0.0], atol=1e-2) for p in planes) == 1  # one plane per box face
    y = np.array([[0.0, 0.0, 0.0], [0.025, 0.0, 0.0], [0.05, 0.0, 0.0], [0.05, 0.05, 0.0]])
    d, n = hull_distance(planes, y)
    np.testing.assert_allclose(d[:3], [-0.02, -0.005, 0.02], atol=5e-4)  # facets merged within 0.5 mm
    np.testing.assert_allclose(n[1], [1.0, 0.0, 0.0], atol=1e-2)
    assert 0.02 < d[3] < np.hypot(0.02, 0.03)  # at an edge: short of the Euclidean distance


def test_margins_close_over_the_close_phase_and_open_over_the_release():
    ph = ContactPhase(first=5, last=8, start=2, end=11, fingertips=(0, 1))
    sched = ContactSchedule(np.zeros((14, 2), bool), np.zeros(14, bool), (ph,), "given")
    m = margins(sched, 14, 0.015)
    np.testing.assert_allclose(m[:3], [0.015, 0.015, 0.015])
    np.testing.assert_allclose(m[2:6], [0.015, 0.01, 0.005, 0.0])
    assert np.all(m[5:9] == 0.0)
    assert np.all(np.diff(m[8:13]) > 0) and m[12] == 0.015


def test_banded_solve_equals_the_dense_system():
    rng = np.random.default_rng(3)
    T, D = 6, 4
    W = prior_weights(RefineConfig(), D, 2)
    H0, H1, H2 = _prior_blocks(W, T)
    dense = np.zeros((T * D, T * D))
    for t in range(T):
        dense[t * D:(t + 1) * D, t * D:(t + 1) * D] = H0[t]
        for k, B in ((1, H1), (2, H2)):
            if t >= k:
                dense[t * D:(t + 1) * D, (t - k) * D:(t - k + 1) * D] = B[t]
                dense[(t - k) * D:(t - k + 1) * D, t * D:(t + 1) * D] = B[t].T
    # the solve: the priors plus a little of J^T J on the diagonal, against the dense solve
    extra = rng.uniform(0, 1, size=(T, 1, 1)) * np.eye(D)
    b = rng.normal(size=(T, D))
    x = block_banded_solve(H0 + extra, H1, H2, b)
    full = dense + np.kron(np.diag(extra[:, 0, 0]), np.eye(D))
    np.testing.assert_allclose(x.reshape(-1), np.linalg.solve(full, b.reshape(-1)), rtol=1e-9, atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError):
        block_banded_solve(-H0, H1, H2, b)
    # the prior blocks are the Hessian of the trajectory priors: the gradient is linear in Q with them
    q_gen = rng.normal(size=(T, D))
    Q = rng.normal(size=(T, D))
    np.testing.assert_allclose(_prior_gradient(Q, q_gen, W) - _prior_gradient(q_gen, q_gen, W),
                               (dense @ (Q - q_gen).reshape(-1)).reshape(T, D), atol=1e-9)


@pytest.mark.parametrize("name", ["shadow", "allegro", "panda_gripper"])
def test_whole_hand_refinement_keeps_links_out_and_closes_the_grasp(name):
    """A lifted box whose generated grasp has the hand pushed 2 cm into it: the whole-hand energy
    ends with every link within 5 mm of the surface and the scheduled fingertips close to it
    (median gap while carried below 8 mm, mean below 70 % of the initial one); Algorithm 1 (fingertip
    points only) leaves links deeper than 5 mm inside."""
    hand = load_hand(name)
    sc = lift_scene(hand, "box", T=32, seed=0)
    # the synthetic grasp wraps the box's lower edges: held 5 cm above the table, the table is not in the way
    poses = sc.object_poses.copy()
    poses[:, 2, 3] += 0.05
    q = sc.q_gen.copy()
    q[:, 2] += 0.05
    centre = poses[:, :3, 3] + np.array([0.0, 0.0, 0.03])
    tips = np.stack([hand.fingertip_positions(qt).mean(0) for qt in q])
    towards = centre - tips
    q[:, :3] += 0.02 * towards / np.linalg.norm(towards, axis=1, keepdims=True)  # 2 cm deeper
    wh = refine(hand, q, sc.surface, poses)
    paper = refine(hand, q, sc.surface, poses, config=RefineConfig(energy="paper"))
    prob = WholeHandProblem(hand, sc.surface, poses, wh.schedule, wh.config)
    radius, obj = prob.spheres.radius, ~prob.spheres.table_only

    def deepest(Q):  # deepest link sphere and deepest object point inside the palm box
        spheres = np.maximum(radius - prob._geometry(Q)[5], 0.0)[:, obj].max()
        return float(max(spheres, prob._box_rows(Q, False)[2].max()))

    assert deepest(q) > 0.01
    assert deepest(wh.q) <= 0.005 < deepest(paper.q)
    assert np.all(hand.within_limits(wh.q, tol=1e-9))
    carried = wh.schedule.moving & wh.schedule.mask.any(1)
    before = np.abs(wh.initial_distances[carried][wh.schedule.mask[carried]])
    after = np.abs(wh.distances[carried][wh.schedule.mask[carried]])
    assert np.median(after) < 0.008 and after.mean() < 0.7 * before.mean()
    assert wh.whole_hand["link_penetration"].max() == pytest.approx(deepest(wh.q))
    assert wh.energies["total"].sum() < wh.energies["initial_total"].sum()
    assert paper.whole_hand is None and wh.timings["backend"] == "whole_hand"
    assert set(TERMS) <= set(wh.energies)
    again = refine(hand, q, sc.surface, poses)
    np.testing.assert_array_equal(again.q, wh.q)  # deterministic


def test_whole_hand_refuses_a_custom_kinematics_callable():
    from unihm_core.errors import InputError

    hand = load_hand("panda_gripper")
    sc = lift_scene(hand, "sphere", T=16, seed=0)
    with pytest.raises(InputError, match="energy='paper'"):
        refine(hand, sc.q_gen, sc.surface, sc.object_poses, kinematics=hand.fingertip_jacobians)
    with pytest.raises(Exception, match="energy"):
        RefineConfig(energy="fingertips")


def test_no_import_cycle_inside_refine():
    """Modules of unihm_core.refine import each other in one direction only (lazy imports inside
    functions count too); the package's __init__ is the facade and is left out."""
    root = Path(__file__).resolve().parents[1] / "unihm_core" / "refine"
    modules = {p.stem for p in root.glob("*.py") if p.stem != "__init__"}
    edges = {m: set() for m in modules}
    for m in modules:
        for node in ast.walk(ast.parse((root / f"{m}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("unihm_core.refine."):
                    edges[m].add(node.module.split(".")[2])
                elif node.module == "unihm_core.refine":
                    edges[m] |= {a.name for a in node.names if a.name in modules}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in edges[m]:
            assert state.get(n) != 1, f"import cycle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(modules):
        if m not in state:
            visit(m, [m])
