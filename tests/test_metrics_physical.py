"""Physical metrics on hand-computed examples (a unit sphere sampled densely)."""

import numpy as np
import pytest

from unihm_core.metrics import fingertip_signed_distances, physical_metrics


@pytest.fixture(scope="module")
def sphere():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(20000, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return 0.05 * n, n


def test_signed_distance_and_penetration(sphere):
    pts, nrm = sphere
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[:, 0, 3] = 1.0  # object moved: distances must be taken in its frame
    tips = np.array([[[1.06, 0, 0], [1.0, 0.048, 0]],   # 1 cm outside, 2 mm inside
                     [[1.0, 0, 0.05], [1.0, 0, -0.05]],  # on the surface
                     [[1.0, 0, 0.03], [1.1, 0, 0]]])      # 2 cm inside, 5 cm outside
    d = fingertip_signed_distances(tips, poses, pts, nrm)
    assert d[0, 0] == pytest.approx(0.01, abs=5e-4) and d[0, 1] == pytest.approx(-0.002, abs=5e-4)
    m = physical_metrics(tips, poses, pts, nrm)
    assert m["penetration_per_frame_mm"] == pytest.approx([2.0, 0.0, 20.0], abs=0.6)
    assert m["penetration_max_mm"] == pytest.approx(20.0, abs=0.6)
    # nearest |d| per frame: 2 mm, 0 mm, 20 mm -> mean 7.3 mm
    assert m["contact_distance_mm"] == pytest.approx((2 + 0 + 20) / 3, abs=0.6)


def test_jerk_zero_for_constant_velocity_and_positive_otherwise(sphere):
    pts, nrm = sphere
    T = 10
    poses = np.tile(np.eye(4), (T, 1, 1))
    tips = np.zeros((T, 1, 3))
    tips[:, 0, 0] = 0.1 + 0.01 * np.arange(T)
    assert physical_metrics(tips, poses, pts, nrm)["jerk_m_s3"] == pytest.approx(0.0, abs=1e-6)
    tips[:, 0, 0] = 0.1 + 0.001 * np.arange(T) ** 3  # x = a t^3: constant third difference 6a
    assert physical_metrics(tips, poses, pts, nrm, fps=1.0)["jerk_m_s3"] == pytest.approx(0.006, rel=1e-6)
