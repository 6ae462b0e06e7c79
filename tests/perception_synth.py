"""Analytic RGB-D frames for the perception tests.

Boxes (with yaw), upright cylinders and spheres stand on a table (the plane z = 0 of the
world frame, a finite rectangle above a floor at z = -0.75 m). A pinhole camera looks
down at the table; every pixel's ray is intersected with each primitive in closed form,
the nearest hit wins. Colours get simple Lambert shading so colour naming sees realistic
brightness variation. Depth is z along the optical axis [m].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FX = FY = 615.0
CX, CY = 320.0, 240.0
W, H = 640, 480
TABLE_HALF = (0.6, 0.45)
FLOOR_Z = -0.75
TABLE_RGB = (150, 115, 80)  # wood-like brown
FLOOR_RGB = (90, 90, 95)


@dataclass(frozen=True)
class Obj:
    """One primitive on the table.

    kind: "box" (size = (lx, ly, lz), yaw [rad]), "cylinder" (size = (radius, height)),
    "sphere" (size = (radius,)). xy: footprint centre [m]. rgb: base colour.
    """

    kind: str
    xy: tuple[float, float]
    size: tuple[float, ...]
    rgb: tuple[int, int, int]
    yaw: float = 0.0


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) camera-to-world for a camera at ``eye`` looking at ``target`` (x right, y down)."""
    f = target - eye
    f = f / np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    T = np.eye(4)
    T[:3, :3] = np.stack([r, d, f], axis=1)
    T[:3, 3] = eye
    return T


def default_camera(height: float = 0.55, back: float = 0.55, target=(0.0, 0.05, 0.0)) -> np.ndarray:
    """A camera above and in front of the table, looking down at ~45 degrees."""
    return look_at(np.array([0.0, -back, height]), np.asarray(target, dtype=float))


def _hit_box(o, d, obj):
    lx, ly, lz = obj.size
    c, s = np.cos(obj.yaw), np.sin(obj.yaw)
    Rinv = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    ol = Rinv @ (o - np.array([obj.xy[0], obj.xy[1], lz / 2]))
    dl = d @ Rinv.T
    half = np.array([lx, ly, lz]) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - ol) / dl
        t2 = (half - ol) / dl
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    tn = tmin.max(axis=1)
    tf = tmax.min(axis=1)
    hit = (tn <= tf) & (tn > 0)
    axis = tmin.argmax(axis=1)
    nl = np.zeros_like(dl)
    nl[np.arange(len(d)), axis] = -np.sign(dl[np.arange(len(d)), axis])
    n = nl @ Rinv  # back to world
    return np.where(hit, tn, np.inf), n


def _hit_cylinder(o, d, obj):
    r, h = obj.size
    ox, oy = o[0] - obj.xy[0], o[1] - obj.xy[1]
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = 2 * (ox * d[:, 0] + oy * d[:, 1])
    cc = ox**2 + oy**2 - r**2
    disc = b**2 - 4 * a * cc
    t_side = np.full(len(d), np.inf)
    ok = disc >= 0
    ts = (-b[ok] - np.sqrt(disc[ok])) / (2 * a[ok])
    z = o[2] + ts * d[ok, 2]
    good = (ts > 0) & (z >= 0) & (z <= h)
    tmp = np.full(ok.sum(), np.inf)
    tmp[good] = ts[good]
    t_side[ok] = tmp
    with np.errstate(divide="ignore", invalid="ignore"):
        t_cap = (h - o[2]) / d[:, 2]
    px = ox + t_cap * d[:, 0]
    py = oy + t_cap * d[:, 1]
    cap_ok = (t_cap > 0) & (px**2 + py**2 <= r**2)
    t_cap = np.where(cap_ok, t_cap, np.inf)
    t = np.minimum(t_side, t_cap)
    p = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    n = np.zeros_like(d)
    side = t_side <= t_cap
    n[side, 0] = p[side, 0] - obj.xy[0]
    n[side, 1] = p[side, 1] - obj.xy[1]
    n[~side, 2] = 1.0
    n[~np.isfinite(t)] = (0.0, 0.0, 1.0)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return t, n


def _hit_sphere(o, d, obj):
    (r,) = obj.size
    c = np.array([obj.xy[0], obj.xy[1], r])
    oc = o - c
    a = (d**2).sum(1)
    b = 2 * d @ oc
    cc = oc @ oc - r**2
    disc = b**2 - 4 * a * cc
    t = np.full(len(d), np.inf)
    ok = disc >= 0
    ts = (-b[ok] - np.sqrt(disc[ok])) / (2 * a[ok])
    t[ok] = np.where(ts > 0, ts, np.inf)
    p = o + np.where(np.isfinite(t), t, 0)[:, None] * d
    n = p - c
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return t, n


def render(
    objects: list[Obj],
    cam_to_world: np.ndarray | None = None,
    *,
    noise: float = 0.0,
    seed: int = 0,
):
    """Ray-cast a frame.

    Args:
        objects: primitives on the table.
        cam_to_world: (4, 4) camera pose; default :func:`default_camera`.
        noise: depth noise std at 1 m [m] (grows with z^2).
        seed: noise seed.

    Returns:
        ``(rgb (H, W, 3) uint8, depth (H, W) float64 [m], cam_to_world (4, 4),
        ids (H, W) int: object index, -1 table, -2 floor)``.
    """
    T = default_camera() if cam_to_world is None else cam_to_world
    u, v = np.meshgrid(np.arange(W, dtype=float), np.arange(H, dtype=float))
    dc = np.stack([(u - CX) / FX, (v - CY) / FY, np.ones_like(u)], axis=-1).reshape(-1, 3)
    d = dc @ T[:3, :3].T
    o = T[:3, 3]
    n_rays = len(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_table = -o[2] / d[:, 2]
        t_floor = (FLOOR_Z - o[2]) / d[:, 2]
    pt = o + np.where(np.isfinite(t_table), t_table, 0)[:, None] * d
    on_table = (t_table > 0) & (np.abs(pt[:, 0]) <= TABLE_HALF[0]) & (np.abs(pt[:, 1]) <= TABLE_HALF[1])
    best_t = np.where(on_table, t_table, np.where(t_floor > 0, t_floor, np.inf))
    ids = np.where(on_table, -1, -2)
    normals = np.tile([0.0, 0.0, 1.0], (n_rays, 1))
    for i, obj in enumerate(objects):
        fn = {"box": _hit_box, "cylinder": _hit_cylinder, "sphere": _hit_sphere}[obj.kind]
        t, n = fn(o, d, obj)
        closer = t < best_t
        best_t[closer] = t[closer]
        ids[closer] = i
        normals[closer] = n[closer]
    depth = np.where(np.isfinite(best_t), best_t, 0.0)  # d has z = 1 in the camera frame
    light = np.array([0.3, -0.5, 1.0])
    light /= np.linalg.norm(light)
    shade = 0.55 + 0.45 * np.clip(normals @ light, 0.0, 1.0)
    base = np.zeros((n_rays, 3))
    base[ids == -1] = TABLE_RGB
    base[ids == -2] = FLOOR_RGB
    for i, obj in enumerate(objects):
        base[ids == i] = obj.rgb
    rgb = np.clip(base * shade[:, None], 0, 255).astype(np.uint8).reshape(H, W, 3)
    depth = depth.reshape(H, W)
    if noise > 0:
        rng = np.random.default_rng(seed)
        depth = np.where(depth > 0, depth + rng.normal(0.0, 1.0, depth.shape) * noise * depth**2, 0.0)
    return rgb, depth, T, ids.reshape(H, W)


RED, BLUE, GREEN, YELLOW = (200, 30, 30), (30, 60, 200), (40, 160, 50), (230, 200, 30)
WHITE, ORANGE = (235, 235, 235), (240, 130, 20)


def three_shapes() -> list[Obj]:
    """A red box, a blue cylinder and a green sphere, well apart."""
    return [
        Obj("box", (-0.15, 0.05), (0.08, 0.05, 0.12), RED, yaw=0.4),
        Obj("cylinder", (0.02, 0.12), (0.035, 0.11), BLUE),
        Obj("sphere", (0.16, 0.0), (0.04,), GREEN),
    ]
