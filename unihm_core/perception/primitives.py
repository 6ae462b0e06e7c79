"""Primitive fitting (box / cylinder / sphere) and completion of the unseen back side.

All fitting happens in the *table frame* (z up, table surface at z = 0), where objects
stand on the table. Candidates:

* ``box``: upright box; yaw and footprint from the minimum-area rectangle of the points'
  (x, y) convex hull, height from the top points. An "L" of two visible sides plus the
  top (a camera looking down) pins down all three extents.
* ``cylinder`` (upright): circle fitted (algebraic fit + Gauss-Newton) to the side points
  (normals nearly horizontal), height from the top points.
* ``cylinder`` (lying): axis = the footprint's long direction, circle fitted in the plane
  across the axis.
* ``sphere``: free least-squares sphere.

Each candidate's residual is the RMS distance of the observed points to the candidate's
closed surface. The smallest residual wins if it is below
``max(abs_tol, rel_tol * size)``; otherwise the shape is ``other`` and only an
axis-aligned bounding box (no completion) is reported.

Completion (the role SnowflakeNet plays in App. E of the paper): the winning primitive's
surface (bottom face excluded, it rests on the table) is sampled on a regular grid of
``spacing``; samples farther than ``2 * spacing`` from every observed point are the
unseen part (back side, or parts hidden behind other objects) and are returned with the
primitive's analytic outward normals, flagged separately from the observed points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("box", "cylinder", "sphere", "other")


@dataclass(frozen=True)
class PrimitiveFit:
    """A fitted primitive in the table frame.

    Attributes:
        shape: "box", "cylinder", "sphere" or "other".
        center: (3,) centre of the primitive [m] (table frame).
        axes: (3, 3) rotation whose columns are the primitive's local x, y, z axes.
        dims: box (lx, ly, lz) [m]; cylinder (radius, radius, length) with the axis along
            local z; sphere (r, r, r); other: the bounding-box size.
        residual: RMS distance of the observed points to the surface [m].
        residuals: residual of every candidate tried, by name.
    """

    shape: str
    center: np.ndarray
    axes: np.ndarray
    dims: np.ndarray
    residual: float
    residuals: dict[str, float]

    @property
    def extent(self) -> np.ndarray:
        """(3,) size along the table frame: (length, width, height) [m], length >= width."""
        if self.shape == "sphere":
            return np.full(3, 2.0 * self.dims[0])
        if self.shape == "cylinder":
            d, L = 2.0 * self.dims[0], self.dims[2]
            if abs(self.axes[2, 2]) > 0.7:  # upright
                return np.array([d, d, L])
            return np.array([max(L, d), min(L, d), d])
        a, b, h = self.dims
        return np.array([max(a, b), min(a, b), h])


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def _min_area_rect(xy: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimum-area rectangle of 2-D points: (centre (2,), yaw [rad], size (2,))."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = xy[ConvexHull(xy).vertices]
    except (QhullError, ValueError):
        hull = xy
    edges = np.diff(np.vstack([hull, hull[:1]]), axis=0)
    angles = np.unique(np.mod(np.arctan2(edges[:, 1], edges[:, 0]), np.pi / 2))
    best = None
    for a in angles:
        c, s = np.cos(a), np.sin(a)
        R = np.array([[c, s], [-s, c]])  # world -> rect
        q = hull @ R.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        area = float(np.prod(hi - lo))
        if best is None or area < best[0]:
            centre = R.T @ ((lo + hi) / 2)
            best = (area, centre, float(a), hi - lo)
    assert best is not None
    return best[1], best[2], best[3]


def _fit_circle(xy: np.ndarray, iters: int = 10) -> tuple[np.ndarray, float]:
    """Least-squares circle (centre (2,), radius): Kasa fit refined by Gauss-Newton."""
    A = np.column_stack([2 * xy, np.ones(len(xy))])
    b = (xy**2).sum(1)
    sol, *_ = np.linalg.lstsq(A, b, rcond=None)
    c = sol[:2]
    r = float(np.sqrt(max(sol[2] + c @ c, 1e-12)))
    for _ in range(iters):
        d = xy - c
        rho = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        res = rho - r
        J = np.column_stack([-d / rho[:, None], -np.ones(len(xy))])
        step, *_ = np.linalg.lstsq(J, -res, rcond=None)
        c = c + step[:2]
        r = float(r + step[2])
        if np.abs(step).max() < 1e-7:
            break
    return c, abs(r)


def _fit_sphere(p: np.ndarray, iters: int = 10) -> tuple[np.ndarray, float]:
    A = np.column_stack([2 * p, np.ones(len(p))])
    b = (p**2).sum(1)
    sol, *_ = np.linalg.lstsq(A, b, rcond=None)
    c = sol[:3]
    r = float(np.sqrt(max(sol[3] + c @ c, 1e-12)))
    for _ in range(iters):
        d = p - c
        rho = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        J = np.column_stack([-d / rho[:, None], -np.ones(len(p))])
        step, *_ = np.linalg.lstsq(J, -(rho - r), rcond=None)
        c = c + step[:3]
        r = float(r + step[3])
        if np.abs(step).max() < 1e-7:
            break
    return c, abs(r)


def _rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def surface_distance(fit: PrimitiveFit, points: np.ndarray) -> np.ndarray:
    """(N,) unsigned distance [m] of table-frame points to the primitive's closed surface."""
    q = (points - fit.center) @ fit.axes  # local coordinates
    if fit.shape == "sphere":
        return np.abs(np.linalg.norm(q, axis=1) - fit.dims[0])
    if fit.shape == "cylinder":
        r, L = fit.dims[0], fit.dims[2]
        dr = np.linalg.norm(q[:, :2], axis=1) - r
        dz = np.abs(q[:, 2]) - L / 2
        inside = np.maximum(dr, dz)
        outside = np.hypot(np.maximum(dr, 0), np.maximum(dz, 0))
        return np.where((dr <= 0) & (dz <= 0), -inside, outside)
    half = fit.dims / 2
    e = np.abs(q) - half
    outside = np.linalg.norm(np.maximum(e, 0), axis=1)
    inside = np.minimum(e.max(axis=1), 0)
    return np.abs(outside + inside)


def _rms(fit: PrimitiveFit, points: np.ndarray) -> float:
    return float(np.sqrt(np.mean(surface_distance(fit, points) ** 2)))


# ---------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------
def _box_at_yaw(p: np.ndarray, height: float, yaw: float) -> PrimitiveFit:
    R = _rot_z(yaw)
    q = p[:, :2] @ R[:2, :2]  # rectangle coordinates
    lo, hi = np.percentile(q, 0.5, axis=0), np.percentile(q, 99.5, axis=0)  # robust to noise
    centre = R[:2, :2] @ ((lo + hi) / 2)
    dims = np.array([hi[0] - lo[0], hi[1] - lo[1], height])
    return PrimitiveFit("box", np.array([centre[0], centre[1], height / 2]), R, dims, 0.0, {})


def _fit_box(p: np.ndarray, n: np.ndarray | None, height: float) -> PrimitiveFit:
    """Upright box: yaw candidates from the hull's minimum-area rectangle and from the
    side normals (circular mean of 4 * angle), each refined over +-4 degrees."""
    _, yaw_hull, _ = _min_area_rect(p[:, :2])
    seeds = [yaw_hull]
    if n is not None:
        side = n[np.abs(n[:, 2]) < 0.5]
        if len(side) >= 10:
            ang = np.arctan2(side[:, 1], side[:, 0])
            seeds.append(float(np.angle(np.exp(4j * ang).sum()) / 4))
    sub = p[:: max(1, len(p) // 3000)]
    best = None
    for y0 in seeds:
        for dy in np.deg2rad(np.arange(-4.0, 4.01, 1.0)):
            fit = _box_at_yaw(sub, height, y0 + dy)
            r = _rms(fit, sub)
            if best is None or r < best[0]:
                best = (r, y0 + dy)
    assert best is not None
    return _refine_box(_box_at_yaw(p, height, best[1]), p)


def _refine_box(fit: PrimitiveFit, p: np.ndarray, iters: int = 3) -> PrimitiveFit:
    """Move each seen face (+-x, +-y, top) to the median of the points nearest to it.

    Percentile extremes sit a few noise sigmas outside the true face; the median of a
    face's points does not. Faces with fewer than 20 points (hidden) keep their place.
    """
    R = fit.axes
    for _ in range(iters):
        q = (p - fit.center) @ R
        half = fit.dims / 2
        lo = -half.copy()
        hi = half.copy()
        # distance of each point to the 5 candidate faces (bottom excluded)
        d = np.stack([np.abs(q[:, 0] + half[0]), np.abs(q[:, 0] - half[0]),
                      np.abs(q[:, 1] + half[1]), np.abs(q[:, 1] - half[1]),
                      np.abs(q[:, 2] - half[2])], axis=1)
        face = d.argmin(axis=1)
        for f, (axis, side) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1), (2, 1))):
            sel = face == f
            if sel.sum() >= 20:
                m = float(np.median(q[sel, axis]))
                (lo if side == 0 else hi)[axis] = m
        lo[2] = -fit.center[2]  # the bottom stays on the table (z = 0)
        dims = np.maximum(hi - lo, 1e-3)
        centre = fit.center + R @ ((lo + hi) / 2)
        fit = PrimitiveFit("box", centre, R, dims, 0.0, {})
    return fit


def _fit_upright_cylinder(p: np.ndarray, n: np.ndarray | None, height: float) -> PrimitiveFit | None:
    side = p if n is None else p[np.abs(n[:, 2]) < 0.5]
    if len(side) < 20:
        side = p[p[:, 2] < 0.85 * height]
    if len(side) < 10:
        return None
    c, r = _fit_circle(side[:, :2])
    if n is not None:
        top = p[(n[:, 2] > 0.9) & (p[:, 2] > 0.8 * height)]
        if len(top) >= 20:
            height = float(np.median(top[:, 2]))
    dims = np.array([r, r, height])
    return PrimitiveFit("cylinder", np.array([c[0], c[1], height / 2]), np.eye(3), dims, 0.0, {})


def _fit_lying_cylinder(p: np.ndarray) -> PrimitiveFit | None:
    xy = p[:, :2] - p[:, :2].mean(axis=0)
    _, vecs = np.linalg.eigh(xy.T @ xy)
    ax = np.array([vecs[0, 1], vecs[1, 1], 0.0])  # long footprint direction
    perp = np.array([-ax[1], ax[0], 0.0])
    s = p @ perp
    c2, r = _fit_circle(np.column_stack([s, p[:, 2]]))
    t = p @ ax
    L = float(t.max() - t.min())
    if L <= 0 or r <= 0:
        return None
    centre = c2[0] * perp + (t.max() + t.min()) / 2 * ax + np.array([0.0, 0.0, c2[1]])
    axes = np.column_stack([perp, np.cross(ax, perp), ax])
    return PrimitiveFit("cylinder", centre, axes, np.array([r, r, L]), 0.0, {})


def fit_primitive(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    *,
    abs_tol: float = 0.004,
    rel_tol: float = 0.06,
) -> PrimitiveFit:
    """Fit every candidate to (N, 3) table-frame points and keep the best.

    Args:
        points: (N, 3) observed points of one object, table frame [m].
        normals: (N, 3) outward normals (used to pick cylinder side points), optional.
        abs_tol: residual always accepted [m] (sensor noise level).
        rel_tol: residual accepted relative to the object's largest extent.
    """
    p = np.asarray(points, dtype=np.float64)
    height = float(np.percentile(p[:, 2], 99.5))
    height = max(height, 1e-3)
    cands: list[PrimitiveFit] = [_fit_box(p, normals, height)]
    for c in (_fit_upright_cylinder(p, normals, height), _fit_lying_cylinder(p)):
        if c is not None:
            cands.append(c)
    if len(p) >= 10:
        sc, sr = _fit_sphere(p)
        cands.append(PrimitiveFit("sphere", sc, np.eye(3), np.full(3, sr), 0.0, {}))
    lo, hi = p.min(axis=0), p.max(axis=0)
    size = float(max(hi[0] - lo[0], hi[1] - lo[1], height))
    footprint = float(np.hypot(hi[0] - lo[0], hi[1] - lo[1]))
    scored = []
    for c in cands:
        res = _rms(c, p)
        # a primitive much larger than the observed points is a degenerate fit
        if c.shape in ("sphere", "cylinder") and 2 * c.dims[0] > 1.25 * footprint:
            res = np.inf
        scored.append((res, c))
    residuals: dict[str, float] = {}
    for res, c in scored:
        residuals[c.shape] = min(residuals.get(c.shape, np.inf), res)
    best_res, best = min(scored, key=lambda rc: rc[0])
    if best_res <= max(abs_tol, rel_tol * size):
        return PrimitiveFit(best.shape, best.center, best.axes, best.dims, float(best_res), residuals)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, height / 2])
    bb = PrimitiveFit("box", centre, np.eye(3), np.array([hi[0] - lo[0], hi[1] - lo[1], height]), 0.0, {})
    return PrimitiveFit("other", centre, np.eye(3), bb.dims, float(best_res), residuals)


# ---------------------------------------------------------------------------------------
# completion
# ---------------------------------------------------------------------------------------
def sample_surface(fit: PrimitiveFit, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Sample the primitive's surface (bottom on the table excluded) every ``spacing`` [m].

    Returns:
        ``(points (M, 3), normals (M, 3))`` in the table frame, normals outward.
    """
    pts: list[np.ndarray] = []
    nrm: list[np.ndarray] = []
    if fit.shape == "box":
        half = fit.dims / 2
        for axis in range(3):
            for sign in (-1.0, 1.0):
                if axis == 2 and sign < 0:
                    continue  # bottom face rests on the table
                u, v = [a for a in range(3) if a != axis]
                nu = max(2, int(np.ceil(fit.dims[u] / spacing)) + 1)
                nv = max(2, int(np.ceil(fit.dims[v] / spacing)) + 1)
                gu, gv = np.meshgrid(np.linspace(-half[u], half[u], nu), np.linspace(-half[v], half[v], nv))
                q = np.zeros((gu.size, 3))
                q[:, u], q[:, v], q[:, axis] = gu.ravel(), gv.ravel(), sign * half[axis]
                n = np.zeros_like(q)
                n[:, axis] = sign
                pts.append(q)
                nrm.append(n)
    elif fit.shape == "cylinder":
        r, L = fit.dims[0], fit.dims[2]
        na = max(8, int(np.ceil(2 * np.pi * r / spacing)))
        nz = max(2, int(np.ceil(L / spacing)) + 1)
        a, z = np.meshgrid(np.linspace(0, 2 * np.pi, na, endpoint=False), np.linspace(-L / 2, L / 2, nz))
        q = np.column_stack([r * np.cos(a.ravel()), r * np.sin(a.ravel()), z.ravel()])
        n = np.column_stack([np.cos(a.ravel()), np.sin(a.ravel()), np.zeros(a.size)])
        pts.append(q)
        nrm.append(n)
        upright = abs(fit.axes[2, 2]) > 0.7
        for sign in (1.0, -1.0):
            if upright and sign * fit.axes[2, 2] < 0:
                continue  # the cap on the table
            rr = np.arange(0.0, r, spacing)
            for ri in rr:
                m = max(1, int(np.ceil(2 * np.pi * ri / spacing)))
                aa = np.linspace(0, 2 * np.pi, m, endpoint=False)
                cap = np.column_stack([ri * np.cos(aa), ri * np.sin(aa), np.full(m, sign * L / 2)])
                pts.append(cap)
                nrm.append(np.tile([0.0, 0.0, sign], (m, 1)))
    elif fit.shape == "sphere":
        r = fit.dims[0]
        m = max(20, int(4 * np.pi * r**2 / spacing**2))
        i = np.arange(m) + 0.5
        phi = np.arccos(1 - 2 * i / m)
        theta = np.pi * (1 + 5**0.5) * i
        n = np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)])
        pts.append(r * n)
        nrm.append(n)
    else:
        return np.zeros((0, 3)), np.zeros((0, 3))
    q = np.vstack(pts)
    n = np.vstack(nrm)
    world = q @ fit.axes.T + fit.center
    nw = n @ fit.axes.T
    keep = world[:, 2] > -1e-6  # nothing below the table
    return world[keep], nw[keep]


def complete_hidden(
    fit: PrimitiveFit, observed: np.ndarray, *, spacing: float = 0.005
) -> tuple[np.ndarray, np.ndarray]:
    """Surface samples of ``fit`` that no observed point covers (the unseen part).

    Args:
        fit: fitted primitive (table frame).
        observed: (N, 3) observed points (table frame) [m].
        spacing: sample spacing [m].

    Returns:
        ``(points (M, 3), normals (M, 3))`` in the table frame; empty for ``other``.
    """
    from scipy.spatial import cKDTree

    pts, nrm = sample_surface(fit, spacing)
    if len(pts) == 0 or len(observed) == 0:
        return pts, nrm
    dist, _ = cKDTree(observed).query(pts, k=1, distance_upper_bound=2 * spacing)
    hidden = ~np.isfinite(dist)
    return pts[hidden], nrm[hidden]
