"""Grasp search for robot sequences: move the retargeted grasp until it holds in physics.

**Status (2026-12-03): a measured prototype, not yet used by the data build.** On the 12 carried
sequences of a fresh 40-sequence build (seed 7) it finds a holding grasp for 1 of 12 Shadow and
0-1 of 12 Panda sequences (the retargeted input holds 0 of 12 for both); see "Findings" at the end
of this docstring for what the next step has to change.

Why. Retargeting maps the synthetic human's fingertips onto each robot hand frame by frame; it
keeps the human's hand placement, not the grasp's mechanics. Executed in SAPIEN
(:mod:`unihm_core.sim.execution`) most retargeted carries do not hold (docs/RESULTS.md, physics
section): a Panda gripper following a human side wrap ends with the bottle *beside* both jaws, a
four-fingered hand wraps a box with every contact on one face. A local optimiser (the whole-hand
refinement) cannot move a grasp that far. DexGraspNet's recipe for grasps that hold is to
*sample* grasps and keep the ones a simulator confirms; this module does that around the
retargeted grasp, for carried tasks (grab, pick&place, hand-over, pour, rotate).

Algorithm (one sequence, one hand), everything at the *anchor* frame ``a``, the last frame before
the object first moves (the grasp that :func:`unihm_core.data.carry.rigid_carry` carries):

1. **Finger groups and closing paths.** The state's finger joints are grouped by the fingertip
   they move (joints shared by two fingertips, e.g. the Panda's mimic jaw, merge groups). The
   *open* pose is the sequence's first frame (the pre-shape); every joint that closes between the
   first frame and ``a`` gets the joint limit it moves towards as its *closed* value.
2. **Candidate hand placements.** Two orientations of the hand at ``a``: the retargeted one, and
   that one turned so that the hand's reach direction (wrist -> open fingertips' centroid) points
   at the object's centre ("aimed"). For each, the open fingertips' centroid is put on the
   object's centre, the hand is rotated about its reach axis through that centre by each of
   :attr:`GraspSearchConfig.rotations_deg`, and backed off along the axis until the palm and the
   open fingers are clear of the object (:attr:`GraspSearchConfig.clearance`).
3. **Closing.** Each finger group closes along its path from open to closed and stops at the first
   closure at which one of its spheres (the whole-hand sphere model,
   :mod:`unihm_core.refine.hand_spheres`) touches the object's convex hull or the table — the
   same first-contact rule the human synthesiser uses.
4. **Ranking.** Candidates are ranked by a grip score: the number of groups touching (at least
   two, the thumb among them, for a hand with a thumb) and ``|mean of the contacts' inward
   normals|`` (0 when equal squeezing forces cancel, DexGraspNet's force-closure residual with
   equal forces).
5. **Verification.** The best :attr:`GraspSearchConfig.verify` candidates are turned into whole
   trajectories (below) and executed by :func:`unihm_core.sim.execution.execution_check`
   (disturbance test off); the first that succeeds is kept. If none does, the one whose object
   stayed closest to the plan is kept and reported as not holding, so the dataset's ``sim`` rule
   can reject it.

Trajectory. The new grasp replaces the old one rigidly in the object's frame at every frame:
``W'(t) = D(t) W(t)`` with ``D(t) = P(t) P(a)^-1 D_a P(a) P(t)^-1`` and ``D_a = W'(a) W(a)^-1``
(``W`` wrist poses, ``P`` object poses), so the approach, the carry and the retreat keep their
motion relative to the object. The finger joints follow the old trajectory's closure progress
``s(t)`` (0 at the pre-shape, 1 at the grasp, projected on the old closing direction):
``q_f'(t) = q_f(0) + s(t) (g_f - q_f(0))`` with ``g`` the new grasp's fingers.

Findings (renders of the candidates at the anchor frame, contact forces logged from PhysX):

* The retargeted Panda grasp of a human side wrap puts a water bottle *beside* both jaws (top
  view), not between them; aiming the hand's reach direction (wrist -> open fingertips) at the
  object's centre ("aimed" placements) does put the jaws on both sides of it.
* The closing rule stops a finger group at its first contact. The Panda's two jaws are one group
  (one mimic joint), so one jaw touches and the other hangs 1-2 cm off; dexterous hands stop a
  finger when its proximal phalanx touches. In the execution check the fingertip squeeze then has
  nothing to press with (contact forces 0.1-1 N against the 3-10 N a lift needs).
* The project's Panda finger is a capsule from the finger origin to a tip sphere 7.5 mm *outside*
  the finger axis, so the jaws form a V that touches with its base first; the real Panda's pads
  (dex-urdf collision boxes) are parallel and innermost at the tip. Fixing the hand model changes
  retargeting, i.e. belongs to the final rebuild.
* Next step: close a group until *every* digit in it touches (per-digit contact, not per-group),
  centre the object between opposing digits before closing, and rank by the force-closure residual
  over the contacts that close; then verify as here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from unihm_core.data.motions import TABLE_CLEARANCE
from unihm_core.hands.model import q_to_wrist_pose, wrist_pose_to_q

CARRIED = ("grab", "pick_place", "handover", "pour", "rotate")


@dataclass(frozen=True)
class GraspSearchConfig:
    """Parameters of :func:`search_grasp` (angles [deg], lengths [m]).

    Attributes:
        rotations_deg: rotations of the hand about the approach axis tried for each placement.
        clearance: the open hand is backed off along the approach axis until every sphere (and
            the palm box) is at least this far outside the object.
        contact: a closing finger stops when one of its spheres is this close to the object.
        closure_steps: coarse steps of a finger's closing scan (then 6 bisection steps).
        verify: how many of the best-ranked candidates are executed in physics.
    """

    rotations_deg: tuple[float, ...] = (0.0, 30.0, -30.0, 60.0, -60.0, 90.0)
    clearance: float = 0.003
    contact: float = 0.001
    closure_steps: int = 12
    verify: int = 4


@dataclass
class GraspSearchResult:
    """Outcome of :func:`search_grasp`.

    Attributes:
        q: ``(T, D)`` the chosen trajectory (the input when nothing better was found).
        held: the chosen trajectory passed the execution check.
        tried: candidates executed in physics.
        candidates: candidates generated and ranked.
        chosen: description of the chosen candidate (placement, rotation, score).
        original_held: the input trajectory passed the execution check (checked first).
    """

    q: np.ndarray
    held: bool
    tried: int = 0
    candidates: int = 0
    chosen: dict = field(default_factory=dict)
    original_held: bool = False


def anchor_frame(moving: np.ndarray) -> int | None:
    """The last frame before the object first moves (None when it never moves)."""
    idx = np.flatnonzero(np.asarray(moving, bool))
    return None if len(idx) == 0 else max(int(idx[0]) - 1, 0)


def finger_groups(model, q: np.ndarray) -> list[np.ndarray]:
    """Finger-joint groups: state columns (>= ``n_wrist``) moving the same fingertip(s)."""
    nw = model.n_wrist
    _, J = model.fingertip_jacobians(q)
    moves = np.abs(J[:, :, nw:]).sum(1) > 1e-9  # (F, D - nw)
    groups: list[set[int]] = []
    for f in range(len(moves)):
        cols = set(np.flatnonzero(moves[f]).tolist())
        merged = [g for g in groups if g & cols]
        for g in merged:
            cols |= g
            groups.remove(g)
        groups.append(cols)
    return [np.array(sorted(g)) + nw for g in groups if g]


def closing_targets(model, q_open: np.ndarray, q_grasp: np.ndarray, min_change: float = 0.02) -> np.ndarray:
    """``(D,)`` closed pose: each finger joint that closes from ``q_open`` to ``q_grasp`` by more
    than ``min_change`` goes to the limit it moves towards; the others keep the grasp's value."""
    nw = model.n_wrist
    closed = np.array(q_grasp, float)
    d = q_grasp[nw:] - q_open[nw:]
    lo, hi = model.lower[nw:], model.upper[nw:]
    moving = np.abs(d) > min_change * np.where(hi - lo < 0.2, 0.1, 1.0)  # prismatic joints: 2 mm
    closed[nw:] = np.where(moving, np.where(d > 0, hi, lo), q_grasp[nw:])
    return closed


def _rotate_about(T: np.ndarray, axis: np.ndarray, angle: float, point: np.ndarray) -> np.ndarray:
    R = Rotation.from_rotvec(axis / np.linalg.norm(axis) * angle).as_matrix()
    out = T.copy()
    out[:3, :3] = R @ T[:3, :3]
    out[:3, 3] = R @ (T[:3, 3] - point) + point
    return out


class _Geometry:
    """The object's hull (world, at the anchor frame) and the hand's sphere model."""

    def __init__(self, model, points_world: np.ndarray):
        from unihm_core.refine.hand_spheres import hand_spheres
        from unihm_core.refine.whole_hand import hull_planes

        self.model = model
        self.hs = hand_spheres(model)
        self.planes = hull_planes(points_world)
        self.points = points_world
        self.centre = points_world.mean(0)
        self.sphere_ok = ~self.hs.table_only

    def gaps(self, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sphere surface gaps to the object ``(..., S)``, to the table, and the hull normals."""
        from unihm_core.refine.hand_spheres import sphere_kinematics
        from unihm_core.refine.whole_hand import hull_distance

        c, _ = sphere_kinematics(self.model, Q)
        d, n = hull_distance(self.planes, c)
        r = self.hs.radius
        return d - r, c[..., 2] - r, n

    def palm_clearance(self, q: np.ndarray) -> float:
        """Smallest gap of the spheres and the palm box's object points (negative: inside)."""
        from unihm_core.refine.hand_spheres import box_kinematics

        g, _, _ = self.gaps(q)
        worst = float(g[self.sphere_ok].min())
        if self.hs.boxes:
            X, _ = box_kinematics(self.model, q)
            for b in range(len(self.hs.boxes)):
                o = X[4 * b]
                axes = X[4 * b + 1:4 * b + 4] - o
                half = self.hs.boxes[b].half
                local = (self.points - o) @ axes.T  # the object points inside the palm box
                inside = np.all(np.abs(local) < half, axis=1)
                if inside.any():
                    worst = min(worst, -float(np.min(half - np.abs(local[inside]), axis=1).max()))
        return worst


def _close(geo: _Geometry, q: np.ndarray, q_open: np.ndarray, q_closed: np.ndarray, groups, groups_spheres,
           cfg: GraspSearchConfig) -> tuple[np.ndarray, list[bool]]:
    """Close every finger group to its first contact (module docstring, step 3)."""
    q = q.copy()
    touching = []
    for g, sph in zip(groups, groups_spheres):
        grid = np.linspace(0.0, 1.0, cfg.closure_steps + 1)
        Q = np.repeat(q[None], len(grid), 0)
        Q[:, g] = q_open[g] + grid[:, None] * (q_closed[g] - q_open[g])
        gap, zt, _ = geo.gaps(Q)
        hit = np.minimum(gap[:, sph].min(1), zt[:, sph].min(1) - TABLE_CLEARANCE) <= cfg.contact
        k = int(np.argmax(hit)) if hit.any() else None
        if k is None:
            q[g] = q_closed[g]
            touching.append(False)
            continue
        if k == 0:
            q[g] = q_open[g]
            touching.append(bool(gap[0, sph].min() <= cfg.contact))
            continue
        lo, hi = grid[k - 1], grid[k]
        for _ in range(6):
            mid = 0.5 * (lo + hi)
            qq = q.copy()
            qq[g] = q_open[g] + mid * (q_closed[g] - q_open[g])
            gp, z, _ = geo.gaps(qq)
            if min(gp[sph].min(), z[sph].min() - TABLE_CLEARANCE) <= cfg.contact:
                hi = mid
            else:
                lo = mid
        q[g] = q_open[g] + hi * (q_closed[g] - q_open[g])
        touching.append(bool(geo.gaps(q)[0][sph].min() <= 2 * cfg.contact))
    return q, touching


def _grip_score(geo: _Geometry, q: np.ndarray, groups_spheres, touching: list[bool], thumb: int | None) -> float:
    """Lower is better: ``|mean inward normal|`` of the touching groups' contacts, plus one per
    missing contact below two and a penalty when the thumb does not touch."""
    gap, _, n = geo.gaps(q)
    normals = []
    for sph, t in zip(groups_spheres, touching):
        if t:
            s = sph[np.argmin(gap[sph])]
            normals.append(n[s])
    score = float(np.linalg.norm(np.mean(normals, 0))) if normals else 1.0
    score += max(0, 2 - len(normals))
    if thumb is not None and not touching[thumb]:
        score += 0.5
    return score


def transfer_grasp(model, q: np.ndarray, object_poses: np.ndarray, a: int, wrist_new: np.ndarray,
                   fingers_new: np.ndarray, reach_axis: np.ndarray | None = None,
                   last_moving: int | None = None) -> np.ndarray:
    """The whole trajectory with the grasp at frame ``a`` replaced (module docstring, Trajectory).

    With ``reach_axis`` (world, unit, at frame ``a``) the approach (frames before ``a``) and the
    retreat (frames after ``last_moving``) are rebuilt along it instead of copied: the hand keeps
    the new grasp's orientation and moves along the axis by the distance the old wrist was from
    its grasp (or release) position, so a re-aimed hand comes in and backs off the way it points.
    """
    from unihm_core.hands.retarget import nearest_euler

    nw = model.n_wrist
    q = np.asarray(q, float)
    P = np.asarray(object_poses, float)
    W = q_to_wrist_pose(q[:, :6])
    Da = wrist_new @ np.linalg.inv(W[a])
    out = q.copy()
    b = last_moving
    for t in range(len(q)):
        if reach_axis is not None and t < a:
            Wt = wrist_new.copy()
            Wt[:3, 3] -= reach_axis * np.linalg.norm(W[t, :3, 3] - W[a, :3, 3])
        elif reach_axis is not None and b is not None and t > b:
            C = P[b] @ np.linalg.inv(P[a])
            Wt = C @ wrist_new
            Wt[:3, 3] -= (C[:3, :3] @ reach_axis) * np.linalg.norm(W[t, :3, 3] - W[b, :3, 3])
        else:
            C = P[t] @ np.linalg.inv(P[a])
            Wt = C @ Da @ np.linalg.inv(C) @ W[t]
        out[t, :3] = Wt[:3, 3]
        out[t, 3:6] = nearest_euler(Wt[:3, :3], out[t - 1, 3:6] if t else wrist_pose_to_q(Wt)[3:6])
    d_old = q[a, nw:] - q[0, nw:]
    denom = float(d_old @ d_old)
    s = np.clip((q[:, nw:] - q[0, nw:]) @ d_old / denom, 0.0, 1.0) if denom > 1e-12 else np.ones(len(q))
    out[:, nw:] = q[0, nw:] + s[:, None] * (fingers_new[nw:] - q[0, nw:])
    return model.clamp(out)


def search_grasp(hand: str, q: np.ndarray, object_poses: np.ndarray, moving: np.ndarray, object_mesh, task: str,
                 points: np.ndarray, *, symmetry: str = "none", articulation=None,
                 config: GraspSearchConfig = GraspSearchConfig(), exec_config=None,
                 postprocess=None) -> GraspSearchResult:
    """Find a grasp that holds for a carried task (module docstring).

    Args:
        hand: robot hand name.
        q: ``(T, D)`` retargeted trajectory (after rigid carrying).
        object_poses: ``(T, 4, 4)`` planned object poses; moving ``(T,)`` its moving frames.
        object_mesh: the object's mesh (object frame), simulated by the execution check.
        task: task name; other than carried tasks the input is returned unchanged (not checked).
        points: ``(N, 3)`` object surface points (object frame) for the hull.
        postprocess: ``f(q) -> q`` applied to every candidate trajectory before it is executed
            (e.g. :func:`~unihm_core.data.carry.rigid_carry`).
    """
    from unihm_core.hands import load_hand
    from unihm_core.hands.retarget import nearest_euler
    from unihm_core.refine.hand_spheres import sphere_kinematics
    from unihm_core.sim.execution import ExecutionConfig, execution_check

    exec_config = exec_config or ExecutionConfig(disturbance=False)
    model = load_hand(hand)
    q = model.clamp(np.asarray(q, float))
    a = anchor_frame(moving)
    if task not in CARRIED or a is None:
        return GraspSearchResult(q, held=False)

    def run(qq):
        return execution_check(hand, qq, object_mesh, object_poses, task, config=exec_config, symmetry=symmetry,
                               articulation=articulation)

    rep0 = run(q)
    if rep0.success:
        return GraspSearchResult(q, held=True, tried=1, original_held=True, chosen={"placement": "retargeted"})

    P = np.asarray(object_poses, float)
    pts_w = np.asarray(points, float) @ P[a, :3, :3].T + P[a, :3, 3]
    geo = _Geometry(model, pts_w)
    nw = model.n_wrist
    groups = finger_groups(model, q[a])
    _, Jall = sphere_kinematics(model, q[a])
    groups_spheres = []
    for g in groups:
        moved = np.abs(Jall[:, :, g]).sum((1, 2)) > 1e-9
        groups_spheres.append(np.flatnonzero(moved & geo.sphere_ok))
    J_thumb = model.fingertip_jacobians(q[a])[1][0]  # fingertip 0 is the thumb (or the Panda's left jaw)
    thumb = next((k for k, g in enumerate(groups) if np.abs(J_thumb[:, g]).sum() > 1e-9), None)
    q_open, q_grasp = q[0].copy(), q[a].copy()
    q_closed = closing_targets(model, q_open, q_grasp)

    W_a = q_to_wrist_pose(q[a, :6])
    q_open_at_a = np.r_[q[a, :nw], q_open[nw:]]
    tips = model.fingertip_positions(q_open_at_a)  # the open hand's aperture is centred on the object
    centroid = tips.mean(0)
    wrist = W_a[:3, 3]
    h = centroid - wrist
    h /= np.linalg.norm(h) + 1e-12  # the hand's own reach direction (wrist -> open fingertips)
    u = geo.centre - wrist
    u /= np.linalg.norm(u) + 1e-12
    align = Rotation.align_vectors(u[None], h[None])[0].as_matrix()
    W_aligned = W_a.copy()
    W_aligned[:3, :3] = align @ W_a[:3, :3]
    placements = []
    for name, W0 in (("aimed", W_aligned), ("retargeted", W_a)):
        R_rel = W0[:3, :3] @ W_a[:3, :3].T
        c0 = wrist + R_rel @ (centroid - wrist)  # the open centroid for this orientation
        axis = (c0 - wrist) / (np.linalg.norm(c0 - wrist) + 1e-12)
        placements.append((name, W0, geo.centre - c0, axis, c0))
    candidates = []
    for place, W0, shift, axis, c0 in placements:
        for deg in config.rotations_deg:
            W = W0.copy()
            W[:3, 3] += shift
            W = _rotate_about(W, axis, np.deg2rad(deg), c0 + shift)
            qc = q_open.copy()
            qc[:6] = wrist_pose_to_q(W)
            qc[3:6] = nearest_euler(W[:3, :3], q[a, 3:6])
            qc = model.clamp(qc)
            back = 0.0
            for _ in range(16):  # back off along the reach direction until the open hand is clear
                c = geo.palm_clearance(qc)
                if c >= config.clearance:
                    break
                step = config.clearance - c + 0.002
                back += step
                qc[:3] -= axis * step
            qg, touching = _close(geo, qc, np.r_[qc[:nw], q_open[nw:]], np.r_[qc[:nw], q_closed[nw:]], groups,
                                  groups_spheres, config)
            score = _grip_score(geo, qg, groups_spheres, touching, thumb)
            candidates.append((score, place, deg, back, qg, axis))
    candidates.sort(key=lambda c: c[0])
    best = (np.inf, None, None)
    tried = 1
    last_moving = int(np.flatnonzero(np.asarray(moving, bool))[-1])
    for score, place, deg, back, qg, axis in candidates[:config.verify]:
        W_new = q_to_wrist_pose(qg[:6])
        qt = transfer_grasp(model, q, P, a, W_new, qg, reach_axis=axis, last_moving=last_moving)
        if postprocess is not None:
            qt = postprocess(qt)
        rep = run(qt)
        tried += 1
        info = {"placement": place, "rotation_deg": deg, "backed_off_m": round(back, 4), "score": round(score, 3)}
        if rep.success:
            return GraspSearchResult(qt, True, tried, len(candidates), info)
        err = float(rep.position_error.max())
        if err < best[0]:
            best = (err, qt, info)
    err0 = float(rep0.position_error.max())
    if best[1] is not None and best[0] < err0:
        return GraspSearchResult(best[1], False, tried, len(candidates), best[2])
    return GraspSearchResult(q, False, tried, len(candidates), {"placement": "retargeted"})

