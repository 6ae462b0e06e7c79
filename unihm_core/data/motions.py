"""Synthetic human hand-object interaction sequences (21 keypoints, 30 fps).

A sequence is built in joint space on the human hand model (:mod:`unihm_core.hands.human`)
and turned into keypoints by forward kinematics, so bone lengths stay constant and joints
stay within anatomical limits. Phases, each shaped by minimum-jerk profiles:

1. **approach** (14-22 frames): the wrist travels from a pre-grasp pose 12-20 cm back along
   the approach direction (and a little higher) to the grasp pose while the fingers
   pre-shape (half of their final closure);
2. **grasp** (6-10 frames): each finger closes along its path until its fingertip touches
   the object (see below);
3. **manipulation** (task dependent, 16-40 frames): the object follows the task's 6-DoF
   trajectory and the hand moves rigidly with it (zero relative drift);
4. **release** (5-8 frames): fingers open back to the pre-shape;
5. **retreat** (8-14 frames): the wrist backs off along the approach direction.

Grasp synthesis uses the object's geometry. The grasp frame is chosen from the object's
shape and the task: a *side* grasp (palm facing the object, thumb up, fingers wrapping
horizontally) for tall objects, a *top* grasp (palm down) for low or small ones and for
pinch/tripod objects, a *handle* grasp for drawers (palm facing the front at the handle,
fingers along it; they bend onto the front above and below the solid handle), a *tab* grasp
for hinged lids (palm down over the lid's front tab, fingers pointing into the box, tripod)
and a *push* contact (palm and fingertips against the far side) for pushing. The palm is put
``standoff`` from the surface point hit by the approach ray. Every finger's closure ``c`` in
[0, 1] (a straight line in its joint space from open to the grasp type's closed pose) is the
*first* closure along that path (16-step scan, then bisection) at which one of the finger's
keypoints comes within ``contact_offset`` (1 mm) of the surface — or within 2 mm of the
table, which stops a finger too. A finger that sweeps through a thin part and out again is
stopped at the part, not closed through it: real contacts, no penetration. For open/close the
static body (cabinet, box) stops fingers as well. Signed distances use oriented surface
samples (point-to-plane distance to the nearest sample).

Object trajectories (object frame origin, world, the moving part for articulated objects):
grab lifts 10-20 cm, holds and puts back; pick_place lifts, carries above the place target
and lowers onto it (into a receptacle or onto a table location); push slides 8-18 cm along
the approach direction; pull slides 8-15 cm towards the viewer (-y); open/close drive the
drawer / lid joint between closed and 80 % open; rotate lifts 3 cm, turns 60-120 degrees
about z and puts down; pour lifts, tilts 70-110 degrees about a horizontal axis and
returns; handover lifts and brings the object 15-25 cm towards the viewer and releases it
there (a receiver takes it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation, Slerp

from unihm_core import language
from unihm_core.errors import ConfigError, InputError
from unihm_core.hands import load_hand, q_to_wrist_pose, wrist_pose_to_q

TASKS = language.TASKS
FPS = 30

# Human hand model facts used for placement (see unihm_core.hands.human for the frame).
PALM_CENTRE = np.array([0.0, 0.004, 0.060])  # hand frame [m]: middle of the palm, on its surface plane
PALM_HALF_THICKNESS = 0.013
TABLE_CLEARANCE = 0.002  # [m] a closing finger stops this close above the table (world z = 0)
CLOSURE_SCAN = 16  # coarse steps of the first-contact search of a closing finger
GRIP_PARTS = ("handle", "tab")  # the bar of a drawer / lid that open and close grasp
TAB_SETBACK = 0.065  # [m] palm centre behind the bar (towards the viewer)
TAB_CLEARANCE = 0.004  # [m] palm surface above the bar's top
HANDLE_RAISE = 0.0  # [m] palm centre above the handle's middle
HANDLE_LATERAL = 0.0  # [m] sideways shift of the palm along the handle
TAB_LATERAL = 0.009  # [m] sideways (+x of the body): index and middle straddle the bar's middle
FINGER_JOINT_PREFIX = {"thumb": "thumb_", "index": "index_", "middle": "middle_", "ring": "ring_", "pinky": "pinky_"}
FINGER_KEYPOINTS = {"thumb": (2, 3, 4), "index": (6, 7, 8), "middle": (10, 11, 12), "ring": (14, 15, 16),
                    "pinky": (18, 19, 20)}
TIP_KEYPOINTS = (4, 8, 12, 16, 20)

# Closed pose per finger as (abduction-like joint, then flexion joints) fractions of the range;
# grasp types choose which fingers close and how far.
CLOSED_FLEX = {
    "power": {"thumb": (0.45, 0.85, 0.6, 0.6), "other": (0.5, 1.0, 0.95, 0.9)},
    "pinch": {"thumb": (0.45, 0.8, 0.5, 0.4), "index": (0.5, 0.75, 0.7, 0.5), "other": None},
    "tripod": {"thumb": (0.45, 0.8, 0.5, 0.4), "index": (0.5, 0.75, 0.7, 0.5), "middle": (0.5, 0.75, 0.7, 0.5),
               "other": None},
    "lateral": {"thumb": (0.2, 0.55, 0.5, 0.5), "index": (0.5, 0.9, 0.9, 0.6), "other": None},
}
TUCKED = (0.5, 0.55, 0.6, 0.5)  # fingers not used by the grasp curl loosely out of the way


@dataclass(frozen=True)
class MotionConfig:
    """Timing and geometry parameters of the synthesiser (frames at 30 fps, metres)."""

    approach_frames: tuple[int, int] = (14, 22)
    grasp_frames: tuple[int, int] = (6, 10)
    release_frames: tuple[int, int] = (5, 8)
    retreat_frames: tuple[int, int] = (8, 14)
    manipulation_frames: tuple[int, int] = (16, 40)
    min_frames: int = 48
    max_frames: int = 96
    pregrasp_distance: tuple[float, float] = (0.12, 0.20)
    standoff: float = 0.004
    contact_offset: float = 0.001
    surface_samples: int = 6000

    def __post_init__(self) -> None:
        for name in ("approach_frames", "grasp_frames", "release_frames", "retreat_frames", "manipulation_frames"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ConfigError(f"MotionConfig.{name} must be (lo, hi) with 1 <= lo <= hi, got {(lo, hi)}")
        if not self.min_frames <= self.max_frames:
            raise ConfigError("MotionConfig.min_frames must not exceed max_frames")


@dataclass(frozen=True)
class HumanSequence:
    """A synthetic human manipulation.

    Attributes:
        task: task family (one of :data:`TASKS`).
        grasp_type: ``power``, ``pinch``, ``tripod`` or ``lateral``.
        q: ``(T, 26)`` human hand states (6 wrist + 20 finger joints).
        keypoints: ``(T, 21, 3)`` MANO-order keypoints, world [m].
        object_poses: ``(T, 4, 4)`` world pose of the manipulated body (for articulated
            objects: the object frame moved by the joint, i.e. ``T_obj @ joint(v_t)``).
        joint_values: ``(T,)`` joint values of an articulated object, else None.
        phases: name -> (start, end) frame range (end exclusive).
        fps: frames per second.
    """

    task: str
    grasp_type: str
    q: np.ndarray
    keypoints: np.ndarray
    object_poses: np.ndarray
    joint_values: np.ndarray | None
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)
    fps: int = FPS

    @property
    def num_frames(self) -> int:
        return len(self.q)


@dataclass(frozen=True)
class SurfaceModel:
    """Oriented surface samples of a rigid body in its own frame, with a KD-tree."""

    points: np.ndarray
    normals: np.ndarray
    tree: cKDTree

    @classmethod
    def from_mesh(cls, mesh, n: int, seed: int) -> SurfaceModel:
        import trimesh

        pts, faces = trimesh.sample.sample_surface(mesh, n, seed=seed)
        normals = mesh.face_normals[faces]
        return cls(np.asarray(pts), np.asarray(normals), cKDTree(pts))

    def signed_distance(self, p: np.ndarray, k: int = 8) -> np.ndarray:
        """Signed distance [m] of ``(..., 3)`` points (object frame), negative inside.

        The largest point-to-plane distance over the ``k`` nearest samples: near an edge the
        single nearest sample may lie on the adjacent face and call an outside point
        "inside"; any neighbouring plane that sees the point outside settles it (exact for
        convex surfaces away from thin walls).
        """
        _, idx = self.tree.query(p, k=k)
        d = np.einsum("...jk,...jk->...j", p[..., None, :] - self.points[idx], self.normals[idx])
        return d.max(-1)


def min_jerk(n: int) -> np.ndarray:
    """``(n,)`` minimum-jerk progress from 0 to 1 (inclusive)."""
    s = np.linspace(0.0, 1.0, n)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def interpolate_poses(T0: np.ndarray, T1: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Poses between ``T0`` and ``T1`` at progress ``s`` (slerp + linear translation)."""
    rots = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([T0[:3, :3], T1[:3, :3]])))(np.clip(s, 0, 1))
    out = np.tile(np.eye(4), (len(s), 1, 1))
    out[:, :3, :3] = rots.as_matrix()
    out[:, :3, 3] = T0[:3, 3] + s[:, None] * (T1[:3, 3] - T0[:3, 3])
    return out


def through_waypoints(waypoints: list[np.ndarray], frames: list[int]) -> np.ndarray:
    """Concatenate minimum-jerk segments between consecutive waypoint poses."""
    parts = [waypoints[0][None]]
    for A, B, n in zip(waypoints[:-1], waypoints[1:], frames):
        parts.append(interpolate_poses(A, B, min_jerk(n + 1)[1:]))
    return np.concatenate(parts)


def _concat_meshes(meshes: list) -> "trimesh.Trimesh":
    import trimesh

    return trimesh.util.concatenate(meshes)


def _frame(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rotation with columns x, y (orthonormalised), z = x × y."""
    x = x / np.linalg.norm(x)
    y = y - x * (x @ y)
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


class HumanMotionSynthesizer:
    """Builds :class:`HumanSequence` objects; see the module docstring."""

    def __init__(self, config: MotionConfig | None = None):
        self.cfg = config or MotionConfig()
        self.hand = load_hand("human")
        names = self.hand.joint_names
        self.finger_idx = {f: [names.index(n) for n in names if n.startswith(p)]
                           for f, p in FINGER_JOINT_PREFIX.items()}

    # ------------------------------------------------------------------ finger poses
    def _finger_q(self, finger: str, fractions) -> np.ndarray:
        idx = self.finger_idx[finger]
        lo, hi = self.hand.lower[idx], self.hand.upper[idx]
        vals = np.empty(len(idx))
        for k, f in enumerate(fractions):
            if k == 0 and finger != "thumb":  # MCP abduction: fraction 0.5 = neutral (0 rad)
                vals[k] = 0.0
            else:
                start = max(lo[k], 0.0)
                vals[k] = start + f * (hi[k] - start)
        return vals

    def closed_pose(self, grasp_type: str) -> dict[str, np.ndarray]:
        spec = CLOSED_FLEX[grasp_type]
        out = {}
        for f in FINGER_JOINT_PREFIX:
            frac = spec.get(f, spec["other"])
            out[f] = self._finger_q(f, frac if frac is not None else TUCKED)
        return out

    def open_pose(self) -> dict[str, np.ndarray]:
        return {f: self._finger_q(f, (0.5, 0.05, 0.05, 0.05)) for f in FINGER_JOINT_PREFIX}

    def active_fingers(self, grasp_type: str) -> tuple[str, ...]:
        spec = CLOSED_FLEX[grasp_type]
        return tuple(f for f in FINGER_JOINT_PREFIX if spec.get(f, spec["other"]) is not None)

    # ------------------------------------------------------------------ grasp synthesis
    def grasp_frame(self, task: str, grasp_type: str, mesh, T_obj: np.ndarray, rng: np.random.Generator,
                    category: str) -> tuple[np.ndarray, np.ndarray, str]:
        """World rotation of the hand and the approach direction (unit, hand -> object), and the style."""
        ext = mesh.extents
        height = float(ext[2])
        R_obj = T_obj[:3, :3]
        if task in ("open", "close") and category == "drawer":
            # palm facing the drawer front (+y) at the handle, fingers level and along it; they
            # bend towards the front and the fingertips press on it above and below the handle
            # (the handle is a solid bar on the front: nothing to hook behind)
            a = R_obj @ np.array([0.0, 1.0, 0.0])
            return _frame(a, R_obj @ np.array([0.0, 0.0, 1.0])), a, "handle"
        if task in ("open", "close"):
            # lid tab (a bar sticking out of the front, -y): palm down in the
            # moving body's frame, fingers pointing at the front (+y); the index and middle
            # fingertips come down on the bar's top
            down = R_obj @ np.array([0.0, 0.0, -1.0])
            return _frame(down, R_obj @ np.array([-1.0, 0.0, 0.0])), down, "tab"
        yaw = rng.uniform(-0.6, 0.6)
        a_h = np.array([np.sin(yaw), np.cos(yaw), 0.0])  # roughly away from the viewer (+y)
        if task == "push":
            # the hand comes from the viewer's side and pushes with the palm, fingers wrapped
            # loosely around the object so the contact holds while it slides
            return _frame(a_h, np.array([0.0, 0.0, 1.0])), a_h, "push"
        side = height > 0.09 and grasp_type in ("power", "lateral") and task != "pull"
        if side:
            # palm normal across the object's thinner horizontal extent when it is elongated
            if category in ("box",) and abs(ext[0] - ext[1]) > 0.02:
                long_axis = R_obj[:, 0] if ext[0] > ext[1] else R_obj[:, 1]
                a_h = long_axis * np.sign(long_axis @ a_h or 1.0)
                a_h[2] = 0.0
                a_h /= np.linalg.norm(a_h)
            return _frame(a_h, np.array([0.0, 0.0, 1.0])), a_h, "side"
        down = np.array([0.0, 0.0, -1.0])
        fingers_dir = a_h
        if ext[0] > 1.8 * ext[1] or ext[1] > 1.8 * ext[0]:  # elongated: pinch across the long axis
            long_axis = R_obj[:, 0] if ext[0] > ext[1] else R_obj[:, 1]
            fingers_dir = np.cross(long_axis, [0.0, 0.0, 1.0])
            if fingers_dir @ a_h < 0:
                fingers_dir = -fingers_dir
        R = np.stack([down, np.cross(fingers_dir, down), fingers_dir], axis=1)
        return _frame(R[:, 0], R[:, 1]), down, "top"

    def _surface_hit(self, mesh, T_obj: np.ndarray, origin_obj: np.ndarray, direction_obj: np.ndarray) -> np.ndarray:
        """First hit of a ray with the mesh (object frame) -> world point; fallback: nearest surface point."""
        locs, _, _ = mesh.ray.intersects_location(origin_obj[None], direction_obj[None], multiple_hits=False)
        if len(locs):
            p = locs[0]
        else:
            p = mesh.nearest.on_surface(origin_obj[None])[0][0]
        return T_obj[:3, :3] @ p + T_obj[:3, 3]

    def place_hand(self, R_hand: np.ndarray, a: np.ndarray, style: str, mesh, T_obj: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
        """World wrist pose putting the palm ``standoff`` from the surface along ``a``."""
        inv = np.linalg.inv(T_obj)
        lo, hi = mesh.bounds
        centre = (lo + hi) / 2
        a_obj = inv[:3, :3] @ a
        if style == "side":
            centre[2] = lo[2] + rng.uniform(0.35, 0.55) * (hi[2] - lo[2])
        elif style == "push":
            centre[2] = lo[2] + min(0.5 * (hi[2] - lo[2]), 0.05)
        if style == "handle":
            # ``mesh`` is the handle; the palm in front of it
            front = np.array([centre[0] + HANDLE_LATERAL, lo[1], centre[2] + HANDLE_RAISE])
            palm_world = T_obj[:3, :3] @ front + T_obj[:3, 3] - a * (PALM_HALF_THICKNESS + self.cfg.standoff)
            T = np.eye(4)
            T[:3, :3] = R_hand
            T[:3, 3] = palm_world - R_hand @ PALM_CENTRE
            return T
        if style == "tab":
            # ``mesh`` is the bar; the palm hovers above it, set back towards the viewer so
            # that the bending fingers come down onto the bar's top
            top = np.array([centre[0] + TAB_LATERAL, centre[1] - TAB_SETBACK, hi[2]])
            palm_world = T_obj[:3, :3] @ top + T_obj[:3, 3] - a * (PALM_HALF_THICKNESS + TAB_CLEARANCE)
            T = np.eye(4)
            T[:3, :3] = R_hand
            T[:3, 3] = palm_world - R_hand @ PALM_CENTRE
            return T
        if style == "top":
            # above the top of the bounds: a ray down an open object (cup, bowl) would hit
            # its inside bottom; the fingers reach down around the sides instead
            top = np.array([centre[0], centre[1], hi[2]])
            hit = T_obj[:3, :3] @ top + T_obj[:3, 3]
        else:
            origin = centre - a_obj * 1.0
            hit = self._surface_hit(mesh, T_obj, origin, a_obj)
        palm_world = hit - a * (PALM_HALF_THICKNESS + self.cfg.standoff)
        if style in ("top", "lid"):
            palm_world = hit - a * (PALM_HALF_THICKNESS + 0.02)  # fingertips reach down to pinch
        T = np.eye(4)
        T[:3, :3] = R_hand
        T[:3, 3] = palm_world - R_hand @ PALM_CENTRE
        return T

    def _bisect(self, sd_at, lo_c: float, hi_c: float, steps: int) -> float:
        """Largest closure in ``[lo_c, hi_c]`` still clear of the surface (``sd_at(lo_c)`` clear)."""
        for _ in range(steps):
            mid = (lo_c + hi_c) / 2
            lo_c, hi_c = (mid, hi_c) if sd_at(mid) > self.cfg.contact_offset else (lo_c, mid)
        return lo_c

    def close_fingers(self, q_base: np.ndarray, grasp_type: str, surface: SurfaceModel,
                      T_obj: np.ndarray, opened: dict | None = None,
                      closed: dict | None = None) -> tuple[np.ndarray, dict[str, float]]:
        """Per finger, the first closure along its path at which it touches the surface."""
        inv = np.linalg.inv(T_obj)
        opened = opened or self.open_pose()
        closed = closed or self.closed_pose(grasp_type)
        q = q_base.copy()
        closure = {}
        for f in FINGER_JOINT_PREFIX:
            idx = self.finger_idx[f]
            kps = list(FINGER_KEYPOINTS[f])

            def sd_at(c: float) -> float:
                q[idx] = opened[f] + c * (closed[f] - opened[f])
                pts = self.hand.keypoints(q)[kps]
                on_object = surface.signed_distance(pts @ inv[:3, :3].T + inv[:3, 3]).min()
                return float(min(on_object, pts[:, 2].min() - TABLE_CLEARANCE))  # the table stops a finger too

            off = self.cfg.contact_offset
            if f not in self.active_fingers(grasp_type):
                # a tucked finger closes fully, but must not penetrate: back off until clear
                c = 1.0
                if sd_at(c) < 0:
                    c = self._bisect(sd_at, 0.0, 1.0, 12)
            elif sd_at(0.0) <= off:
                c = 0.0
            else:
                # first contact along the closing path (a finger can sweep through a thin part
                # and out again, so the closed end alone does not tell): coarse scan, then bisect
                grid = np.linspace(0.0, 1.0, CLOSURE_SCAN + 1)
                k = next((i for i, g in enumerate(grid) if sd_at(g) <= off), None)
                c = 1.0 if k is None else self._bisect(sd_at, grid[k - 1], grid[k], 10)
            q[idx] = opened[f] + c * (closed[f] - opened[f])
            closure[f] = c
        return q, closure

    # ------------------------------------------------------------------ object motion
    def object_trajectory(self, task: str, T_obj: np.ndarray, mesh, rng: np.random.Generator, n: int,
                          place_xyz: np.ndarray | None, approach: np.ndarray,
                          joint=None, joint_value0: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(n, 4, 4)`` object poses for the manipulation phase (first = ``T_obj``) and joint values."""
        up = np.array([0.0, 0.0, 1.0])

        def moved(dp=np.zeros(3), R=np.eye(3), about=None) -> np.ndarray:
            T = T_obj.copy()
            c = T_obj[:3, 3] if about is None else about
            T[:3, :3] = R @ T_obj[:3, :3]
            T[:3, 3] = R @ (T_obj[:3, 3] - c) + c + dp
            return T

        if task in ("open", "close"):
            lo_v, hi_v = joint.lower, joint.lower + 0.8 * (joint.upper - joint.lower)
            v0, v1 = (lo_v, hi_v) if task == "open" else (hi_v, lo_v)
            values = v0 + min_jerk(n) * (v1 - v0)
            base = T_obj @ np.linalg.inv(joint.transform(joint_value0 if joint_value0 is not None else v0))
            return np.stack([base @ joint.transform(v) for v in values]), values
        if task == "grab":
            h = rng.uniform(0.10, 0.20)
            k = n // 3
            wps = [T_obj, moved(up * h), moved(up * h), T_obj]
            return through_waypoints(wps, [k, n - 1 - 2 * k, k]), None
        if task == "pick_place":
            lift = rng.uniform(0.08, 0.15)
            target = place_xyz if place_xyz is not None else T_obj[:3, 3] + np.array([0.15, 0.0, 0.0])
            above = target + up * lift
            dp_above = above - T_obj[:3, 3]
            dp_final = target - T_obj[:3, 3]
            k = max(n // 4, 2)
            wps = [T_obj, moved(up * lift), moved(dp_above), moved(dp_final)]
            return through_waypoints(wps, [k, n - 1 - 2 * k, k]), None
        if task == "push":
            d = approach.copy()
            d[2] = 0.0
            d /= np.linalg.norm(d)
            return through_waypoints([T_obj, moved(d * rng.uniform(0.08, 0.18))], [n - 1]), None
        if task == "pull":
            return through_waypoints([T_obj, moved(np.array([0.0, -rng.uniform(0.08, 0.15), 0.0]))], [n - 1]), None
        if task == "rotate":
            ang = rng.choice([-1, 1]) * np.deg2rad(rng.uniform(60, 120))
            Rz = Rotation.from_rotvec(up * ang).as_matrix()
            k = max(n // 5, 2)
            wps = [T_obj, moved(up * 0.03), moved(up * 0.03, Rz), moved(np.zeros(3), Rz)]
            return through_waypoints(wps, [k, n - 1 - 2 * k, k]), None
        if task == "pour":
            lift = rng.uniform(0.10, 0.15)
            side = np.cross(up, approach)
            if np.linalg.norm(side) < 1e-6:  # vertical (top) approach: tilt about world x
                side = np.array([1.0, 0.0, 0.0])
            side /= np.linalg.norm(side)
            tilt = Rotation.from_rotvec(side * np.deg2rad(rng.uniform(70, 110)) * rng.choice([-1, 1])).as_matrix()
            centre_lifted = T_obj[:3, 3] + up * (lift + mesh.extents[2] / 2)
            k = max(n // 5, 2)
            lifted = moved(up * lift)
            tilted = moved(up * lift, tilt, about=centre_lifted)
            wps = [T_obj, lifted, tilted, lifted, T_obj]
            m = (n - 1 - 2 * k) // 2
            return through_waypoints(wps, [k, m, n - 1 - 2 * k - m, k]), None
        if task == "handover":
            dp = np.array([rng.uniform(-0.05, 0.05), -rng.uniform(0.15, 0.25), rng.uniform(0.15, 0.25)])
            return through_waypoints([T_obj, moved(dp)], [n - 1]), None
        raise InputError(f"unknown task {task!r}; choose one of {TASKS}")

    # ------------------------------------------------------------------ whole sequence
    def synthesize(self, task: str, obj, T_obj: np.ndarray, rng: np.random.Generator, *,
                   place_xyz: np.ndarray | None = None, joint_value: float | None = None) -> HumanSequence:
        """A :class:`HumanSequence` manipulating ``obj`` (an ``ObjectInstance``) placed at ``T_obj``.

        For articulated objects ``T_obj`` is the object's base pose and ``joint_value`` its
        current joint value; the grasped body is the moving part.
        """
        if task not in TASKS:
            raise InputError(f"unknown task {task!r}; choose one of {TASKS}")
        cfg = self.cfg
        articulated = obj.joint is not None
        if task in ("open", "close") and not articulated:
            raise InputError(f"task {task!r} needs an articulated object, got {obj.type_name}")
        grasp_type = obj.spec.grasp_type
        if task in ("open", "close"):
            grasp_type = "power" if obj.category == "drawer" else "tripod"
            v0 = obj.joint.lower if task == "open" else obj.joint.lower + 0.8 * (obj.joint.upper - obj.joint.lower)
            mesh = obj.moving_mesh.copy()
            body_pose = T_obj @ obj.joint.transform(v0)
        else:
            mesh = obj.mesh
            body_pose = T_obj
        surface = SurfaceModel.from_mesh(mesh, cfg.surface_samples, seed=int(rng.integers(2**31)))
        R_hand, a, style = self.grasp_frame(task, grasp_type, mesh, body_pose, rng, obj.category)
        if style == "push":
            grasp_type = "power"
        place_mesh = mesh
        if style in ("tab", "handle"):
            place_mesh = next(p.mesh for p in obj.parts if p.moving and p.name in GRIP_PARTS)
        T_wrist = self.place_hand(R_hand, a, style, place_mesh, body_pose, rng)
        q_grasp = np.zeros(self.hand.dof)
        q_grasp[:6] = wrist_pose_to_q(T_wrist)
        # articulated: fingers stop at the static body too (the box a lid closes, the cabinet)
        closing_surface = surface if task not in ("open", "close") else SurfaceModel.from_mesh(
            _concat_meshes([mesh, obj.static_mesh.copy().apply_transform(np.linalg.inv(obj.joint.transform(v0)))]),
            cfg.surface_samples, seed=0)
        q_grasp = self._grasp_without_penetration(q_grasp, a, grasp_type, closing_surface, body_pose)
        q_grasp = self.hand.clamp(q_grasp)
        T_wrist = q_to_wrist_pose(q_grasp[:6])  # contact search may have moved the wrist

        # Phase lengths
        n_app = int(rng.integers(cfg.approach_frames[0], cfg.approach_frames[1] + 1))
        n_grasp = int(rng.integers(cfg.grasp_frames[0], cfg.grasp_frames[1] + 1))
        n_rel = int(rng.integers(cfg.release_frames[0], cfg.release_frames[1] + 1))
        n_ret = int(rng.integers(cfg.retreat_frames[0], cfg.retreat_frames[1] + 1))
        n_man = int(rng.integers(cfg.manipulation_frames[0], cfg.manipulation_frames[1] + 1))
        total = n_app + n_grasp + n_man + n_rel + n_ret
        n_man += int(np.clip(total, cfg.min_frames, cfg.max_frames) - total)

        # Pre-shape: fingers halfway between open and grasp closure
        q_open = q_grasp.copy()
        for f, v in self.open_pose().items():
            q_open[self.finger_idx[f]] = v
        q_pre = self.hand.clamp(0.5 * (q_open + q_grasp))

        # 1. approach
        back = rng.uniform(*cfg.pregrasp_distance)
        T_pre = T_wrist.copy()
        T_pre[:3, 3] = T_wrist[:3, 3] - a * back + np.array([0.0, 0.0, 0.04])
        T_pre[:3, :3] = Rotation.from_rotvec(rng.normal(0, 0.12, 3)).as_matrix() @ T_wrist[:3, :3]
        s = min_jerk(n_app)
        wrist_app = interpolate_poses(T_pre, T_wrist, s)
        fingers_app = q_open[None, 6:] + s[:, None] * (q_pre[6:] - q_open[6:])
        # 2. grasp closing
        s = min_jerk(n_grasp + 1)[1:]
        fingers_grasp = q_pre[None, 6:] + s[:, None] * (q_grasp[6:] - q_pre[6:])
        wrist_grasp = np.repeat(T_wrist[None], n_grasp, 0)
        # 3. manipulation: object trajectory, hand rigidly attached
        obj_traj, joint_values = self.object_trajectory(task, body_pose, mesh, rng, n_man + 1, place_xyz, a,
                                                        obj.joint, v0 if task in ("open", "close") else None)
        rel = np.linalg.inv(body_pose) @ T_wrist
        wrist_man = obj_traj[1:] @ rel
        fingers_man = np.repeat(q_grasp[None, 6:], n_man, 0)
        # 4. release
        T_last = wrist_man[-1]
        s = min_jerk(n_rel + 1)[1:]
        fingers_rel = q_grasp[None, 6:] + s[:, None] * (q_pre[6:] - q_grasp[6:])
        wrist_rel = np.repeat(T_last[None], n_rel, 0)
        # 5. retreat (back along the approach direction as seen from the final object pose)
        a_final = obj_traj[-1][:3, :3] @ (np.linalg.inv(body_pose)[:3, :3] @ a)
        T_away = T_last.copy()
        T_away[:3, 3] = T_last[:3, 3] - a_final * rng.uniform(0.10, 0.15) + np.array([0.0, 0.0, 0.05])
        s = min_jerk(n_ret + 1)[1:]
        wrist_ret = interpolate_poses(T_last, T_away, s)
        fingers_ret = q_pre[None, 6:] + s[:, None] * (q_open[6:] - q_pre[6:])

        wrists = np.concatenate([wrist_app, wrist_grasp, wrist_man, wrist_rel, wrist_ret])
        fingers = np.concatenate([fingers_app, fingers_grasp, fingers_man, fingers_rel, fingers_ret])
        q = np.concatenate([wrist_pose_to_q(wrists), fingers], axis=1)
        q[:, 3:6] = np.unwrap(q[:, 3:6], axis=0)
        q = self.hand.clamp(q)
        T = len(q)
        obj_poses = np.concatenate([np.repeat(body_pose[None], n_app + n_grasp, 0), obj_traj[1:],
                                    np.repeat(obj_traj[-1][None], n_rel + n_ret, 0)])
        jv = None
        if joint_values is not None:
            jv = np.concatenate([np.full(n_app + n_grasp, joint_values[0]), joint_values[1:],
                                 np.full(n_rel + n_ret, joint_values[-1])])
        b = np.cumsum([0, n_app, n_grasp, n_man, n_rel, n_ret])
        phases = {name: (int(b[i]), int(b[i + 1])) for i, name in
                  enumerate(("approach", "grasp", "manipulation", "release", "retreat"))}
        assert len(obj_poses) == T
        return HumanSequence(task=task, grasp_type=grasp_type, q=q, keypoints=self.hand.keypoints(q),
                             object_poses=obj_poses, joint_values=jv, phases=phases)

    def _grasp_without_penetration(self, q: np.ndarray, a: np.ndarray, grasp_type: str,
                                   surface: SurfaceModel, T_obj: np.ndarray, tries: int = 4) -> np.ndarray:
        """Close the fingers; while a keypoint still penetrates, back the wrist off along ``a``."""
        inv = np.linalg.inv(T_obj)
        q = q.copy()
        for _ in range(tries):
            q_closed, _ = self.close_fingers(q, grasp_type, surface, T_obj)
            kp = self.hand.keypoints(self.hand.clamp(q_closed))[1:]
            depth = -float(surface.signed_distance(kp @ inv[:3, :3].T + inv[:3, 3]).min())
            if depth <= 0.0:
                return q_closed
            q[:3] -= a * (depth + 2 * self.cfg.contact_offset)
        return q_closed


def wrist_in_object_frame(q_wrist: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
    """``(T, 4, 4)`` wrist pose relative to the object at each frame."""
    return np.linalg.inv(object_poses) @ q_to_wrist_pose(q_wrist)
