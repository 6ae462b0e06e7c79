"""Whole-hand refinement: the trajectory is optimised as one Gauss-Newton problem with energy
terms for every link, not only the fingertips (``RefineConfig(energy="whole_hand")``, the default).

Why. Algorithm 1 (paper Sec. 3.4, :mod:`unihm_core.refine.solver`) attracts fingertip *points* to
the surface and penalises fingertip penetration. Executed in physics that is not enough
(docs/RESULTS.md, physics section): palms and phalanges pass through the object and get it
ejected, the approach knocks the object over, and contacts that all press from one side hold
nothing (on a fresh build the scheduled contacts of the ground truth point their normals the same
way: |sum of unit normals| / count 0.6-1.0 at the grasp frame). The terms below address exactly
these failures; each is a residual ``r`` with an analytic Jacobian (tested against finite
differences on every hand, ``tests/test_refine_whole_hand.py``), and the energy is
``E = sum 0.5 r^2`` over all terms and frames plus the paper's priors (Eq. 14, 15).

The hand is a set of spheres and a palm box (:mod:`unihm_core.refine.hand_spheres`: the execution
check's capsules and fingertip spheres covered by spheres; the box kept as a box, with the object
points inside it as its penetration and clearance rows, and its corners for the table). For sphere
``s`` with centre ``c`` (world) and radius ``rho``, ``y = R_t^T (c - p_t)`` is the centre in the
object frame at frame ``t``, ``p`` its nearest cloud point, ``d`` its signed distance to the
object's convex hull with gradient ``n`` (the active facet's normal, see *Distances*; frozen while
the Jacobian is formed, as in Algorithm 1) and ``gap = d - rho`` the distance of the sphere's
surface to the object's.

Terms (weights in :class:`~unihm_core.refine.config.RefineConfig`; ``m_t`` is the margin of
:func:`margins`: ``clearance`` outside the contact windows, shrinking linearly to zero over each
close phase, zero while the object moves, growing back over the release):

* **contact** ``sqrt(w_touch) (gap - m_t)`` for every scheduled fingertip
  (:mod:`unihm_core.refine.schedule`): the fingertips close *together*, in step with the margin,
  and their surfaces (not their centres: Algorithm 1 pulls the fingertip frame, the sphere's centre,
  onto the surface, a penetration of one radius) touch the object from the first moving frame on.
  Measured in the execution check, a finger that arrives first (or overshoots after a jump in its
  target) pushes the object away from the others, the most common way a grasp was lost;
* **penetration** ``sqrt(w_penetration) max(0, -gap)`` for every sphere at every frame, and
  ``sqrt(w_penetration) min_k (h_k - |s_k|)`` for every object point inside the palm box (``s`` the
  point in box coordinates, ``h`` the half extents);
* **table** ``sqrt(w_table) max(0, rho - c_z)`` for every sphere at every frame (table z = 0);
* **clearance** ``sqrt(w_clearance) max(0, m_t - gap)`` for every sphere (and the palm box grown
  by ``m_t``): the approach does not knock the object before the grasp closes;
* **grip** (frames with a scheduled thumb, fingertip 0, and at least one other scheduled
  fingertip): the contacts must squeeze without pushing the object away. With the smoothed contact
  direction ``u_i = sign(d_i) (y_i - p_i) / sqrt(|y_i - p_i|^2 + delta^2)`` (the outward normal
  when the fingertip is off the surface, continuous in ``y_i``, unlike the nearest point's normal),
  the residual is the mean wrench of equal unit squeezing forces,
  ``sqrt(w_grip) [mean u_i ; mean ((p_i - o) / L) x u_i ; mean (y_i - o) / |y_i - o|]``: the first
  six rows are DexGraspNet's force-closure energy ``|G c|`` with equal forces, as the execution
  check's squeeze presses every scheduled fingertip the same depth; the last three ask the contacts
  to oppose each other about the centroid ``o`` (``L`` the cloud's radius), a direction that also
  changes across the flat faces of a box, where the nearest-point normal gives no gradient;
* **hold** ``sqrt(w_hold) (y_f(t) - y_f(t-1))`` for a fingertip scheduled at both frames: the
  contact does not slide over the object while it is carried.

Distances. ``d`` is the signed distance to the convex hull of the object's points
(:func:`hull_distance`: exact inside, a lower bound outside), not the nearest point's tangent plane
used by Algorithm 1: a link deep inside a box has its nearest cloud point on the far face about as
often as on the near one, and the tangent plane then pushes it through the object. The execution
check simulates rigid objects as this hull too. The grip term still uses the nearest cloud point.

Priors. Eq. 14 and 15 over the whole trajectory (``q_{-1} = q_{-2} = q_0^gen``), with ``W_vel`` and
``W_acc`` multiplied by ``wh_smoothing``: the new terms move the hand much more than fingertip
attraction does, and a jump between two frames makes the PD-driven fingers overshoot.

Solver. The residuals of frame ``t`` depend on ``q_t`` only (hold: ``q_t`` and ``q_{t-1}``) and the
priors couple at most three consecutive frames, so the Gauss-Newton matrix is block-banded
(bandwidth three blocks): Levenberg-Marquardt steps ``(J^T J + H_prior + lambda diag) dq = -g``
are solved with a block-banded Cholesky factorisation in ``O(T D^3)`` (:func:`block_banded_solve`),
projected onto the joint limits;
a step is kept when it lowers ``E``. The initial iterate is the clamped generated trajectory; the
schedule is Algorithm 1's (derived from the generated fingertips and the object's motion).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from unihm_core.refine.banded import block_banded_solve
from unihm_core.refine.config import RefineConfig
from unihm_core.refine.hand_spheres import box_kinematics, hand_spheres, sphere_kinematics
from unihm_core.refine.priors import PriorWeights, trajectory_prior_energies
from unihm_core.refine.schedule import ContactSchedule
from unihm_core.refine.surface import ObjectSurface

TERMS = ("contact", "penetration", "table", "clearance", "grip", "hold")
GRIP_DELTA = 0.002  # [m] smoothing length of the contact direction
MAX_POINTS = 4096  # object points the per-iteration queries use (see WholeHandProblem)


@dataclass
class Rows:
    """Residual rows of one term: ``r`` ``(m,)``, frame ``frame`` ``(m,)`` and Jacobian ``J``
    ``(m, D)`` w.r.t. ``q[frame]``; rows coupling two frames (hold) also have ``J_prev``
    w.r.t. ``q[frame - 1]``."""

    r: np.ndarray
    frame: np.ndarray
    J: np.ndarray
    J_prev: np.ndarray | None = None

    @property
    def energy(self) -> float:
        return 0.5 * float(self.r @ self.r)


def margins(schedule: ContactSchedule, T: int, clearance: float) -> np.ndarray:
    """``(T,)`` the gap every link keeps from the object, and that scheduled fingertips close to:
    ``clearance`` outside the contact windows, shrinking linearly to 0 over each close phase
    (window start to the first moving frame), 0 while carried, growing back over the release."""
    m = np.full(T, float(clearance))
    for ph in schedule.phases:
        n_in = ph.first - ph.start
        if n_in > 0:
            m[ph.start:ph.first] = clearance * np.arange(n_in, 0, -1) / n_in
        m[ph.first:ph.last + 1] = 0.0
        n_out = ph.end - ph.last
        if n_out > 0:
            m[ph.last + 1:ph.end + 1] = clearance * np.arange(1, n_out + 1) / (n_out + 1)
    return m


def hull_planes(points: np.ndarray) -> np.ndarray:
    """``(K, 4)`` the facet planes ``[n, b]`` of the points' convex hull (``n . x + b <= 0`` inside,
    ``n`` unit outward), nearly coplanar facets merged."""
    from scipy.spatial import ConvexHull, QhullError  # noqa: PLC0415

    try:
        # facets merged where their centrums lie within 0.5 mm of each other's planes (qhull "C-"):
        # 25x fewer planes on a 2,000-point sphere, the hull moves by at most about that much
        eq = ConvexHull(points, qhull_options="C-0.0005").equations
    except (QhullError, ValueError):  # flat or degenerate cloud: a slab around its best-fit plane
        c = points.mean(0)
        n = np.linalg.svd(points - c)[2][-1]
        eq = np.array([[*n, -n @ c - 1e-3], [*(-n), n @ c - 1e-3]])
    return np.unique(np.round(eq, 7), axis=0)


def hull_distance(planes: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance of ``Y`` ``(..., 3)`` to the convex hull ``max_k n_k . y + b_k`` (exact inside,
    a lower bound outside, where it is exact over a face and short of the true distance near edges
    and corners) and its gradient ``n_k*`` ``(..., 3)``, the active facet's normal."""
    flat = Y.reshape(-1, 3)
    d = np.empty(len(flat))
    k = np.empty(len(flat), np.int64)
    for a in range(0, len(flat), 4096):  # (chunk, K) at a time
        v = flat[a:a + 4096] @ planes[:, :3].T + planes[:, 3]
        k[a:a + 4096] = v.argmax(1)
        d[a:a + 4096] = v[np.arange(len(v)), k[a:a + 4096]]
    return d.reshape(Y.shape[:-1]), planes[k, :3].reshape(Y.shape)


class WholeHandProblem:
    """The terms of the module docstring for one (hand, object, trajectory) problem.

    ``evaluate(Q)`` gives every term's :class:`Rows` at ``Q`` ``(T, D)`` (correspondences at ``Q``,
    then frozen); ``terms(Q)`` only what the energies need.
    """

    def __init__(self, hand, surface: ObjectSurface, poses: np.ndarray, schedule: ContactSchedule,
                 cfg: RefineConfig):
        self.hand, self.cfg = hand, cfg
        # a perceived cloud has up to ~25k points: the nearest-point and in-box queries use every
        # k-th (at most MAX_POINTS, ~1-2 mm apart on tabletop objects); the hull uses all of them
        step = -(-len(surface.points) // MAX_POINTS)
        self.surface = surface if step == 1 else ObjectSurface(surface.points[::step], surface.normals[::step])
        self.spheres = hand_spheres(hand)
        self.R = np.ascontiguousarray(poses[:, :3, :3])
        self.p = np.ascontiguousarray(poses[:, :3, 3])
        self.mask = np.asarray(schedule.mask, bool)
        self.tip_sphere = self.spheres.tip_spheres
        self.margin = margins(schedule, len(poses), cfg.clearance)
        pts = surface.points
        self.planes = hull_planes(pts)
        pts = self.surface.points
        self.centroid = pts.mean(0)
        self.arm = max(float(np.linalg.norm(pts - self.centroid, axis=1).max()), 1e-3)
        # grip frames: a scheduled thumb (fingertip 0) and at least one more scheduled fingertip
        self.grip_frames = np.flatnonzero(self.mask[:, 0] & (self.mask[:, 1:].sum(1) >= 1)) \
            if self.mask.shape[1] > 1 else np.zeros(0, int)
        self.hold_pairs = np.argwhere(self.mask[1:] & self.mask[:-1])  # (k, 2): (t - 1, fingertip)

    # -- geometry at Q -------------------------------------------------------------------------
    def _geometry(self, Q: np.ndarray):
        """Sphere centres (world, Jacobians, object frame), their nearest surface points, and the
        signed distance ``d`` to the object's convex hull with its gradient ``N`` (object frame)."""
        X, JX = sphere_kinematics(self.hand, Q)  # (T, S, 3), (T, S, 3, D)
        Y = np.einsum("tsi,tij->tsj", X - self.p[:, None, :], self.R)  # object frame: R^T (x - p)
        dist, idx = self.surface.query(Y)
        P = self.surface.points[idx]
        # the hull distance only where a term can be active: fingertips, spheres within reach of the
        # largest margin, or behind the nearest point's tangent plane (possibly inside); elsewhere the
        # distance to the nearest point stands in (no hinge is active there; it is >= the hull distance)
        d = dist.copy()
        N = np.zeros_like(Y)
        near = (dist < self.spheres.radius[None, :] + self.cfg.clearance + 0.01) | \
            (np.einsum("tsi,tsi->ts", self.surface.normals[idx], Y - P) < 0.0)
        near[:, self.tip_sphere] = True  # the contact term reads every fingertip's distance
        near[:, self.spheres.table_only] = False  # box corners: the table term only
        d[near], N[near] = hull_distance(self.planes, Y[near])
        return X, JX, Y, P, N, d

    def _box_rows(self, Q: np.ndarray, jacobians: bool) -> tuple[list, list, np.ndarray]:
        """Object points inside each hand box (penetration) and inside it grown by the margin
        (clearance): ``sqrt(w) (m + min_k (h_k - |s_k|))`` per point, ``s`` the point in box
        coordinates, ``h`` the half extents; with the deepest box penetration per frame."""
        T, D = Q.shape
        pen, clr = [], []
        deepest = np.zeros(T)
        boxes = self.spheres.boxes
        if not boxes:
            return pen, clr, deepest
        Xb, Jb = box_kinematics(self.hand, Q)  # (T, 4B, 3), (T, 4B, 3, D)
        sp, sc = np.sqrt(self.cfg.w_penetration), np.sqrt(self.cfg.w_clearance)
        for b, box in enumerate(boxes):
            c, E = Xb[:, 4 * b], Xb[:, 4 * b + 1:4 * b + 4] - Xb[:, 4 * b, None]  # centres, axes (rows)
            Jc, JE = Jb[:, 4 * b], Jb[:, 4 * b + 1:4 * b + 4] - Jb[:, 4 * b, None]
            centre_obj = np.einsum("ti,tij->tj", c - self.p, self.R)
            reach = np.linalg.norm(box.half) + self.margin  # (T,): the box grown by the frame's margin
            for t, idx in enumerate(self.surface.tree.query_ball_point(centre_obj, reach)):
                if not idx:
                    continue
                rel = self.surface.points[idx] @ self.R[t].T + self.p[t] - c[t]  # (n, 3) world
                s_ = rel @ E[t].T  # box coordinates
                slack = box.half - np.abs(s_)
                k = slack.argmin(1)
                depth = slack[np.arange(len(idx)), k]  # > 0: inside the box
                m = self.margin[t]
                act = depth + m > 0.0
                if not act.any():
                    continue
                deepest[t] = max(deepest[t], float(depth.max()))
                rel, k, depth, sgn = rel[act], k[act], depth[act], np.sign(s_[act, k[act]])
                if jacobians:  # d s_k / dq = (d e_k / dq)^T rel - e_k^T d c / dq
                    ds = np.einsum("nj,njd->nd", rel, JE[t][k]) - E[t][k] @ Jc[t]
                    dd = -sgn[:, None] * ds
                for rows, w, mm in ((pen, sp, 0.0), (clr, sc, m)):
                    a = depth + mm > 0.0
                    if a.any():
                        J = w * dd[a] if jacobians else np.zeros((int(a.sum()), D))
                        rows.append(Rows(w * (depth[a] + mm), np.full(int(a.sum()), t), J))
        return pen, clr, deepest

    def evaluate(self, Q: np.ndarray, jacobians: bool = True) -> dict[str, Rows]:
        cfg, rho = self.cfg, self.spheres.radius
        X, JX, Y, P, N, d = self._geometry(Q)
        T, S, _ = X.shape
        D = Q.shape[1]
        gap = d - rho[None, :]
        out: dict[str, Rows] = {}
        # object-frame Jacobians of the centres, R^T JX, and of their plane distances, n^T R^T JX
        JY = self.R.transpose(0, 2, 1)[:, None] @ JX if jacobians else None  # (T, S, 3, D)
        Jd = (N[..., None, :] @ JY)[..., 0, :] if jacobians else None  # (T, S, D)

        def hinge(name, value, w, Jrow, sign):
            t, s = np.nonzero(value > 0.0)
            sw = np.sqrt(w)
            J = sign * sw * Jrow[t, s] if jacobians else np.zeros((len(t), D))
            out[name] = Rows(sw * value[t, s], t, J)

        obj = ~self.spheres.table_only[None, :]  # box corners only meet the table
        hinge("penetration", np.where(obj, -gap, 0.0), cfg.w_penetration, Jd, -1.0)
        hinge("table", rho[None, :] - X[:, :, 2], cfg.w_table, JX[:, :, 2, :] if jacobians else None, -1.0)
        hinge("clearance", np.where(obj, self.margin[:, None] - gap, 0.0), cfg.w_clearance, Jd, -1.0)
        pen_b, clr_b, _ = self._box_rows(Q, jacobians)
        out["penetration"] = _concat([out["penetration"], *pen_b], D)
        out["clearance"] = _concat([out["clearance"], *clr_b], D)
        # contact: scheduled fingertips' surfaces onto the object (closing with the margin)
        t, f = np.nonzero(self.mask)
        s = self.tip_sphere[f]
        sw = np.sqrt(cfg.w_touch)
        out["contact"] = Rows(sw * (gap[t, s] - self.margin[t]), t,
                              sw * Jd[t, s] if jacobians else np.zeros((len(t), D)))
        out["grip"] = self._grip(Y, P, d, JY, D, jacobians)
        # hold: scheduled fingertips do not slide while scheduled at consecutive frames
        tp, f = self.hold_pairs[:, 0], self.hold_pairs[:, 1]
        s = self.tip_sphere[f]
        sw = np.sqrt(cfg.w_hold)
        r = sw * (Y[tp + 1, s] - Y[tp, s])  # (k, 3)
        if jacobians:
            J, Jp = sw * JY[tp + 1, s], -sw * JY[tp, s]  # (k, 3, D)
        else:
            J = Jp = np.zeros((len(tp), 3, D))
        out["hold"] = Rows(r.reshape(-1), np.repeat(tp + 1, 3), J.reshape(-1, D), Jp.reshape(-1, D))
        return out

    def _grip(self, Y, P, d, JY, D, jacobians) -> Rows:
        """The grip rows of every grip frame at once: 9 per frame (module docstring)."""
        frames = self.grip_frames
        if len(frames) == 0:
            return Rows(np.zeros(0), np.zeros(0, int), np.zeros((0, D)))
        sw = np.sqrt(self.cfg.w_grip)
        s = self.tip_sphere
        m = self.mask[frames]  # (G, F) scheduled fingertips
        a = m / m.sum(1, keepdims=True)  # equal forces: the mean over the scheduled fingertips
        y, p = Y[frames][:, s], P[frames][:, s]  # (G, F, 3)
        v = y - p
        sg = np.where(d[frames][:, s] >= 0.0, 1.0, -1.0)
        ell = np.sqrt((v * v).sum(-1) + GRIP_DELTA ** 2)
        u = sg[..., None] * v / ell[..., None]
        arm = (p - self.centroid) / self.arm
        w = y - self.centroid  # opposition about the centroid: smooth over faces and edges
        wl = np.sqrt((w * w).sum(-1) + GRIP_DELTA ** 2)
        o = w / wl[..., None]
        r = sw * np.concatenate([(a[..., None] * u).sum(1), (a[..., None] * np.cross(arm, u)).sum(1),
                                 (a[..., None] * o).sum(1)], axis=1)  # (G, 9)
        if jacobians:
            eye = np.eye(3)
            jy = JY[frames][:, s]  # (G, F, 3, D)
            # du/dy = sign (I / ell - v v^T / ell^3), d(arm x u) = [arm]x du, do/dy likewise
            du = sg[..., None, None] * (eye / ell[..., None, None] - v[..., :, None] * v[..., None, :]
                                        / ell[..., None, None] ** 3)
            dU = du @ jy  # (G, F, 3, D)
            do = eye / wl[..., None, None] - w[..., :, None] * w[..., None, :] / wl[..., None, None] ** 3
            aw = a[..., None, None]
            J = sw * np.concatenate([(aw * dU).sum(1), (aw * np.cross(arm[..., :, None], dU, axis=-2)).sum(1),
                                     (aw * (do @ jy)).sum(1)], axis=1)  # (G, 9, D)
        else:
            J = np.zeros((len(frames), 9, D))
        return Rows(r.reshape(-1), np.repeat(frames, 9), J.reshape(-1, D))


# ----------------------------------------------------------------------------- the solver
def _concat(rows: list[Rows], D: int) -> Rows:
    if len(rows) == 1:
        return rows[0]
    return Rows(np.concatenate([r.r for r in rows]), np.concatenate([r.frame for r in rows]),
                np.concatenate([r.J.reshape(-1, D) for r in rows]))


def _prior_blocks(W: PriorWeights, T: int):
    """Hessian blocks of the trajectory priors ``sum_t E_gen + E_vel + E_acc`` (Eq. 14, 15 with
    ``q_{-1} = q_{-2} = q_0^gen`` fixed): ``(diag (T, D, D), sub1 (T, D, D), sub2 (T, D, D))``,
    ``sub_k[t]`` the block (t, t - k)."""
    Wg, Wv, Wa = W.W_gen, W.W_vel, W.W_acc
    D = Wg.shape[0]
    H0, H1, H2 = np.zeros((T, D, D)), np.zeros((T, D, D)), np.zeros((T, D, D))
    H0 += Wg
    for t in range(T):  # velocity residual q_t - q_{t-1}, acceleration q_t - 2 q_{t-1} + q_{t-2}
        H0[t] += Wv + Wa
        if t >= 1:
            H0[t - 1] += Wv + 4.0 * Wa
            H1[t] -= Wv + 2.0 * Wa
        if t >= 2:
            H0[t - 2] += Wa
            H1[t - 1] -= 2.0 * Wa
            H2[t] += Wa
    return H0, H1, H2


def _prior_gradient(Q: np.ndarray, q_gen: np.ndarray, W: PriorWeights) -> np.ndarray:
    hist = np.concatenate([q_gen[:1], q_gen[:1], Q])
    v = hist[2:] - hist[1:-1]  # (T, D): q_t - q_{t-1}
    a = hist[2:] - 2.0 * hist[1:-1] + hist[:-2]
    gv, ga = v @ W.W_vel, a @ W.W_acc
    g = (Q - q_gen) @ W.W_gen + gv + ga
    g[:-1] -= gv[1:] + 2.0 * ga[1:]
    g[:-2] += ga[2:]
    return g


@dataclass
class WholeHandResult:
    q: np.ndarray
    energies: dict[str, np.ndarray]
    initial_energy: float
    energy: float
    iterations: int
    status: str
    time_s: float
    gap: np.ndarray  # (T, S + 1) sphere-surface gap to the object [m] (inf for box corners), last column
    # minus the deepest object point inside a hand box
    table_gap: np.ndarray  # (T, S)
    initial_gap: np.ndarray  # (T, S) the same at the initial iterate
    tip_sphere: np.ndarray  # (F,) the fingertips' spheres
    tip_energy: np.ndarray  # (T, F) each fingertip's contact and penetration energy
    initial_per_frame: np.ndarray  # (T,) the energy per frame at the initial iterate
    initial_tip_energy: np.ndarray  # (T, F) tip_energy at the initial iterate


def _per_frame(rows: dict[str, Rows], T: int) -> dict[str, np.ndarray]:
    out = {}
    for name, rw in rows.items():
        out[name] = np.bincount(rw.frame, weights=0.5 * rw.r ** 2, minlength=T)[:T]
    return out


def refine_whole_hand(hand, q_gen: np.ndarray, q_init: np.ndarray, surface: ObjectSurface, poses: np.ndarray,
                      schedule: ContactSchedule, cfg: RefineConfig, W: PriorWeights) -> WholeHandResult:
    """Minimise the whole-hand energy from ``q_init`` (see the module docstring)."""
    t0 = time.perf_counter()
    T, D = q_gen.shape
    lo, hi = hand.lower, hand.upper
    prob = WholeHandProblem(hand, surface, poses, schedule, cfg)
    W = PriorWeights(W.W_gen, cfg.wh_smoothing * W.W_vel, cfg.wh_smoothing * W.W_acc)
    P0, P1, P2 = _prior_blocks(W, T)

    def energy(Q, rows):
        eg, ev, ea = trajectory_prior_energies(Q, q_gen, W)
        return float(eg.sum() + ev.sum() + ea.sum()) + sum(rw.energy for rw in rows.values())

    Q = np.clip(np.array(q_init, float), lo, hi)
    gap0 = prob._geometry(Q)[5] - prob.spheres.radius[None, :]  # (fingertip gaps are read from it)
    rows = prob.evaluate(Q)
    E = E0 = energy(Q, rows)
    initial = sum(_per_frame(rows, T).values()) + sum(trajectory_prior_energies(Q, q_gen, W))
    lam, status, it = cfg.wh_lambda0, "hit_cap", 0
    while it < cfg.wh_max_iters:
        it += 1
        H0, H1, H2 = P0.copy(), P1.copy(), P2.copy()
        g = _prior_gradient(Q, q_gen, W)
        for rw in rows.values():
            if len(rw.r) == 0:
                continue
            order = np.argsort(rw.frame, kind="stable")
            fr = rw.frame[order]
            bounds = np.flatnonzero(np.diff(fr)) + 1
            for seg in np.split(order, bounds):
                t = int(rw.frame[seg[0]])
                J, r = rw.J[seg], rw.r[seg]
                H0[t] += J.T @ J
                g[t] += r @ J
                if rw.J_prev is not None:
                    Jp = rw.J_prev[seg]
                    H0[t - 1] += Jp.T @ Jp
                    H1[t] += J.T @ Jp
                    g[t - 1] += r @ Jp
        diag = np.einsum("tii->ti", H0)
        improved = False
        while lam <= cfg.lambda_max:
            Hd = H0.copy()
            Hd[:, np.arange(D), np.arange(D)] += lam * (diag + 1e-9)
            try:
                dq = -block_banded_solve(Hd, H1, H2, g)
            except np.linalg.LinAlgError:
                lam *= cfg.lambda_up
                continue
            Q_new = np.clip(Q + dq, lo, hi)
            rows_new = prob.evaluate(Q_new)
            E_new = energy(Q_new, rows_new)
            if E_new < E:
                improved = True
                step = np.abs(Q_new - Q).max()
                dE = E - E_new
                Q, rows, E = Q_new, rows_new, E_new
                lam = max(lam * cfg.lambda_down, 1e-12)
                break
            lam *= cfg.lambda_up
        if not improved:
            status = "stalled"
            break
        if dE <= cfg.energy_rtol * E + cfg.energy_atol or step < cfg.step_tol:
            status = "converged"
            break
    geo = prob._geometry(Q)
    obj = ~prob.spheres.table_only
    gap = np.where(obj[None, :], geo[5] - prob.spheres.radius[None, :], np.inf)
    gap = np.concatenate([gap, -prob._box_rows(Q, False)[2][:, None]], axis=1)  # the boxes' deepest point last
    table_gap = geo[0][:, :, 2] - prob.spheres.radius[None, :]
    energies = _per_frame(rows, T)
    energies["gen"], energies["vel"], energies["acc"] = trajectory_prior_energies(Q, q_gen, W)
    def tip_energy(g):  # each fingertip's contact and penetration energy
        tg = g[:, prob.tip_sphere]
        return (0.5 * cfg.w_touch * np.where(prob.mask, tg - prob.margin[:, None], 0.0) ** 2
                + 0.5 * cfg.w_penetration * np.minimum(tg, 0.0) ** 2)

    return WholeHandResult(Q, energies, E0, E, it, status, time.perf_counter() - t0, gap, table_gap, gap0,
                           prob.tip_sphere, tip_energy(gap), initial, tip_energy(gap0))
