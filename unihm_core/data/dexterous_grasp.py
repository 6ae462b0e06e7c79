"""Thumb-against-fingers grasps for hands with a thumb: top-down for carried (and slid) objects,
under-and-over a drawer's handle or a lid's tab for open/close (:func:`handle_grasps`).

Why. The robot sequences are retargeted from the synthetic human: each robot hand follows the
human's wrist and fingertips. That keeps where the human put its hand, not what made the grasp
hold. Executed in SAPIEN (:mod:`unihm_core.sim.execution`), the retargeted Shadow and Allegro
carries of a fresh 40-sequence build (seed 7) held their object in 1 of 24 and 0 of 24 runs: the
palm pushes the object during the approach, only the ring and little fingertips touch, and no
thumb opposes them. Moving the retargeted grasp locally (the whole-hand refinement, a grasp search
around it, a thumb-index pinch transferred into the retargeted approach) did not fix that
(measurements in :mod:`unihm_core.data.grasps`): the approach itself knocks the object.

So a dexterous hand picks like a gripper does (:mod:`unihm_core.data.gripper_grasp`), with its
thumb as one jaw and its fingers as the other. The palm faces down above the object, the thumb
tip touches the near side and the four fingertips the far side of the object's narrowest
horizontal slice; the hand comes straight down with the digits spread, closes, and lifts. This
is the grasp people use on a box or a can from the top, and the one DexGraspNet's force-closure
energy favours for a thumb and opposing fingers: two opposed contact groups along one axis, with
the fingers spread across it so that the object cannot turn about that axis.

Hand frame, measured from each hand's own model (:func:`hand_axes`, no per-hand table): the
*finger axis* ``f`` from the root to the open fingertips, the *palm normal* ``n`` the direction
the fingertips move when the hand closes (open to "power grasp" presets), orthogonalised against
``f``. The initial wrist orientation maps ``n`` to world down and ``f`` to the jaw axis ``u``.

Grasp (at the anchor frame ``a``, the last frame before the object first moves; surface samples
in world coordinates):

* **Heights.** Contact heights from :data:`MIN_DEPTH` below the object's top down by
  :data:`HEIGHT_STEP` to :data:`DEPTH_SHARE` of its height (at most :data:`MAX_DEPTH`), never lower
  than the fingertip radius plus :data:`TABLE_MARGIN` above the table.
* **Directions.** :data:`YAW_STEPS` jaw axes over 360 degrees (the thumb's side matters for the
  wrist). For each height and axis, the contact band (surface points within :data:`BAND` of the
  height) gives the thumb's contact ``A`` (the band's extreme along ``-u``) and the fingers'
  contact ``B`` (along ``+u``), both on the band's middle line along ``v``. Candidates are ranked
  by how well the convex hull's normals at ``A`` and ``B`` point along the jaw axis, less
  :data:`TILT_PENALTY` times their largest upward tilt (rounded to 0.1), then by width (narrowest
  first), then by height (highest first). The simulation collides with the hull, so its normals
  count, not the mesh's: a bottle's cap above its shoulder has a cone of hull around it.
* **Fingers.** Damped least-squares IK on the whole state (wrist and fingers) puts the thumb tip
  sphere :data:`SQUEEZE` inside the surface at ``A``, the index and middle tips likewise at ``B``
  (spread along ``v`` as in the hand's open preset), the ring and little tips beside them (lower
  weight), and the knuckles :data:`KNUCKLE_CLEARANCE` above the object's top (the palm stays out
  of it), while every other collision sphere of the hand is pushed :data:`LINK_MARGIN` out of the
  object's convex hull (the distal capsules' ends, which touch where the tips do, excepted), every
  sphere above the table, and no fingertip deeper than :data:`MAX_TIP_DEPTH`. A candidate is kept
  when the thumb tip and the best placed finger tip are within :data:`IK_TOLERANCE` of their
  targets and a second finger tip within :data:`SECOND_TOLERANCE` and no other part of the hand (its collision spheres,
  :mod:`unihm_core.refine.hand_spheres`) is deeper than :data:`MAX_LINK_PENETRATION` in the
  object's convex hull or the table.
* **Pre-grasp.** The same wrist, fingers solved for contacts :data:`OPEN_MARGIN` further out, so
  the digits come down beside the object. It must be clear of the object too.

Trajectory (the sequence's own timing and object motion, as for the gripper): straight down from
:data:`PREGRASP_HEIGHT` above the grasp over :data:`APPROACH_SHARE` of the frames before the
object moves, the digits closing from the pre-grasp to the grasp over the rest; carried rigidly
in the object's frame while it moves; then the digits open and the hand rises, unless the object
is left in the air (a hand-over's), which stays held.

Verification (DexGraspNet's recipe: keep what the simulator confirms): :func:`dexterous_trajectories`
and :func:`handle_trajectories` return the candidates best first; the data build executes up to
``DatasetConfig.grasp_checks`` of them (:func:`unihm_core.sim.execution.check_sequence`,
disturbance test off) and keeps the first that succeeds, else the first candidate
(:mod:`unihm_core.data.own_motions`, :class:`unihm_core.data.dataset.SyntheticDataset`).

Measured (2026-12-04, execution check at 80 N m/rad finger drives): on the carried sequences of a
fresh 40-sequence build (seed 7) the retargeted motions held 1 of 21 objects for Shadow and
Allegro; the first candidate grasp holds 17 (Shadow) and 12-13 (Allegro) of 20. Over the whole
build, with push/pull and open/close, see :mod:`unihm_core.data.own_motions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unihm_core.data.carry import anchor_span
from unihm_core.data.gripper_grasp import CARRIED_TASKS
from unihm_core.data.motions import min_jerk
from unihm_core.hands.model import HandModel, q_to_wrist_pose, wrist_pose_to_q
from unihm_core.hands.retarget import nearest_euler

DEPTH_SHARE = 0.6
TILT_PENALTY = 2.0  # ranking: score = quality - this x the contact normals' largest upward z
MIN_DEPTH = 0.012  # [m] contacts at least this far below the top
MAX_DEPTH = 0.06  # [m] ... and at most this far
HEIGHT_STEP = 0.01  # [m] contact depths tried
TABLE_MARGIN = 0.004  # [m] fingertip spheres' clearance over the table
BAND = 0.006  # [m] surface points this close to the contact height form the contact band
LINE = 0.008  # [m] ... and this close to its middle line along v give the contacts
YAW_STEPS = 12
SQUEEZE = 0.002  # [m] grasp targets put the tip spheres this far inside the surface
OPEN_MARGIN = 0.03  # [m] pre-grasp contacts this much further out
KNUCKLE_CLEARANCE = 0.015  # [m] knuckles above the object's top
IK_TOLERANCE = 0.005  # [m] the thumb and the best placed finger tip
SECOND_TOLERANCE = 0.010  # [m] the second finger tip (the simulation decides whether it holds)
MAX_LINK_PENETRATION = 0.003  # [m] non-tip collision spheres in the hull or the table
SIDE_WEIGHT = 0.3  # IK weight of the ring and little fingertips
KNUCKLE_WEIGHT = 0.5
PENETRATION_WEIGHT = 2.0
LINK_MARGIN = 0.002  # [m] IK keeps non-tip links this far out of the hull
MAX_TIP_DEPTH = 0.0045  # [m] ... and fingertip spheres no deeper in it than this
APPROACH_SHARE = 0.6
PREGRASP_HEIGHT = 0.10  # [m]
RELEASE_FRAMES = 6
RESTING = 0.01  # [m]
CANDIDATES = 4


@dataclass(frozen=True)
class HandAxes:
    """A dexterous hand's grasp frame, in its root frame (wrist at zero).

    Attributes:
        finger: ``(3,)`` unit finger axis (root -> open fingertips).
        palm: ``(3,)`` unit palm normal (where the fingertips go when the hand closes).
        knuckles: link names of the fingers' first links (their origins are the knuckles).
        spread: ``(F,)`` each fingertip's offset across the hand (along ``finger x palm``) from
            the index-middle midpoint at the open preset [m] (0 for the thumb).
    """

    finger: np.ndarray
    palm: np.ndarray
    knuckles: tuple[str, ...]
    spread: np.ndarray


def hand_axes(model: HandModel) -> HandAxes:
    """:class:`HandAxes` of a hand (for a parallel gripper the "palm normal" is the second jaw's
    closing direction; only hands with a thumb have the pinch grasps)."""
    from unihm_core.hands.poses import preset_pose  # noqa: PLC0415

    t_open, t_power = (model.fingertip_positions(preset_pose(model, n)) for n in ("open", "power grasp"))
    thumb = bool(model.spec.fingers) and model.spec.fingers[0] == "thumb"
    f = (t_open[1:] if thumb else t_open).mean(0)
    f /= np.linalg.norm(f)
    n = (t_power[1:] - t_open[1:]).mean(0)
    n -= (n @ f) * f
    n /= np.linalg.norm(n)
    s = np.cross(f, n)
    mid = t_open[1:3].mean(0)  # index and middle (a gripper's second jaw alone)
    spread = (t_open - mid) @ s
    spread[0] = 0.0
    spec = model.spec
    parent_joint = {j.child: j for j in spec.joints}
    knuckles = []
    for tip in spec.fingertip_links[1:]:
        link = tip
        while link in parent_joint and parent_joint[link].parent != spec.palm_link:
            link = parent_joint[link].parent
        knuckles.append(link)
    return HandAxes(f, n, tuple(knuckles), spread)


_AXES: dict[str, HandAxes] = {}


def _axes(model: HandModel) -> HandAxes:
    if model.name not in _AXES:
        _AXES[model.name] = hand_axes(model)
    return _AXES[model.name]


@dataclass(frozen=True)
class PinchGrasp:
    """A thumb-against-fingers top grasp at the anchor frame (world coordinates [m]).

    Attributes:
        q: ``(D,)`` the grasp state. q_pre: ``(D,)`` the pre-grasp state (same wrist, digits open).
        jaw_axis: ``(3,)`` thumb -> fingers unit vector (horizontal).
        width: the object's width between the contacts.
        quality: how well the contact normals point along the jaw axis (1: exactly).
        tip_error: distance from its target of the thumb tip or of the second-best placed
            finger tip, whichever is larger (a grasp needs the thumb and two opposing fingers).
        penetration: deepest non-tip collision sphere in the object or the table.
        approach: ``(3,)`` the direction the palm faces and the hand came in along.
    """

    q: np.ndarray
    q_pre: np.ndarray
    jaw_axis: np.ndarray
    width: float
    quality: float
    tip_error: float
    penetration: float
    approach: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -1.0]))


def _hull_distance(planes: list[np.ndarray], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance of ``X`` ``(S, 3)`` to the nearest of several convex hulls and that hull's
    facet normal (:func:`unihm_core.refine.whole_hand.hull_distance`)."""
    from unihm_core.refine.whole_hand import hull_distance  # noqa: PLC0415

    best_d, best_n = None, None
    for pl in planes:
        d, n = hull_distance(pl, X)
        if best_d is None:
            best_d, best_n = d, n
        else:
            closer = d < best_d
            best_d, best_n = np.where(closer, d, best_d), np.where(closer[:, None], n, best_n)
    return best_d, best_n


def _ik(model: HandModel, q: np.ndarray, tips: dict[int, tuple[np.ndarray, float]], knuckles: tuple[str, ...],
        knuckle_limit: tuple[np.ndarray, float] | None, wrist_free: bool, planes: list[np.ndarray] | None = None,
        iters: int = 80, damping: float = 0.01) -> np.ndarray:
    """Damped least squares on the state: fingertip ``k`` to ``tips[k] = (target, weight)``; the
    knuckles' mean ``m`` kept on the near side of a plane, ``m . a <= limit`` for
    ``knuckle_limit = (a, limit)`` (the palm stays out of the object); with ``planes``, every
    non-fingertip collision sphere :data:`LINK_MARGIN` outside those convex hulls and every
    sphere as far above the table; the wrist fixed unless ``wrist_free``."""
    from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics  # noqa: PLC0415

    q = q.copy()
    D = model.dof
    cols = np.arange(D) if wrist_free else np.arange(model.n_wrist, D)
    rows_k = sorted(tips)
    w = np.concatenate([np.full(3, tips[k][1]) for k in rows_k])
    tgt = np.concatenate([tips[k][0] for k in rows_k])
    hs = hand_spheres(model)
    body = (hs.tip < 0) & ~hs.table_only
    for _ in range(iters):
        pos, J = model.fingertip_jacobians(q, unchecked=True)
        r = [(tgt - pos[rows_k].reshape(-1)) * w]
        A = [J[rows_k].reshape(-1, D)[:, cols] * w[:, None]]
        if knuckle_limit is not None:
            a, limit = knuckle_limit
            kp, KJ = model.frame_jacobians(q, knuckles)
            over = float(kp.mean(0) @ a > limit)
            r.append(np.array([KNUCKLE_WEIGHT * over * (limit - kp.mean(0) @ a)]))
            A.append(KNUCKLE_WEIGHT * over * (a @ KJ[:, :, cols].mean(0))[None])
        if planes:
            X_all, XJ_all = sphere_kinematics(model, q[None])
            X, XJ = X_all[0][body], XJ_all[0][body]
            d, nrm = _hull_distance(planes, X)
            deep = (d < hs.radius[body] + LINK_MARGIN) & ~_near_tips(X, pos, model.spec.link_radius)
            if deep.any():
                r.append(PENETRATION_WEIGHT * (hs.radius[body][deep] + LINK_MARGIN - d[deep]))
                A.append(PENETRATION_WEIGHT * np.einsum("si,sid->sd", nrm[deep], XJ[deep][:, :, cols]))
            d_tip, n_tip = _hull_distance(planes, pos)  # fingertips no deeper than MAX_TIP_DEPTH
            deep_tip = d_tip < model.spec.link_radius - MAX_TIP_DEPTH
            if deep_tip.any():
                r.append(PENETRATION_WEIGHT * (model.spec.link_radius - MAX_TIP_DEPTH - d_tip[deep_tip]))
                A.append(PENETRATION_WEIGHT * np.einsum("si,sid->sd", n_tip[deep_tip], J[deep_tip][:, :, cols]))
            low = X_all[0][:, 2] < hs.radius + LINK_MARGIN  # and above the table
            if low.any():
                r.append(PENETRATION_WEIGHT * (hs.radius[low] + LINK_MARGIN - X_all[0][low, 2]))
                A.append(PENETRATION_WEIGHT * XJ_all[0][low][:, 2, cols])
        r, A = np.concatenate(r), np.concatenate(A)
        dq = A.T @ np.linalg.solve(A @ A.T + damping**2 * np.eye(len(r)), r)
        q[cols] += dq
        q = model.clamp(q)
        if np.abs(dq).max() < 1e-5:
            break
    return q


def _near_tips(X: np.ndarray, tips: np.ndarray, r: float) -> np.ndarray:
    """``(S,)`` spheres whose centres lie within ``r`` of a fingertip's: the ends of the distal
    capsules, which touch where the fingertip does and may press as far into the object."""
    return (np.linalg.norm(X[:, None] - tips[None], axis=-1) < r).any(1)


def _penetration(model: HandModel, q: np.ndarray, planes: list[np.ndarray]) -> float:
    """Deepest non-fingertip collision sphere inside one of the hulls ``planes`` or below the table [m]."""
    from unihm_core.refine.hand_spheres import hand_spheres, sphere_kinematics  # noqa: PLC0415

    hs = hand_spheres(model)
    X = sphere_kinematics(model, q[None])[0][0]
    d, _ = _hull_distance(planes, X)
    body = (hs.tip < 0) & ~hs.table_only & ~_near_tips(X, model.fingertip_positions(q), model.spec.link_radius)
    pen = np.maximum(hs.radius[body] - d[body], 0.0)
    table = np.maximum(hs.radius - X[:, 2], 0.0)
    return float(max(pen.max(initial=0.0), table.max(initial=0.0)))


DOWN = np.array([0.0, 0.0, -1.0])
UP = -DOWN


def _solve_pinch(model: HandModel, R: np.ndarray, A: np.ndarray, B: np.ndarray, jaw: np.ndarray,
                 knuckle_limit: tuple[np.ndarray, float], planes: list[np.ndarray], second_tol: float,
                 pre_clear: bool) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """The grasp and pre-grasp states of a thumb at ``A`` against the fingers at ``B`` (spread
    across the hand as in its open preset) with the hand turned by ``R``, or None when the IK
    misses (thumb or best finger tip farther than :data:`IK_TOLERANCE`, second finger tip farther
    than ``second_tol``) or a link is inside ``planes``; returns ``(q, q_pre, tip_error, penetration)``.
    The pre-grasp opens the contacts :data:`OPEN_MARGIN` further along ``jaw``; with ``pre_clear``
    its fingertips must also be clear of the hulls."""
    from unihm_core.hands.poses import preset_pose  # noqa: PLC0415

    ax = _axes(model)
    side = R @ np.cross(ax.finger, ax.palm)
    tips = {0: (A, 1.0)}
    for i in range(1, len(ax.spread)):
        tips[i] = (B + ax.spread[i] * side, 1.0 if i <= 2 else SIDE_WEIGHT)
    q0 = preset_pose(model, "pinch")
    W = np.eye(4)
    W[:3, :3] = R
    tip0 = model.fingertip_positions(q0)
    W[:3, 3] = 0.5 * (A + B) - R @ (0.5 * (tip0[0] + 0.5 * (tip0[1] + tip0[2])))
    q0[:6] = wrist_pose_to_q(W[None])[0]
    q = _ik(model, q0, tips, ax.knuckles, knuckle_limit, wrist_free=True)
    q = _ik(model, q, tips, ax.knuckles, knuckle_limit, wrist_free=True, planes=planes, iters=60)
    pos = model.fingertip_positions(q)
    errs = np.array([np.linalg.norm(pos[i] - tips[i][0]) for i in sorted(tips)])
    err = float(max(errs[0], np.sort(errs[1:])[1]))  # the thumb and two opposing fingertips
    if max(errs[0], np.sort(errs[1:])[0]) > IK_TOLERANCE or err > second_tol:
        return None
    pen = _penetration(model, q, planes)
    if pen > MAX_LINK_PENETRATION:
        return None
    pre_tips = {i: (t - OPEN_MARGIN * jaw if i == 0 else t + OPEN_MARGIN * jaw, w) for i, (t, w) in tips.items()}
    q_pre = _ik(model, q, pre_tips, ax.knuckles, None, wrist_free=False, planes=planes)
    if _penetration(model, q_pre, planes) > MAX_LINK_PENETRATION:  # clear where the hand comes in
        return None
    if pre_clear and (_hull_distance(planes, model.fingertip_positions(q_pre))[0] < model.spec.link_radius).any():
        return None
    return q, q_pre, err, pen


def pinch_grasps(model: HandModel, points: np.ndarray, normals: np.ndarray, limit: int = CANDIDATES, *,
                 approach: np.ndarray = DOWN, jaw_axes: list[np.ndarray] | None = None,
                 obstacles: list[np.ndarray] | None = None, depths: np.ndarray | None = None) -> list[PinchGrasp]:
    """Up to ``limit`` feasible thumb-against-fingers grasps of an object part given by surface
    samples and outward normals in world coordinates (module docstring), best first.

    Args:
        model: a hand with a thumb.
        points, normals: ``(N, 3)`` the grasped part's surface samples and outward normals.
        limit: most candidates returned.
        approach: unit direction the palm faces and the hand comes in along (down: a top grasp;
            towards a drawer's front: a handle grasp).
        jaw_axes: thumb -> fingers unit directions to try, perpendicular to ``approach``
            (default: :data:`YAW_STEPS` horizontal directions).
        obstacles: convex hulls (plane arrays, :func:`~unihm_core.refine.whole_hand.hull_planes`)
            the hand must stay out of (default: the part's own hull).
        depths: contact depths past the part's near face along ``approach`` (default: from
            :data:`MIN_DEPTH` by :data:`HEIGHT_STEP` to :data:`DEPTH_SHARE` of its extent, at
            most :data:`MAX_DEPTH`).
    """
    from unihm_core.refine.whole_hand import hull_planes  # noqa: PLC0415

    P, Nrm = np.asarray(points, float), np.asarray(normals, float)
    a_dir = np.asarray(approach, float) / np.linalg.norm(approach)
    ax = _axes(model)
    r = model.spec.link_radius
    own = hull_planes(P)  # the simulation collides with convex hulls: their normals count
    planes = [own] if obstacles is None else list(obstacles)
    s = P @ a_dir
    near, far = float(s.min()), float(s.max())
    if depths is None:
        lo = max(min(DEPTH_SHARE * (far - near), MAX_DEPTH), MIN_DEPTH)
        depths = np.arange(MIN_DEPTH, lo + 1e-9, HEIGHT_STEP)
    if jaw_axes is None:
        jaw_axes = [np.array([np.cos(th), np.sin(th), 0.0]) for th in 2 * np.pi * np.arange(YAW_STEPS) / YAW_STEPS]
    ranked = []
    for depth in depths:
        level = near + depth
        if a_dir[2] < -0.9:  # top grasp: the fingertips stay above the table
            level = min(level, -(r + TABLE_MARGIN))
        band = np.abs(s - level) <= BAND
        if band.sum() < 8:
            continue
        for u in jaw_axes:
            u = np.asarray(u, float) - (np.asarray(u, float) @ a_dir) * a_dir
            u /= np.linalg.norm(u)
            v = np.cross(a_dir, u)
            bv = P[band] @ v
            cv = 0.5 * (bv.max() + bv.min())
            line = band.copy()
            line[band] = np.abs(bv - cv) <= LINE
            a = P[line] @ u
            if len(a) < 4:
                continue
            ends = P[line][[int(a.argmin()), int(a.argmax())]]
            _, n = _hull_distance([own], ends)
            quality = float(min(n[1] @ u, -(n[0] @ u)))
            # a normal tilted up (a shoulder, a ball above its equator) turns the squeeze into a
            # push down that the lift has to overcome; tilted down, the squeeze lifts
            score = quality - TILT_PENALTY * max(float(n[:, 2].max()), 0.0) if a_dir[2] < -0.9 else quality
            width = float(a.max() - a.min())
            ranked.append(((round(score, 1), -width, -depth), u, v, cv, float(a.min()), float(a.max()), level, quality))
    ranked.sort(key=lambda x: x[0], reverse=True)
    R_h = np.stack([ax.finger, ax.palm, np.cross(ax.finger, ax.palm)], axis=1)  # hand axes as columns
    knuckle_limit = (a_dir, near - KNUCKLE_CLEARANCE)
    out = []
    for _, u, v, cv, a_lo, a_hi, level, quality in ranked:
        R_w = np.stack([u, a_dir, np.cross(u, a_dir)], axis=1)
        R = R_w @ R_h.T  # maps the finger axis to u, the palm normal along the approach
        base = cv * v + level * a_dir
        A = a_lo * u + base - (r - SQUEEZE) * u
        B = a_hi * u + base + (r - SQUEEZE) * u
        solved = _solve_pinch(model, R, A, B, u, knuckle_limit, planes, SECOND_TOLERANCE, pre_clear=True)
        if solved is None:
            continue
        q, q_pre, err, pen = solved
        out.append(PinchGrasp(q, q_pre, u, a_hi - a_lo, quality, err, pen, a_dir))
        if len(out) >= limit:
            break
    return out


def _trajectory(model: HandModel, grasp: PinchGrasp, P: np.ndarray, a: int, last: int) -> np.ndarray:
    T, nw = len(P), model.n_wrist
    W_g = q_to_wrist_pose(grasp.q[None, :6])[0]
    back = -np.asarray(grasp.approach, float)  # the way the hand came in (up, for a top grasp)
    wrists = np.empty((T, 4, 4))
    fingers = np.empty((T, model.dof - nw))
    f_pre, f_g = grasp.q_pre[nw:], grasp.q[nw:]
    n_app = max(2, int(round(APPROACH_SHARE * (a + 1))))
    s = min_jerk(n_app)
    for t in range(n_app):
        wrists[t] = W_g
        wrists[t, :3, 3] = W_g[:3, 3] + back * PREGRASP_HEIGHT * (1.0 - s[t])
    fingers[:n_app] = f_pre
    wrists[n_app:a + 1] = W_g
    n_close = a + 1 - n_app
    c = min_jerk(n_close + 1)[1:] if n_close > 0 else np.ones(0)
    fingers[n_app:a + 1] = f_pre + c[:, None] * (f_g - f_pre)
    in_obj = np.linalg.inv(P[a]) @ W_g
    wrists[a:last + 1] = P[a:last + 1] @ in_obj
    fingers[a:last + 1] = f_g
    if P[-1, 2, 3] - P[0, 2, 3] > RESTING:  # left in the air: held to the end
        wrists[last + 1:] = P[last + 1:] @ in_obj
        fingers[last + 1:] = f_g
    else:  # open the digits, then back off the way the hand came in (rotated with the object)
        away = (P[last, :3, :3] @ np.linalg.inv(P[a, :3, :3])) @ back
        n_rel = min(RELEASE_FRAMES, T - 1 - last)
        for k in range(1, n_rel + 1):
            wrists[last + k] = wrists[last]
            fingers[last + k] = f_g + (f_pre - f_g) * k / n_rel
        rest = T - 1 - last - n_rel
        s = min_jerk(rest + 1)[1:]
        for k in range(rest):
            wrists[last + n_rel + 1 + k] = wrists[last]
            wrists[last + n_rel + 1 + k, :3, 3] = wrists[last, :3, 3] + away * PREGRASP_HEIGHT * s[k]
            fingers[last + n_rel + 1 + k] = f_pre
    q = np.zeros((T, model.dof))
    q[:, :nw] = wrist_pose_to_q(wrists)
    q[0, 3:6] = nearest_euler(wrists[0, :3, :3], grasp.q[3:6])
    for t in range(1, T):
        q[t, 3:6] = nearest_euler(wrists[t, :3, :3], q[t - 1, 3:6])
    q[:, nw:] = fingers
    return model.clamp(q)


def dexterous_trajectories(model: HandModel, points_obj: np.ndarray, normals_obj: np.ndarray,
                           object_poses: np.ndarray, moving: np.ndarray, task: str,
                           limit: int = CANDIDATES) -> list[tuple[np.ndarray, PinchGrasp]]:
    """Candidate ``(T, D)`` trajectories (with their grasps), best first, for a carried task of a
    hand with a thumb; empty for other tasks, a static object, or no feasible grasp."""
    if task not in CARRIED_TASKS or not _has_thumb(model):
        return []
    P = np.asarray(object_poses, float)
    span = anchor_span(moving)
    if span is None:
        return []
    a, last = span
    pts = np.asarray(points_obj, float) @ P[a, :3, :3].T + P[a, :3, 3]
    nrm = np.asarray(normals_obj, float) @ P[a, :3, :3].T
    return [(_trajectory(model, g, P, a, last), g) for g in pinch_grasps(model, pts, nrm, limit=limit)]


def _has_thumb(model: HandModel) -> bool:
    return bool(model.spec.fingers) and model.spec.fingers[0] == "thumb"


def handle_grasps(model: HandModel, points: np.ndarray, inward: np.ndarray, obstacles: list[np.ndarray],
                  behind: float | None = None, limit: int = CANDIDATES) -> list[PinchGrasp]:
    """Thumb-below, fingers-above pinches of a handle bar (surface samples ``(N, 3)``, world),
    the hand in front of it with the palm down and the fingers pointing ``inward`` (horizontal
    unit, towards the object), curled over the bar; best first.

    The thumb tip goes :data:`SQUEEZE` into the bar's bottom face and the index and middle tips
    into its top face, all at the bar's middle along ``inward`` but at least a fingertip radius
    in front of ``behind`` (the face the bar sticks out of, along ``inward``); the ring and little
    tips beside them (lower weight). Candidates differ in where along the bar the hand sits.
    """
    P = np.asarray(points, float)
    i_dir = np.asarray(inward, float)
    lat = np.cross(np.array([0.0, 0.0, 1.0]), i_dir)
    ax = _axes(model)
    r = model.spec.link_radius
    z_top, z_bot = float(P[:, 2].max()), float(P[:, 2].min())
    si = P @ i_dir
    depth = 0.5 * (si.min() + si.max())
    if behind is not None:
        depth = min(depth, behind - r - 0.001)
    sl = P @ lat
    R_h = np.stack([ax.finger, ax.palm, np.cross(ax.finger, ax.palm)], axis=1)
    R_w = np.stack([i_dir, DOWN, np.cross(i_dir, DOWN)], axis=1)
    R = R_w @ R_h.T  # fingers point inward, the palm down
    knuckle_limit = (DOWN, -(z_top + KNUCKLE_CLEARANCE))
    out = []
    for shift in (0.0, -0.01, 0.01):
        c = (0.5 * (sl.min() + sl.max()) + shift) * lat + depth * i_dir
        A = c + (z_bot - (r - SQUEEZE)) * np.array([0, 0, 1.0])
        B = c + (z_top + (r - SQUEEZE)) * np.array([0, 0, 1.0])
        solved = _solve_pinch(model, R, A, B, UP, knuckle_limit, obstacles, IK_TOLERANCE, pre_clear=False)
        if solved is None:
            continue
        q, q_pre, err, pen = solved
        out.append(PinchGrasp(q, q_pre, UP, z_top - z_bot, 1.0, err, pen, i_dir))
        if len(out) >= limit:
            break
    return out


def handle_trajectories(model: HandModel, handle_obj: np.ndarray, handle_normals: np.ndarray,
                        obstacles_obj: list[np.ndarray], static_obstacles: list[np.ndarray],
                        object_poses: np.ndarray, moving: np.ndarray, front_obj: np.ndarray,
                        limit: int = CANDIDATES) -> list[tuple[np.ndarray, PinchGrasp]]:
    """Candidate trajectories that pinch an articulated object's handle (a drawer's bar, a lid's
    tab; :func:`handle_grasps`) and move it with the joint (open and close alike), coming in
    against the object's front.

    Args:
        model: a hand with a thumb.
        handle_obj, handle_normals: ``(N, 3)`` the handle's surface samples and outward normals in
            the moving part's frame (joint closed).
        obstacles_obj: ``(M_k, 3)`` vertices of the moving part's other convex pieces (same frame).
        static_obstacles: ``(M_k, 3)`` vertices of the static parts' convex pieces, world.
        object_poses: ``(T, 4, 4)`` the moving part's planned world poses; moving: its moving frames.
        front_obj: ``(3,)`` the object's front direction in the moving part's frame.
    """
    from unihm_core.refine.whole_hand import hull_planes  # noqa: PLC0415

    if not _has_thumb(model):
        return []
    P = np.asarray(object_poses, float)
    span = anchor_span(moving)
    if span is None:
        return []
    a, last = span
    R, t = P[a, :3, :3], P[a, :3, 3]
    pts = np.asarray(handle_obj, float) @ R.T + t
    moving_pieces = [np.asarray(o, float) @ R.T + t for o in obstacles_obj]
    obstacles = [hull_planes(pts)] + [hull_planes(o) for o in moving_pieces]
    obstacles += [hull_planes(np.asarray(o, float)) for o in static_obstacles]
    inward = -(R @ np.asarray(front_obj, float))
    inward[2] = 0.0
    inward /= np.linalg.norm(inward)
    # the face the handle sticks out of: the nearest face of the moving part behind it
    centre = pts.mean(0)
    behind = None
    for o in moving_pieces:
        lat = np.abs((o - centre) @ np.cross([0.0, 0.0, 1.0], inward))
        vert = np.abs(o[:, 2] - centre[2])
        ahead = (o @ inward)[(lat < 0.02) & (vert < 0.02)]
        if len(ahead) and ahead.min() > (pts @ inward).min():
            behind = ahead.min() if behind is None else min(behind, ahead.min())
    grasps = handle_grasps(model, pts, inward, obstacles, behind=behind, limit=limit)
    return [(_trajectory(model, g, P, a, last), g) for g in grasps]
