"""Algorithm 1: physics-guided dynamic refinement, frame by frame (paper Sec. 3.4, App. B.3).

For ``t = 0..T-1`` (with ``q_{-2}^opt = q_{-1}^opt = q_0^gen``), starting from
``q_t = clamp(q_t^gen)``:

1. fingertips ``s_i(q_t)`` and their world Jacobians from the hand's analytic kinematics
   (mimic joints chained in, wrist DoF included);
2. nearest neighbours ``(p_i, n_i)`` of ``T_tar(t)^-1 s_i`` in the object cloud (one k-d
   tree per surface), frozen while the Jacobian is formed;
3. contact residuals ``r`` and rows ``J_t`` (Eq. 13, B19), prior gradient ``W~`` (Eq. 18);
4. the LM step ``(J^T J + W_gen + W_vel + W_acc + lambda I) dq = -J^T r - W~`` (Eq. 17), solved
   by Cholesky (the matrix is positive definite because the priors are);
5. **joint limits** (projected Newton): coordinates that sit on a limit while the descent
   direction points outside are held fixed and the system is solved for the others; the
   candidate ``q_t + dq`` is then clipped onto the limits. Its energy ``E_t`` (Eq. 16) is
   evaluated with fresh nearest neighbours. If ``E_t`` did not increase the step is accepted
   and ``lambda *= lambda_down``, else rejected and ``lambda *= lambda_up`` (from
   ``1e-6 * mean(diag W)`` when ``lambda0 = 0``).

A frame stops as

* ``"converged"`` when the projected step is below ``step_tol``, or the decrease of E_t that
  the Gauss-Newton model (B23) predicts for it is at most ``energy_rtol * E_t + energy_atol``,
  or an accepted step lowered ``E_t`` by at most that much (nearest-neighbour energies are
  piecewise smooth with jumps of about 1e-4 relative where correspondences switch, so
  tighter tolerances only buy rejected steps);
* ``"stalled"`` when ``lambda`` exceeded ``lambda_max`` without a decrease (a stationary
  point to working precision, usually on a joint limit);
* ``"hit_cap"`` after ``max_iters`` linear solves.

Accepted steps never increase ``E_t`` (by construction), iterates always lie within the
joint limits, and every energy term of the final iterate is recorded per frame (contact
also per fingertip) in :class:`RefineResult`.

Which fingertips are pulled onto the surface is decided by a contact schedule
(:mod:`unihm_core.refine.schedule`); penetration is penalised for every fingertip at every
frame.

Restart (beyond the paper). With ``RefineConfig.restart_from_previous`` (the default) every
frame ``t >= 1`` runs the iteration above a second time, from ``q_{t-1}^opt``, and keeps the
end with the lower ``E_t``. Algorithm 1 starts from ``q_t^gen`` only; the nearest-neighbour
energy has local minima (a fingertip can leave a box through either of two faces) and jumps
(at an edge the nearest point's plane switches), and a single damped start lands in the worse
basin often enough to end up to 10 % above a trust-region solver on the same per-frame energy
(docs/RESULTS.md, refine section). ``restart_from_previous=False`` is Algorithm 1 as printed.

Two implementations of the same loop. :func:`refine` runs it compiled
(:mod:`unihm_core.refine.compiled`, numba: the kinematic tree, a k-d tree and the Cholesky
solve in plain loops, 8-20x faster on the benchmark scenes) unless a caller passes its own
``kinematics`` callable, which only the Python loop below can call. The Python loop is the readable
reference (one kinematics call through pinocchio, one scipy ``cKDTree`` query and one LAPACK
``dposv`` per linear solve, about 12, 11 and 3 us of mostly call overhead); tests check that both
give the same trajectories, statuses and iteration counts. The numbers are in the ``refine``
section of docs/RESULTS.md (``bench/bench_refine.py``).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
from scipy.linalg import lapack

from unihm_core.errors import InputError
from unihm_core.refine.config import RefineConfig
from unihm_core.refine.contact import ContactEnergy
from unihm_core.refine.fingertips import FingertipKinematics
from unihm_core.refine.priors import PriorWeights, prior_energies, prior_weights, trajectory_prior_energies
from unihm_core.refine.schedule import ContactSchedule, contact_schedule, moving_frames
from unihm_core.refine.surface import ObjectSurface

CONVERGED, STALLED, HIT_CAP = "converged", "stalled", "hit_cap"
ENERGY_TERMS = ("contact", "contact_total", "gen", "vel", "acc", "total", "initial_total")


@dataclass(frozen=True, eq=False)
class RefineResult:
    """Output of :func:`refine` for a trajectory of ``T`` frames, ``D`` DoF, ``F`` fingertips.

    Attributes:
        q: ``(T, D)`` refined trajectory Q_opt.
        q_gen: ``(T, D)`` the input trajectory Q_gen.
        joint_names, fingertip_links: names of the state coordinates and fingertips.
        energies: per frame, at the final iterate: ``"contact"`` ``(T, F)`` (lambda_c f(d_i)),
            ``"contact_total"``, ``"gen"``, ``"vel"``, ``"acc"``, ``"total"`` (E_t, Eq. 16),
            and ``"initial_total"`` (E_t at the start of the frame's iterations), each ``(T,)``.
        distances: ``(T, F)`` final signed point-to-plane distances [m] (Eq. 11).
        initial_distances: ``(T, F)`` the same for the clamped generated trajectory.
        schedule: the contact schedule used.
        status: ``(T,)`` ``"converged"``, ``"stalled"`` or ``"hit_cap"``.
        timings: ``"total_s"``, ``"setup_s"`` (validation, k-d tree, kinematics of every
            frame's first iterate, schedule), ``"frames_s"`` ``(T,)`` wall time per frame (the
            compiled loop times all frames at once and spreads that over the frames in
            proportion to their linear solves) and ``"backend"`` (``"compiled"`` or ``"python"``).
        normals_source: where the object normals came from.
        config: the configuration used.
        trace: with ``refine(..., trace=True)``, per frame an ``(n, 5)`` array of
            ``[E_t at the current iterate, E_t at the candidate (nan when not evaluated),
            accepted (1/0), lambda used, start (0: from q_t^gen, 1: from q_{t-1}^opt)]``, one
            row per linear solve, the start from q_t^gen first; else None.
        iterations: ``(T,)`` linear solves per frame, both starts together (``max_iters``
            caps each start).
        whole_hand: with ``energy="whole_hand"``: per-frame arrays ``"link_penetration"`` (deepest
            link sphere inside the object [m]), ``"table_penetration"``, ``"grip"`` (the grip
            term's energy) and the solve's ``"iterations"``, ``"status"``, ``"time_s"``; None for
            Algorithm 1. For this energy ``distances`` are the fingertip spheres' surface gaps,
            ``status``/``iterations`` repeat the trajectory-level solve's, and ``energies`` also
            hold every whole-hand term per frame (:data:`unihm_core.refine.whole_hand.TERMS`).
    """

    q: np.ndarray
    q_gen: np.ndarray
    joint_names: tuple[str, ...]
    fingertip_links: tuple[str, ...]
    energies: dict[str, np.ndarray]
    distances: np.ndarray
    initial_distances: np.ndarray
    schedule: ContactSchedule
    status: np.ndarray
    iterations: np.ndarray
    timings: dict = field(default_factory=dict)
    normals_source: str = "given"
    config: RefineConfig = field(default_factory=RefineConfig)
    trace: list | None = None
    whole_hand: dict | None = None

    @property
    def converged(self) -> np.ndarray:
        """``(T,)`` bool, frame stopped as converged (or stalled at a stationary point)."""
        return self.status != HIT_CAP

    def summary(self) -> dict:
        """JSON-ready summary (totals, counts, worst penetration, timings)."""
        pen_before = float(max(0.0, -self.initial_distances.min()))
        pen_after = float(max(0.0, -self.distances.min()))
        counts = {s: int(np.sum(self.status == s)) for s in (CONVERGED, STALLED, HIT_CAP)}
        return {"frames": int(len(self.q)), "status_counts": counts,
                "iterations_mean": float(self.iterations.mean()),
                "energy_total_initial": float(self.energies["initial_total"].sum()),
                "energy_total": float(self.energies["total"].sum()),
                "max_penetration_m_before": pen_before, "max_penetration_m_after": pen_after,
                "contact_frames": int(self.schedule.mask.any(1).sum()),
                "normals_source": self.normals_source, "time_s": float(self.timings.get("total_s", 0.0))}


def _finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                         "fix or drop those frames before refinement.")


def _check_inputs(hand, q_gen, object_poses) -> tuple[np.ndarray, np.ndarray]:
    q = np.array(q_gen, dtype=float, order="C")  # a copy, C-ordered like every array the compiled loop takes
    if q.ndim != 2 or q.shape[1] != hand.dof or len(q) == 0:
        raise InputError(f"q_gen: expected shape (T, {hand.dof}) for hand {hand.name!r} "
                         f"({', '.join(hand.joint_names[:3])}, ...), got {q.shape}.")
    _finite("q_gen", q)
    P = np.array(object_poses, dtype=float, order="C")
    if P.shape != (len(q), 4, 4):
        raise InputError(f"object_poses: expected shape ({len(q)}, 4, 4) (one object-to-world pose per "
                         f"frame of q_gen), got {P.shape}.")
    _finite("object_poses", P)
    from unihm_core.refine.compiled import rigid_errors  # noqa: PLC0415 (one compiled pass over the poses)

    err = rigid_errors(P)  # (T, 3): max |R^T R - I|, det R, max |last row - (0, 0, 0, 1)|
    if err[:, 0].max() > 1e-5 or err[:, 1].min() < 0.0:
        t = int(np.argmax((err[:, 0] > 1e-5) | (err[:, 1] < 0.0)))
        raise InputError(f"object_poses[{t}]: rotation block is not a proper rotation "
                         f"(|R^T R - I| = {err[t, 0]:.2e}, det = {err[t, 1]:.3f}); pass rigid 4x4 transforms.")
    if err[:, 2].max() > 1e-9:
        raise InputError("object_poses: last row of every pose must be [0, 0, 0, 1].")
    return q, P


def _spd_solve(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H x = b`` for symmetric positive-definite ``H`` (Cholesky, LAPACK dposv).

    ``H.T`` is the same matrix (symmetric) but Fortran-ordered, so LAPACK gets it without a
    transposing copy.
    """
    _, x, info = lapack.dposv(H.T, b)
    if info != 0:  # not positive definite to working precision: fall back to LU
        return np.linalg.solve(H, b)
    return x


def refine(hand, q_gen: np.ndarray, surface: ObjectSurface | np.ndarray, object_poses: np.ndarray, *,
           normals: np.ndarray | None = None, config: RefineConfig | None = None,
           schedule: np.ndarray | ContactSchedule | None = None,
           weights: PriorWeights | None = None, trace: bool = False,
           kinematics: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
           backend: str = "auto") -> RefineResult:
    """Refine a generated joint trajectory against an object (Algorithm 1).

    Args:
        hand: a :class:`~unihm_core.hands.HandModel` (the Python loop uses its pinocchio data, so
            share it between threads only with the compiled backend) or a hand
            name (a private model is created).
        q_gen: ``(T, D)`` generated trajectory Q_gen (state convention of
            :mod:`unihm_core.hands.model`); values outside the joint limits are clamped for
            the initial iterate, the generative prior still refers to the given values.
        surface: an :class:`ObjectSurface`, or object points ``(N, 3)`` [m, object frame]
            with ``normals`` ``(N, 3)`` (estimated with open3d when None).
        object_poses: ``(T, 4, 4)`` target object poses T_tar(t), object to world.
        config: weights, kernel, damping and stopping rules (defaults: :class:`RefineConfig`).
        schedule: ``(T, F)`` bool contact mask or a :class:`ContactSchedule`; derived from
            the object's motion when None (:func:`contact_schedule`).
        weights: full ``W_gen``, ``W_vel``, ``W_acc`` overriding the config's diagonal ones.
        trace: record every iteration (see :attr:`RefineResult.trace`); slower.
        kinematics: replaces the analytic fingertip kinematics: ``q (D,) -> (positions (F, 3),
            world Jacobians (F, 3, D))``, fresh arrays on every call (the first iterate's are
            kept for every frame; they also give the positions the schedule is derived from).
            For comparisons (e.g. finite differences through a simulator in
            ``bench/bench_refine.py``); leave None otherwise.
        backend: ``"compiled"`` (the frame loop compiled with numba,
            :mod:`unihm_core.refine.compiled`), ``"python"`` (the reference loop below), or
            ``"auto"``: compiled unless ``kinematics`` is given (a Python callable can only run
            in the Python loop, and for a hand whose joints the compiled kinematics does not
            support). Both run the same algorithm (results equal to ~1e-15); the compiled one is
            8-20x faster on the benchmark scenes.

    Raises:
        InputError: NaN/inf or mis-shaped inputs.
    """
    t_start = time.perf_counter()
    if backend not in ("auto", "compiled", "python"):
        raise InputError(f"backend={backend!r}: choose 'auto', 'compiled' or 'python'.")
    cfg = config if config is not None else RefineConfig()
    if cfg.energy == "whole_hand" and kinematics is not None:
        raise InputError("a custom `kinematics` callable drives Algorithm 1 only; pass "
                         "config=RefineConfig(energy='paper') with it.")
    if backend == "compiled" and kinematics is not None:
        raise InputError("backend='compiled' runs the hand's own kinematics; a custom `kinematics` "
                         "callable needs backend='python' (or 'auto').")
    compiled = backend == "compiled" or (backend == "auto" and kinematics is None)
    if isinstance(hand, str):
        from unihm_core.hands import new_hand_model  # noqa: PLC0415

        hand = new_hand_model(hand)
    q_gen, poses = _check_inputs(hand, q_gen, object_poses)
    if not isinstance(surface, ObjectSurface):
        surface = ObjectSurface.build(surface, normals)
    T, D = q_gen.shape
    F = len(hand.fingertip_links)
    W = weights if weights is not None else prior_weights(cfg, D, hand.n_wrist)
    if W.dof != D:
        raise InputError(f"weights: matrices are {W.dof}x{W.dof}, hand {hand.name!r} has {D} DoF.")
    lo, hi = hand.lower, hand.upper
    q_init = np.clip(q_gen, lo, hi)
    # kinematics of every frame's first iterate: the schedule reads the positions, frame t's first
    # linearisation reuses positions and Jacobians
    if compiled:
        from unihm_core.refine import compiled as cc  # noqa: PLC0415 (numba import on first use)

        try:
            chain = cc.chain_for(hand)
        except ValueError:  # a joint type the compiled kinematics does not know
            if backend == "compiled":
                raise
            compiled = False
    if compiled:
        S0, J0 = cc.fingertip_kinematics(chain, q_init)
    else:
        fj = kinematics if kinematics is not None else FingertipKinematics(hand)
        first = [fj(qi) for qi in q_init]
        S0 = np.stack([p for p, _ in first])
    if schedule is None:
        sched = contact_schedule(poses, S0, surface, cfg)
    elif isinstance(schedule, ContactSchedule):
        sched = schedule
    else:
        m = np.asarray(schedule)
        if m.shape != (T, F):
            raise InputError(f"schedule: expected a ({T}, {F}) bool mask (frames x fingertips "
                             f"{', '.join(hand.fingertip_links)}), got {m.shape}.")
        sched = ContactSchedule(m.astype(bool), moving_frames(poses, cfg.motion_trans_tol, cfg.motion_rot_tol),
                                (), "given")
    if sched.mask.shape != (T, F):
        raise InputError(f"schedule: mask has shape {sched.mask.shape}, expected ({T}, {F}).")
    t_setup = time.perf_counter() - t_start

    # The three priors (Eq. 14, 15) form one quadratic in q_t: E_prior(q) = 0.5 (q - m)^T Hp (q - m) + c
    # with the constant Hessian Hp = W_gen + W_vel + W_acc (built once) and the minimiser
    # m = Hp^-1 (W_gen q_gen + W_vel q1 + W_acc (2 q1 - q2)) = m_gen + M1 q1 - Ma q2; the gradient
    # Hp (q - m) is W~ of Eq. 18.
    pq = _prior_quadratic(W)
    Hp, M1, Ma, lam_floor = pq.Hp, pq.M1, pq.Ma, pq.lam_floor
    m_gen = q_gen @ pq.G.T  # (T, D), every frame at once
    if cfg.energy == "whole_hand":
        return _refine_whole_hand(hand, cfg, W, q_gen, q_init, poses, surface, sched, t_start, t_setup)
    if compiled:
        return _refine_compiled(cc, chain, hand, cfg, pq, q_gen, q_init, poses, surface, sched, S0, J0,
                                m_gen, trace, t_start, t_setup)
    contact_energy = ContactEnergy(surface, cfg)  # Eq. 11-13, B19
    lo_act, hi_act = lo + 1e-12, hi - 1e-12
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) - 1e-12
    lam0, lam_up, lam_down, lam_max = cfg.lambda0, cfg.lambda_up, cfg.lambda_down, cfg.lambda_max
    step_tol, rtol, atol, max_iters = cfg.step_tol, cfg.energy_rtol, cfg.energy_atol, cfg.max_iters
    # hot loop: module lookups bound to locals, one preallocated normal matrix with a view of its diagonal
    maximum, minimum, absolute, dot, matmul, add = np.maximum, np.minimum, np.abs, np.dot, np.matmul, np.add
    H = np.empty((D, D))
    H_diag = H.reshape(-1)[::D + 1]

    def lm(q, ct, m, c, contact, k_start, rows):
        """Lines 4-11 of Algorithm 1 from ``q`` with contact terms ``ct``; returns
        ``(q, ct, E_t, status, linear solves)``; with a trace, one row per solve into ``rows``."""
        e = q - m
        hpe = Hp @ e  # W~ at q (Eq. 18)
        E = ct.total + 0.5 * float(dot(e, hpe)) + c  # E_t (Eq. 16)
        on_bound = bool((absolute(q - mid) >= half).any())
        lam = lam0
        n_it = 0
        while n_it < max_iters:
            n_it += 1
            # LM normal equations (Eq. 17): (J^T J + Hp + lambda I) dq = -g with g = J^T r + W~ (Eq. 18),
            # the gradient of E_t; solved for -dq
            J = ct.J
            matmul(J.T, J, out=H)
            add(H, Hp, out=H)
            add(H_diag, lam, out=H_diag)  # the diagonal view of H
            g = ct.r @ J
            g += hpe
            # active set: coordinates on a limit whose descent direction -g points outside
            if on_bound:
                act = ((q <= lo_act) & (g > 0.0)) | ((q >= hi_act) & (g < 0.0))
                free = ~act
                neg_dq = np.zeros(D)
                if free.any():  # else every coordinate is held on its limit: a zero step, converged below
                    neg_dq[free] = _spd_solve(H[np.ix_(free, free)], g[free])
            else:
                neg_dq = _spd_solve(H, g)
            q_new = minimum(maximum(q - neg_dq, lo), hi)  # projection onto the joint limits
            step = q_new - q
            # decrease predicted by the Gauss-Newton model of E_t (B23) for the projected step
            jst = J @ step
            pred = -dot(step, g) - 0.5 * (dot(step, Hp @ step) + dot(jst, jst))
            if pred <= rtol * E + atol or absolute(step).max() < step_tol:
                if rows is not None:
                    rows.append((E, np.nan, 0.0, lam, k_start))
                return q, ct, E, CONVERGED, n_it
            # E_t at the candidate with fresh nearest neighbours; its kinematics and contact terms are
            # the next linearisation if the step is accepted
            ct_new = contact(*fj(q_new))
            e = q_new - m
            hpe_new = Hp @ e
            E_new = ct_new.total + 0.5 * float(dot(e, hpe_new)) + c
            if rows is not None:
                rows.append((E, E_new, float(E_new <= E), lam, k_start))
            if E_new <= E:  # accept, trust the model more
                dec = E - E_new
                q, ct, E, hpe = q_new, ct_new, E_new, hpe_new
                on_bound = bool((absolute(q - mid) >= half).any())
                lam *= lam_down
                if dec <= rtol * E + atol:
                    return q, ct, E, CONVERGED, n_it
            else:  # reject, damp more
                lam = max(lam * lam_up, lam_floor)
                if lam > lam_max:
                    return q, ct, E, STALLED, n_it
        return q, ct, E, HIT_CAP, n_it

    q_opt = np.empty((T, D))
    status = np.empty(T, dtype="<U9")
    iters = np.zeros(T, dtype=int)
    frames_s = np.empty(T)
    e_contact = np.empty((T, F))
    e_ctot, e_init = np.empty(T), np.empty(T)
    dist, dist0 = np.empty((T, F)), np.empty((T, F))
    traces: list | None = [] if trace else None

    for t in range(T):
        tf = time.perf_counter()
        pose = poses[t]
        att = sched.mask[t]
        qg = q_gen[t]
        q1 = q_opt[t - 1] if t >= 1 else q_gen[0]
        q2 = q_opt[t - 2] if t >= 2 else q_gen[0]
        m = m_gen[t] + M1 @ q1 - Ma @ q2  # minimiser of the priors at this frame (see above)
        c = sum(prior_energies(m, qg, q1, q2, W))
        contact = contact_energy.at(pose, att)  # (s, Js) -> contact terms at this frame
        rows: list | None = [] if trace else None
        # Algorithm 1, line 3: start from the clamped generated frame
        ct0 = contact(*first[t])
        e = q_init[t] - m
        e_init[t] = ct0.total + 0.5 * float(dot(e, Hp @ e)) + c
        dist0[t] = ct0.d
        q, ct, E, st, n_it = lm(q_init[t], ct0, m, c, contact, 0, rows)
        if cfg.restart_from_previous and t >= 1:  # second start: the previous refined frame
            q_b, ct_b, E_b, st_b, n_b = lm(q1, contact(*fj(q1)), m, c, contact, 1, rows)
            n_it += n_b
            if E_b < E:
                q, ct, E, st = q_b, ct_b, E_b, st_b
        if trace:
            traces.append(np.array(rows, dtype=float).reshape(-1, 5))
        q_opt[t] = q
        status[t] = st
        iters[t] = n_it
        e_contact[t] = ct.energy
        e_ctot[t] = ct.total
        dist[t] = ct.d
        frames_s[t] = time.perf_counter() - tf

    e_gen, e_vel, e_acc = trajectory_prior_energies(q_opt, q_gen, W)  # of the final iterates, all frames at once
    energies = {"contact": e_contact, "contact_total": e_contact.sum(1), "gen": e_gen, "vel": e_vel,
                "acc": e_acc, "total": e_ctot + e_gen + e_vel + e_acc, "initial_total": e_init}
    timings = {"total_s": time.perf_counter() - t_start, "setup_s": t_setup, "frames_s": frames_s,
               "backend": "python"}
    return RefineResult(q_opt, q_gen, tuple(hand.joint_names), tuple(hand.fingertip_links), energies, dist,
                        dist0, sched, status, iters, timings, surface.normals_source, cfg,
                        traces)


class _PriorQuadratic(NamedTuple):
    """The priors of a frame as one quadratic in q_t (see :func:`refine`): the Hessian ``Hp``, the
    maps ``G, M1, Ma`` of the minimiser ``m_t = G q_t^gen + M1 q_{t-1} - Ma q_{t-2}``, the damping
    floor, whether the weights are diagonal, and the weights themselves, all as private writable
    C-contiguous copies (the one array type the compiled loop is compiled for)."""

    Hp: np.ndarray
    G: np.ndarray
    M1: np.ndarray
    Ma: np.ndarray
    lam_floor: float
    diagonal: bool
    W_gen: np.ndarray
    W_vel: np.ndarray
    W_acc: np.ndarray


_QUADRATICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _prior_quadratic(W: PriorWeights) -> _PriorQuadratic:
    """:class:`_PriorQuadratic` of ``W``, computed once per weights object (the default weights are
    shared between calls, see :func:`prior_weights`; :class:`PriorWeights` holds read-only copies,
    so a cached entry cannot go stale)."""
    pq = _QUADRATICS.get(W)
    if pq is None:
        Hp = W.hessian  # a fresh C-contiguous sum
        Hp_inv = np.linalg.inv(Hp)
        Ma = Hp_inv @ W.W_acc
        M1 = Hp_inv @ W.W_vel + 2.0 * Ma
        diagonal = all(np.count_nonzero(M - np.diag(np.diag(M))) == 0 for M in (W.W_gen, W.W_vel, W.W_acc))
        pq = _QUADRATICS[W] = _PriorQuadratic(Hp, Hp_inv @ W.W_gen, M1, Ma, 1e-6 * float(np.mean(np.diag(Hp))),
                                              diagonal, *(np.array(M, order="C") for M in (W.W_gen, W.W_vel,
                                                                                         W.W_acc)))
    return pq


def _refine_compiled(cc, chain, hand, cfg: RefineConfig, pq: _PriorQuadratic, q_gen, q_init, poses,
                     surface, sched, S0, J0, m_gen, trace, t_start, t_setup) -> RefineResult:
    """The frame loop of :func:`refine` run by :func:`unihm_core.refine.compiled.refine_frames`."""
    T = len(q_gen)
    cp = cc.ContactParams(cfg.lambda_c, cfg.alpha, cfg.k, cfg.eps**2, cfg.contact_model == "kernel")
    lm = cc.LMParams(cfg.lambda0, cfg.lambda_up, cfg.lambda_down, cfg.lambda_max, pq.lam_floor, cfg.step_tol,
                     cfg.energy_rtol, cfg.energy_atol, cfg.max_iters, pq.diagonal)
    plain = cc._plain  # C-contiguous writable float arrays: the one compiled specialisation
    t_loop = time.perf_counter()
    q_opt, status, iters, e_contact, e_ctot, e_prior, e_init, dist, dist0, tr = cc.refine_frames(
        q_gen=q_gen, q_init=q_init, poses=poses, mask=plain(sched.mask, bool), ch=chain, tree=surface.kdtree,
        planes=surface.leaf_planes, cp=cp, lm=lm, restart=bool(cfg.restart_from_previous), Hp=pq.Hp, m_gen=m_gen,
        M1=pq.M1, Ma=pq.Ma, Wg=pq.W_gen, Wv=pq.W_vel, Wa=pq.W_acc, lo=plain(hand.lower), hi=plain(hand.upper),
        S0=S0, J0=J0, trace_on=bool(trace))
    loop_s = time.perf_counter() - t_loop
    traces = [tr[t, :iters[t]].copy() for t in range(T)] if trace else None  # one row per linear solve
    e_gen, e_vel, e_acc = e_prior.T
    energies = {"contact": e_contact, "contact_total": e_ctot, "gen": e_gen, "vel": e_vel,
                "acc": e_acc, "total": e_ctot + e_gen + e_vel + e_acc, "initial_total": e_init}
    # per-frame wall times are not observable inside the compiled loop: the loop's time is spread
    # over the frames in proportion to their linear solves
    frames_s = loop_s * iters / max(int(iters.sum()), 1)
    timings = {"total_s": time.perf_counter() - t_start, "setup_s": t_setup, "frames_s": frames_s,
               "backend": "compiled"}
    return RefineResult(q_opt, q_gen, tuple(hand.joint_names), tuple(hand.fingertip_links), energies, dist,
                        dist0, sched, np.asarray(cc.STATUS_NAMES, "<U9")[status], iters, timings,
                        surface.normals_source, cfg, traces)


def _refine_whole_hand(hand, cfg: RefineConfig, W: PriorWeights, q_gen, q_init, poses, surface, sched,
                       t_start, t_setup) -> RefineResult:
    """:func:`refine` with ``energy="whole_hand"`` (:mod:`unihm_core.refine.whole_hand`)."""
    from unihm_core.refine.whole_hand import refine_whole_hand  # noqa: PLC0415

    T = len(q_gen)
    wh = refine_whole_hand(hand, q_gen, q_init, surface, poses, sched, cfg, W)
    dist, gap0 = wh.gap[:, wh.tip_sphere], wh.initial_gap[:, wh.tip_sphere]
    e_contact = wh.tip_energy
    # the whole-hand terms and the priors (W_vel, W_acc times wh_smoothing) per frame, the fingertip
    # share of contact and penetration per fingertip
    energies = {**wh.energies, "contact": e_contact, "contact_total": e_contact.sum(1),
                "total": sum(wh.energies.values()), "initial_total": wh.initial_per_frame}
    status = np.full(T, wh.status, "<U9")
    iters = np.full(T, wh.iterations)
    timings = {"total_s": time.perf_counter() - t_start, "setup_s": t_setup,
               "frames_s": np.full(T, wh.time_s / T), "backend": "whole_hand"}
    summary = {"link_penetration": np.maximum(-wh.gap, 0.0).max(1),
               "table_penetration": np.maximum(-wh.table_gap, 0.0).max(1), "grip": wh.energies["grip"],
               "initial_contact": wh.initial_tip_energy, "iterations": wh.iterations, "status": wh.status,
               "time_s": wh.time_s}
    return RefineResult(wh.q, q_gen, tuple(hand.joint_names), tuple(hand.fingertip_links), energies, dist,
                        gap0, sched, status, iters, timings, surface.normals_source, cfg, None, summary)

