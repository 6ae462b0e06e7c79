"""Synthetic grasp-and-lift scenes with exactly known geometry, for tests, benchmarks and demos.

A scene is a primitive object (sphere or box) sampled as a point cloud with exact outward
normals, a lift trajectory of the object, and a "generated" hand trajectory that approaches,
holds the object while it is lifted, and retreats, with noise like a generator's output.

Grasp placement (no grasp synthesis, just a plausible configuration for every hand): the
fingers are set half-way between the ``"open"`` and ``"power grasp"`` presets of
:mod:`unihm_core.hands.poses`; the object is then placed (its size chosen from the fingertip
spread) where its surface best fits the fingertips in the least-squares sense, starting from
the fingertips' centroid moved away from the wrist, and the scene is shifted so that the
object rests on the table (z = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError
from unihm_core.refine.surface import ObjectSurface


def sphere_cloud(radius: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform points on a sphere of ``radius`` [m] at the origin, with exact normals."""
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return radius * v, v.copy()


def box_cloud(half: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` area-uniform points on the surface of a box with half extents ``half`` (3,) [m]
    centred at the origin, with exact face normals."""
    half = np.asarray(half, float)
    areas = np.array([half[1] * half[2], half[0] * half[2], half[0] * half[1]]).repeat(2)
    face = rng.choice(6, size=n, p=areas / areas.sum())
    axis, sign = face // 2, np.where(face % 2 == 0, 1.0, -1.0)
    pts = rng.uniform(-1, 1, size=(n, 3)) * half
    pts[np.arange(n), axis] = sign * half[axis]
    nrm = np.zeros((n, 3))
    nrm[np.arange(n), axis] = sign
    return pts, nrm


def sphere_sdf(x: np.ndarray, radius: float) -> np.ndarray:
    """Exact signed distance [m] of object-frame points ``(..., 3)`` to the sphere."""
    return np.linalg.norm(x, axis=-1) - radius


def box_sdf(x: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Exact signed distance [m] of object-frame points ``(..., 3)`` to the box."""
    q = np.abs(x) - np.asarray(half, float)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(q.max(-1), 0.0)
    return outside + inside


@dataclass(frozen=True, eq=False)
class Primitive:
    """A sphere (``size = (r,)``) or box (``size`` = half extents) centred at its frame origin."""

    shape: str
    size: np.ndarray

    def sdf(self, x: np.ndarray) -> np.ndarray:
        return sphere_sdf(x, float(self.size[0])) if self.shape == "sphere" else box_sdf(x, self.size)

    def cloud(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.shape == "sphere":
            return sphere_cloud(float(self.size[0]), n, rng)
        return box_cloud(self.size, n, rng)

    def grown(self, delta: float) -> Primitive:
        """The same primitive with every face moved outwards by ``delta`` [m]."""
        return Primitive(self.shape, self.size + delta)

    @property
    def bottom(self) -> float:
        """Height of the lowest point below the centre [m]."""
        return float(self.size[0] if self.shape == "sphere" else self.size[2])


def grasp_pose(hand) -> np.ndarray:
    """Wrist at the origin, fingers half-way between the open and power-grasp presets."""
    from unihm_core.hands.poses import preset_pose  # noqa: PLC0415

    return hand.clamp(0.5 * (preset_pose(hand, "open") + preset_pose(hand, "power grasp")))


def fit_primitive(hand, q: np.ndarray, shape: str) -> tuple[Primitive, np.ndarray]:
    """A primitive sized to the grasp at ``q`` and its centre [m, world] fitted to the fingertips."""
    from scipy.optimize import least_squares  # noqa: PLC0415

    tips = hand.fingertip_positions(q)
    spread = max(float(np.max(np.linalg.norm(tips[:, None] - tips[None], axis=-1))), 0.02)
    r = float(np.clip(0.45 * spread, 0.015, 0.05))
    prim = Primitive("sphere", np.array([r])) if shape == "sphere" else Primitive("box", np.array([r, r, r]))
    wrist = q[:3]
    away = tips.mean(0) - wrist
    away /= max(np.linalg.norm(away), 1e-9)
    best = None
    for offset in (0.0, 0.5 * r, r):
        c0 = tips.mean(0) + offset * away
        sol = least_squares(lambda c: prim.sdf(tips - c), c0)
        if best is None or sol.cost < best.cost:
            best = sol
    return prim, best.x


@dataclass(frozen=True, eq=False)
class SyntheticScene:
    """A hand, an object and a generated trajectory.

    Attributes:
        q_gen: ``(T, D)`` generated (noisy) trajectory.
        q_clean: ``(T, D)`` the trajectory before noise.
        object_poses: ``(T, 4, 4)`` object-to-world poses.
        surface: object cloud with exact normals (object frame).
        primitive: the exact object geometry.
        lift: ``(first, last)`` frames of the lift (object moving).
    """

    q_gen: np.ndarray
    q_clean: np.ndarray
    object_poses: np.ndarray
    surface: ObjectSurface
    primitive: Primitive
    lift: tuple[int, int]


def _min_jerk(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s * s)


def lift_scene(hand, shape: str = "sphere", T: int = 64, seed: int | np.random.Generator = 0, *,
               n_points: int = 2000, lift_height: float = 0.10, wrist_noise: float = 0.003,
               finger_noise: float = 0.03, cloud_noise: float = 0.0) -> SyntheticScene:
    """Approach (first quarter), hold and lift (middle half, min-jerk), retreat (last frames).

    Args:
        hand: a :class:`~unihm_core.hands.HandModel`.
        shape: ``"sphere"`` or ``"box"``.
        T: frames (>= 16).
        seed: randomness of the noise and the cloud.
        n_points: cloud size.
        lift_height: object lift [m].
        wrist_noise: std of the wrist-translation noise [m] (rotation noise: 10x in rad).
        finger_noise: std of the finger-joint noise [rad].
        cloud_noise: std of isotropic noise added to the cloud points [m] (normals stay exact).
    """
    if shape not in ("sphere", "box"):
        raise InputError(f"lift_scene: shape={shape!r}; use 'sphere' or 'box'.")
    if T < 16:
        raise InputError(f"lift_scene: T={T} must be >= 16.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    q0 = grasp_pose(hand)
    prim, centre = fit_primitive(hand, q0, shape)
    shift = np.array([0.0, 0.0, prim.bottom]) - centre  # object rests on the table at the origin
    q_grasp = q0.copy()
    q_grasp[:3] += shift
    open_q = q_grasp.copy()
    from unihm_core.hands.poses import preset_pose  # noqa: PLC0415

    open_q[6:] = preset_pose(hand, "open")[6:]
    away = q_grasp[:3] - np.array([0.0, 0.0, prim.bottom])
    away /= max(np.linalg.norm(away), 1e-9)

    t = np.arange(T)
    a0, a1 = T // 4, T // 4 + 4  # approach ends, lift starts
    l1 = a1 + T // 2 - 4         # lift ends
    r0 = min(T - 1, l1 + 8)      # retreat starts
    lift = lift_height * _min_jerk((t - a1) / max(l1 - a1, 1))
    poses = np.tile(np.eye(4), (T, 1, 1))
    poses[:, 2, 3] = prim.bottom + lift
    approach = 1.0 - _min_jerk(t / max(a0, 1))          # 1 far .. 0 at the grasp
    retreat = _min_jerk((t - r0) / max(T - 1 - r0, 1))   # 0 .. 1 at the end
    blend = np.maximum(approach, retreat)[:, None]
    q_clean = (1 - blend) * q_grasp + blend * open_q
    q_clean[:, :3] += (0.08 * blend) * away
    q_clean[:, 2] += lift
    q_gen = q_clean.copy()
    q_gen[:, :3] += rng.normal(scale=wrist_noise, size=(T, 3))
    q_gen[:, 3:6] += rng.normal(scale=10 * wrist_noise, size=(T, 3))
    q_gen[:, 6:] += rng.normal(scale=finger_noise, size=(T, hand.dof - 6))
    q_gen = hand.clamp(q_gen)
    pts, nrm = prim.cloud(n_points, rng)
    if cloud_noise > 0:
        pts = pts + rng.normal(scale=cloud_noise, size=pts.shape)
    return SyntheticScene(q_gen, q_clean, poses, ObjectSurface(pts, nrm), prim, (a1, l1))
