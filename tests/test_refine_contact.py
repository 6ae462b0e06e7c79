"""Contact residuals and Jacobian rows (Eq. 11, 13, B19), fingertip kinematics, surfaces, normals."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import InputError
from unihm_core.hands import HAND_NAMES, load_hand
from unihm_core.refine import ObjectSurface, RefineConfig, contact_terms, estimate_normals, mesh_normals_at
from unihm_core.refine.contact import ContactEnergy
from unihm_core.refine.fingertips import FingertipKinematics
from unihm_core.refine.synthetic import box_cloud, sphere_cloud


def _rot(rng):
    from scipy.spatial.transform import Rotation

    return Rotation.random(random_state=int(rng.integers(1 << 30))).as_matrix()


def _scene(hand, rng, offset):
    """A configuration, a sphere cloud near its fingertips and an object pose."""
    q = hand.clamp(hand.random(rng))
    q[:3] = rng.uniform(-0.05, 0.05, 3)
    tips = hand.fingertip_positions(q)
    pose = np.eye(4)
    pose[:3, :3] = _rot(rng)
    pose[:3, 3] = tips.mean(0) + offset * rng.normal(size=3)
    pts, nrm = sphere_cloud(0.04, 3000, rng)
    return q, ObjectSurface(pts, nrm), pose


@pytest.mark.parametrize("name", ["shadow", "allegro", "inspire", "panda_gripper", "human"])
@pytest.mark.parametrize("model", ["kernel", "euclidean"])
def test_jacobian_rows_match_finite_differences(name, model):
    """B19 with frozen correspondences: analytic rows equal central differences of r(q)."""
    hand = load_hand(name)
    rng = np.random.default_rng(11)
    cfg = RefineConfig(contact_model=model, eps=1e-9, k=60.0)
    fk = FingertipKinematics(hand)
    checked = 0
    for trial in range(6):
        q, surf, pose = _scene(hand, rng, 0.01)
        F = len(hand.fingertip_links)
        attract = rng.random(F) < 0.6
        s, Js = fk(q)
        ct = contact_terms(s, Js, pose, surf, attract, cfg)
        frozen = ObjectSurface(surf.points[ct.index], surf.normals[ct.index])  # one point per tip

        def residual(qq):
            ss, JJ = fk(qq)
            out = np.empty(F)
            for i in range(F):
                sub = ObjectSurface(frozen.points[i:i + 1], frozen.normals[i:i + 1])
                out[i] = contact_terms(ss[i:i + 1], JJ[i:i + 1], pose, sub, attract[i:i + 1], cfg).r[0]
            return out

        h = 1e-6
        J_fd = np.empty_like(ct.J)
        for j in range(hand.dof):
            dq = np.zeros(hand.dof)
            dq[j] = h
            J_fd[:, j] = (residual(q + dq) - residual(q - dq)) / (2 * h)
        ok = np.abs(ct.d) > 1e-4  # away from the kink of |d| at 0
        np.testing.assert_allclose(ct.J[ok], J_fd[ok], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(0.5 * ct.r**2, ct.energy, rtol=1e-12, atol=1e-18)
        assert ct.total == pytest.approx(ct.energy.sum())
        checked += int(ok.sum())
    assert checked >= 10


def test_signed_distance_and_energy_on_a_plane():
    """Point-to-plane distance (Eq. 11) in the object frame via T_tar^-1, and lambda_c f(d)."""
    hand = load_hand("panda_gripper")
    rng = np.random.default_rng(0)
    pts, nrm = box_cloud(np.array([0.2, 0.2, 0.02]), 4000, rng)
    surf = ObjectSurface(pts, nrm)
    pose = np.eye(4)
    pose[:3, :3] = _rot(rng)
    pose[:3, 3] = [0.1, -0.2, 0.3]
    cfg = RefineConfig()
    local = np.array([[0.01, 0.02, 0.02 + 0.004], [-0.03, 0.01, 0.02 - 0.003]])  # above / inside top face
    s = local @ pose[:3, :3].T + pose[:3, 3]
    Js = np.zeros((2, 3, hand.dof))
    ct = contact_terms(s, Js, pose, surf, np.array([True, False]), cfg)
    np.testing.assert_allclose(ct.d, [0.004, -0.003], atol=1e-12)
    f_in = cfg.alpha / cfg.k**2 * (np.exp(0.003 * cfg.k) - 0.003 * cfg.k - 1)
    np.testing.assert_allclose(ct.energy, [cfg.lambda_c * 0.5 * cfg.alpha * 0.004**2, cfg.lambda_c * f_in])
    # hovering without scheduled contact costs nothing
    ct2 = contact_terms(s, Js, pose, surf, np.array([False, False]), cfg)
    assert ct2.energy[0] == 0.0 and ct2.r[0] == 0.0 and np.all(ct2.J[0] == 0)


@pytest.mark.parametrize("model", ["kernel", "euclidean"])
def test_frame_bound_evaluation_equals_contact_terms(model):
    """The solver's per-frame evaluator gives what contact_terms gives, call after call, and the
    surface's tangent planes give the point-to-plane distance of Eq. 11."""
    hand = load_hand("allegro")
    rng = np.random.default_rng(5)
    cfg = RefineConfig(contact_model=model)
    fk = FingertipKinematics(hand)
    q, surf, pose = _scene(hand, rng, 0.01)
    np.testing.assert_array_equal(surf.planes[:, :3], surf.normals)
    np.testing.assert_allclose(surf.planes[:, 3], np.einsum("ij,ij->i", surf.normals, surf.points), atol=1e-17)
    attract = np.array([True, False, True, False])
    evaluate = ContactEnergy(surf, cfg).at(pose, attract)
    for _ in range(3):
        q = hand.clamp(q + 0.05 * rng.normal(size=hand.dof))
        s, Js = fk(q)
        a, b = evaluate(s, Js), contact_terms(s, Js, pose, surf, attract, cfg)
        for name in ("d", "r", "J", "energy", "index"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.total == b.total
        x = (s - pose[:3, 3]) @ pose[:3, :3]
        p, n = surf.points[a.index], surf.normals[a.index]
        np.testing.assert_allclose(a.d, np.einsum("ij,ij->i", n, x - p), atol=1e-15)


@pytest.mark.parametrize("name", HAND_NAMES)
def test_fingertip_kinematics_equals_hand_model(name):
    hand = load_hand(name)
    fk = FingertipKinematics(hand)
    rng = np.random.default_rng(3)
    for _ in range(3):
        q = hand.clamp(hand.random(rng))
        p0, J0 = hand.fingertip_jacobians(q)
        p1, J1 = fk(q)
        np.testing.assert_allclose(p1, p0, atol=1e-12)
        np.testing.assert_allclose(J1, J0, atol=1e-12)


def test_surface_validation():
    pts = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(InputError, match="NaN"):
        ObjectSurface(np.where(np.arange(30).reshape(10, 3) == 4, np.nan, pts), pts)
    with pytest.raises(InputError, match="NaN"):
        ObjectSurface(pts, np.full((10, 3), np.inf))
    with pytest.raises(InputError, match="shape"):
        ObjectSurface(pts, pts[:5])
    with pytest.raises(InputError, match=r"\(N, 3\)"):
        ObjectSurface(pts[:, :2], pts[:, :2])
    with pytest.raises(InputError, match="zero length"):
        ObjectSurface(pts, np.zeros((10, 3)))
    surf = ObjectSurface(pts, 3 * pts)
    np.testing.assert_allclose(np.linalg.norm(surf.normals, axis=1), 1.0)


@pytest.mark.parametrize("orient", ["centroid", "tangent_plane"])
def test_estimated_normals_point_outwards(orient):
    rng = np.random.default_rng(1)
    pts, exact = sphere_cloud(0.05, 2000, rng)
    pts = pts + np.array([0.3, -0.1, 0.2]) + rng.normal(scale=2e-4, size=pts.shape)  # sensor-like jitter
    n = estimate_normals(pts, knn=20, orient=orient)
    cos = np.einsum("ij,ij->i", n, exact)
    assert np.all(cos > 0.9)
    pts_b, exact_b = box_cloud(np.array([0.05, 0.03, 0.02]), 3000, rng)
    nb = estimate_normals(pts_b + rng.normal(scale=2e-4, size=pts_b.shape), knn=12, orient=orient)
    assert np.median(np.einsum("ij,ij->i", nb, exact_b)) > 0.99


def test_camera_oriented_normals_face_the_camera():
    rng = np.random.default_rng(2)
    pts, exact = sphere_cloud(0.05, 2000, rng)
    cam = np.array([0.0, 0.0, 1.0])
    front = pts[:, 2] > 0.02  # the side a camera above sees
    n = estimate_normals(pts[front], knn=20, orient=cam)
    assert np.all(np.einsum("ij,ij->i", n, exact[front]) > 0.9)
    with pytest.raises(InputError):
        estimate_normals(pts, orient="sideways")


def test_mesh_normals_and_surface_build_sources():
    import trimesh

    mesh = trimesh.creation.box(extents=(0.1, 0.06, 0.04))
    rng = np.random.default_rng(4)
    pts, nrm = box_cloud(np.array([0.05, 0.03, 0.02]), 500, rng)
    got = mesh_normals_at(mesh, pts)
    away_from_edges = np.sort(np.abs(np.abs(pts) - [0.05, 0.03, 0.02]), axis=1)[:, 1] > 1e-3
    np.testing.assert_allclose(got[away_from_edges], nrm[away_from_edges], atol=1e-9)
    assert ObjectSurface.build(pts, mesh=mesh).normals_source == "mesh"
    assert ObjectSurface.build(pts, nrm).normals_source == "given"
    assert ObjectSurface.build(pts).normals_source == "estimated"
