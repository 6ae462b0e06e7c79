"""The contact kernel f(d) of Eq. 12/B16: continuity, matched slope (B17), convexity, Fig. B1."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.refine.kernel import EXP_CAP, kernel, kernel_and_derivatives, kernel_scalar

PARAMS = [(1.0, 1.0), (1.0, 100.0), (0.5, 2.0), (2.0, 0.5), (3.0, 300.0)]


@pytest.mark.parametrize("alpha,k", PARAMS)
def test_continuous_with_matched_slope_at_zero(alpha, k):
    h = 1e-7
    f_plus, f1_plus, f2_plus = kernel_and_derivatives(np.array([h]), alpha, k)
    f_minus, f1_minus, f2_minus = kernel_and_derivatives(np.array([-h]), alpha, k)
    assert kernel(0.0, alpha, k) == 0.0
    assert abs(f_plus[0]) < 1e-12 and abs(f_minus[0]) < 1e-12
    assert abs(f1_plus[0] - f1_minus[0]) < 3 * alpha * h  # both slopes -> 0 (B17)
    assert f2_plus[0] == pytest.approx(f2_minus[0], rel=2 * k * h)  # f'' = alpha on both sides


@pytest.mark.parametrize("alpha,k", PARAMS)
def test_derivatives_match_finite_differences(alpha, k):
    d = np.linspace(-3.0 / k, 3.0 / k, 41)
    d = d[np.abs(d) > 1e-3 / k]
    f, f1, f2 = kernel_and_derivatives(d, alpha, k)
    h = 1e-6 / k
    fp, f1p, _ = kernel_and_derivatives(d + h, alpha, k)
    fm, f1m, _ = kernel_and_derivatives(d - h, alpha, k)
    np.testing.assert_allclose(f1, (fp - fm) / (2 * h), rtol=1e-5, atol=1e-9 * alpha / k)
    np.testing.assert_allclose(f2, (f1p - f1m) / (2 * h), rtol=1e-5, atol=1e-9 * alpha)
    for di, fi, f1i in zip(d, f, f1):
        fs, f1s = kernel_scalar(float(di), alpha, k, True)
        assert fs == pytest.approx(fi, rel=1e-12, abs=1e-300) and f1s == pytest.approx(f1i, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("alpha,k", PARAMS)
def test_convex(alpha, k):
    d = np.linspace(-5.0 / k, 5.0 / k, 2001)
    f, f1, f2 = kernel_and_derivatives(d, alpha, k)
    assert np.all(f >= 0) and np.all(f2 >= alpha * (1 - 1e-12))
    assert np.all(np.diff(f1) > 0)  # strictly increasing slope
    # midpoint convexity on random pairs
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-5 / k, 5 / k, size=(2, 500))
    assert np.all(kernel((a + b) / 2, alpha, k) <= (kernel(a, alpha, k) + kernel(b, alpha, k)) / 2 + 1e-15)


def test_fig_b1_behaviour():
    """Fig. B1: alpha shapes the outside branch, k the inside one; inside is steeper; f is flat
    near 0 compared with |d|."""
    d = np.linspace(0.001, 0.05, 50)
    for alpha in (0.5, 1.0, 2.0):
        # outside branch is exactly alpha/2 d^2 and does not depend on k
        np.testing.assert_allclose(kernel(d, alpha, 1.0), 0.5 * alpha * d**2)
        np.testing.assert_allclose(kernel(d, alpha, 300.0), 0.5 * alpha * d**2)
        for k in (10.0, 100.0, 300.0):
            inside, outside = kernel(-d, alpha, k), kernel(d, alpha, k)
            assert np.all(inside > outside)  # penetration costs more than hovering
            # larger k -> steeper inside branch
            assert np.all(kernel(-d, alpha, 2 * k) > inside)
            # flat near zero: below the |d| reference line of Fig. B1 for small d
            small = np.linspace(1e-4, 0.5 / max(alpha, 1.0), 20) * min(1.0, 1.0 / k)
            assert np.all(kernel(small, alpha, k) < small) and np.all(kernel(-small, alpha, k) < small)
    # inside ~ alpha/2 d^2 for |d| << 1/k and exponential for |d| >> 1/k
    assert kernel(-1e-4, 1.0, 1.0) == pytest.approx(0.5e-8, rel=1e-3)
    assert kernel(-0.2, 1.0, 100.0) == pytest.approx((np.exp(20) - 21) / 1e4, rel=1e-9)


def test_overflow_guard_is_finite_convex_and_c1():
    k, alpha = 100.0, 1.0
    d_cap = -EXP_CAP / k
    d = np.array([d_cap * 1.5, d_cap * 10, -1e3])
    f, f1, f2 = kernel_and_derivatives(d, alpha, k)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(f1)) and np.all(f1 < 0) and np.all(f2 > 0)
    eps = 1e-9
    lo = kernel_and_derivatives(np.array([d_cap - eps]), alpha, k)
    hi = kernel_and_derivatives(np.array([d_cap + eps]), alpha, k)
    assert lo[0][0] == pytest.approx(hi[0][0], rel=1e-6)
    assert lo[1][0] == pytest.approx(hi[1][0], rel=1e-6)
    fs, f1s = kernel_scalar(-1e3, alpha, k, False)
    assert np.isfinite(fs) and fs == pytest.approx(f[2])


def test_penetration_only_variant():
    d = np.array([-0.02, -0.001, 0.0, 0.001, 0.02])
    f, f1, _ = kernel_and_derivatives(d, 1.0, 100.0, attract=False)
    full = kernel(d, 1.0, 100.0)
    np.testing.assert_allclose(f[:2], full[:2])
    assert np.all(f[2:] == 0) and np.all(f1[2:] == 0) and np.all(f1[:2] < 0)
    assert kernel_scalar(0.01, 1.0, 100.0, False) == (0.0, 0.0)


def test_kernel_never_negative_just_inside_the_surface():
    """f(d) >= 0 for tiny negative d: e - u - 1 cancelled to -1e-17 there and sqrt(f) in the
    contact residual raised (it stopped a 2000-sequence dataset build)."""
    import math

    from unihm_core.refine.kernel import kernel, kernel_scalar

    d = -np.logspace(-20, -6, 2000)
    assert kernel(d).min() >= 0.0
    for x in d:
        f, _ = kernel_scalar(float(x), 1.0, 100.0, True)
        assert f >= 0.0
        math.sqrt(f)
