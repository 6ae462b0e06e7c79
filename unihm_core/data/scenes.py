"""Tabletop scenes: a table, a target object, 1-4 distractors, optionally a receptacle, a camera.

A :class:`SceneSpec` is pure geometry and metadata (no rendering): object instances from
:mod:`unihm_core.data.objects` with 4x4 world poses, the table, the lights and a
RealSense-like pinhole camera. :func:`sample_scene` draws one from a
``numpy.random.Generator``; :mod:`unihm_core.data.rgbd_render` renders it.

Frames and conventions
    World = table frame: z up, origin on the table top at the centre of the workspace,
    z = 0 is the table surface. The viewer (camera, and the robot or person whose "left"
    and "right" the instructions mean) stands on the -y side looking towards +y, so +x is
    the viewer's *right* and +y is *away* (behind). Objects only rotate about z (yaw) and
    rest on the table in their natural pose; articulated objects turn their front (-y in
    the object frame) roughly towards the camera (yaw within +-30 degrees of facing it).
    Object k (1-based, in :attr:`SceneSpec.objects` order) has instance label k in masks;
    the target is always object 1.

Camera
    OpenCV convention: x right, y down, z forward; ``extrinsics`` is camera-to-world (4x4).
    Viewpoints (defaults of :class:`SceneConfig`): distance 0.5-1.0 m to a look-at point
    that jitters +-4 cm around the workspace centre, elevation 30-65 degrees above the
    table, azimuth within +-35 degrees of the front (-y), roll +-2 degrees. Intrinsics
    mimic an Intel RealSense D435 colour stream at 640x480: fx, fy in 600-620 px (fy within
    0.5 % of fx), principal point 320, 240 +- 4 px.

Placement
    Objects are placed one by one (receptacle and articulated objects first, then the
    target, then distractors) by rejection sampling of (x, y, yaw) inside the workspace
    rectangle, subject to: convex 2-D footprints (for articulated objects the hull of the
    closed and fully open states) at least ``min_gap`` apart (separating-axis test), and
    the whole object projecting inside the image with a margin. A layout whose target is
    less than ``min_target_visible`` visible (painter's-algorithm estimate on projected
    hulls) is redrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from unihm_core.data.objects import (
    OBJECT_REGISTRY,
    RECEPTACLE_TYPES,
    ObjectInstance,
    Split,
    get_object_spec,
    make_object,
    object_types_for_split,
    sample_object,
)
from unihm_core.errors import ConfigError, InputError

Role = Literal["target", "distractor", "receptacle"]

#: Table looks: colour name -> (sRGB, material word, wood grain?)
TABLE_LOOKS: dict[str, tuple[tuple[float, float, float], str, bool]] = {
    "light wood": ((0.74, 0.58, 0.40), "wood", True),
    "dark wood": ((0.42, 0.27, 0.16), "wood", True),
    "white": ((0.86, 0.86, 0.84), "laminate", False),
    "grey": ((0.55, 0.56, 0.57), "laminate", False),
    "beige": ((0.80, 0.72, 0.58), "laminate", False),
}


@dataclass(frozen=True)
class SceneConfig:
    """Sampling ranges of :func:`sample_scene` (lengths [m], angles [deg], pixels [px])."""

    min_distractors: int = 1
    max_distractors: int = 4
    p_receptacle: float = 0.5
    workspace_x: tuple[float, float] = (-0.30, 0.30)
    workspace_y: tuple[float, float] = (-0.20, 0.22)
    min_gap: float = 0.015
    cam_distance: tuple[float, float] = (0.5, 1.0)
    cam_elevation_deg: tuple[float, float] = (30.0, 65.0)
    cam_azimuth_deg: tuple[float, float] = (-35.0, 35.0)
    cam_roll_deg: float = 2.0
    look_at_jitter: float = 0.04
    width: int = 640
    height: int = 480
    focal_px: tuple[float, float] = (600.0, 620.0)
    principal_jitter_px: float = 4.0
    image_margin_px: float = 12.0
    min_target_visible: float = 0.6
    p_drawer_open: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.min_distractors <= self.max_distractors:
            raise ConfigError("need 0 <= min_distractors <= max_distractors")
        for name in ("workspace_x", "workspace_y", "cam_distance", "cam_elevation_deg", "cam_azimuth_deg", "focal_px"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ConfigError(f"SceneConfig.{name} must be (low, high) with low <= high, got {(lo, hi)}")
        if not 0.0 < self.cam_distance[0]:
            raise ConfigError("camera distance must be positive")
        if not (0.0 < self.cam_elevation_deg[0] and self.cam_elevation_deg[1] < 90.0):
            raise ConfigError("camera elevation must lie in (0, 90) degrees")
        if self.width <= 0 or self.height <= 0:
            raise ConfigError("image width and height must be positive")
        for name in ("p_receptacle", "min_target_visible", "p_drawer_open"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"SceneConfig.{name} must lie in [0, 1]")


@dataclass(frozen=True)
class CameraSpec:
    """Pinhole camera, OpenCV convention (x right, y down, z forward).

    Attributes:
        width, height: image size [px].
        fx, fy, cx, cy: intrinsics [px].
        extrinsics: (4, 4) camera-to-world transform in the table frame.
        near, far: clipping distances used by the renderer [m].
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    extrinsics: np.ndarray = field(repr=False)
    near: float = 0.05
    far: float = 10.0

    def __post_init__(self) -> None:
        e = np.asarray(self.extrinsics, dtype=float)
        if e.shape != (4, 4) or not np.allclose(e[:3, :3] @ e[:3, :3].T, np.eye(3), atol=1e-6):
            raise ConfigError("camera extrinsics must be a 4x4 rigid transform (camera-to-world)")
        object.__setattr__(self, "extrinsics", e)

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsic matrix [px]."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def world_to_camera(self) -> np.ndarray:
        """(4, 4) inverse of :attr:`extrinsics`."""
        return np.linalg.inv(self.extrinsics)

    @property
    def position(self) -> np.ndarray:
        """(3,) camera centre in the world [m]."""
        return self.extrinsics[:3, 3].copy()

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (N, 3) world points; returns pixels (N, 2) [px] (u right, v down) and depth z (N,) [m]."""
        p = np.asarray(points_world, dtype=float)
        pc = p @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.fx * pc[:, 0] / z + self.cx, self.fy * pc[:, 1] / z + self.cy], axis=1)
        return uv, z

    def to_dict(self) -> dict:
        """camera.json fields (depth_scale is added by the writer)."""
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy, "width": self.width,
                "height": self.height, "extrinsics": self.extrinsics.tolist(),
                "convention": "OpenCV (x right, y down, z forward); extrinsics = camera-to-world, table frame"}


@dataclass(frozen=True)
class TableSpec:
    """The table: its top is the plane z = 0.

    Attributes:
        size: (x, y) extents of the top [m].
        centre: (x, y) of the top's centre in the world [m] (the workspace is near its front).
        thickness: slab thickness [m]; height: top above the floor [m].
        colour_name, rgb, material: look; ``wood_grain`` adds a procedural grain texture.
        texture_seed: seed of the grain texture.
    """

    size: tuple[float, float]
    centre: tuple[float, float]
    colour_name: str
    rgb: tuple[float, float, float]
    material: str
    wood_grain: bool
    texture_seed: int
    thickness: float = 0.03
    height: float = 0.74

    def to_dict(self) -> dict:
        return {"size_m": list(self.size), "centre_m": list(self.centre), "colour_name": self.colour_name,
                "rgb": list(self.rgb), "material": self.material, "top_z_m": 0.0, "height_m": self.height}


@dataclass(frozen=True)
class LightSpec:
    """Lights: ambient level, one shadow-casting directional light, one fill point light.

    Attributes:
        ambient: ambient RGB level in [0, 1].
        sun_direction: (3,) unit direction the light travels (pointing down).
        sun_colour: (3,) RGB intensity.
        fill_position: (3,) point light position [m]; fill_colour: (3,) RGB intensity.
    """

    ambient: tuple[float, float, float]
    sun_direction: tuple[float, float, float]
    sun_colour: tuple[float, float, float]
    fill_position: tuple[float, float, float]
    fill_colour: tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class PlacedObject:
    """An object instance at a world pose.

    Attributes:
        instance: the :class:`~unihm_core.data.objects.ObjectInstance`.
        pose: (4, 4) object-to-world transform (rotation about z only).
        role: ``"target"``, ``"distractor"`` or ``"receptacle"``.
        joint_value: joint position of articulated objects ([m] or [rad]); None otherwise.
    """

    instance: ObjectInstance
    pose: np.ndarray = field(repr=False)
    role: Role
    joint_value: float | None = None

    def part_poses(self) -> list[np.ndarray]:
        """(4, 4) world pose of every part (moving parts at ``joint_value``)."""
        return [self.pose @ t for t in self.instance.part_transforms(self.joint_value)]

    def world_vertices(self) -> np.ndarray:
        """(V, 3) vertices of all parts in the world [m]."""
        return _transform(self.instance.mesh_at(self.joint_value).vertices, self.pose)

    def footprint_world(self) -> np.ndarray:
        """(K, 2) convex footprint on the table [m]."""
        return _transform_xy(_full_footprint(self.instance), self.pose)

    def to_dict(self) -> dict:
        d = self.instance.to_dict()
        d.update({"role": self.role, "pose_world": np.round(self.pose, 6).tolist(),
                  "position_m": np.round(self.pose[:3, 3], 5).tolist(),
                  "yaw_rad": round(float(np.arctan2(self.pose[1, 0], self.pose[0, 0])), 5),
                  "joint_value": self.joint_value})
        return d


@dataclass(frozen=True, eq=False)
class SceneSpec:
    """A sampled tabletop scene (geometry and metadata, renderer-independent).

    Attributes:
        seed: seed the scene was sampled from (None when built by hand).
        split: ``"seen"``, ``"unseen"`` or None (any).
        table, lights, camera: see :class:`TableSpec`, :class:`LightSpec`, :class:`CameraSpec`.
        objects: target first, then the receptacle (if any), then distractors; object k has
            mask label k + 1.
    """

    seed: int | None
    split: Split | None
    table: TableSpec
    lights: LightSpec
    camera: CameraSpec
    objects: tuple[PlacedObject, ...]

    def __post_init__(self) -> None:
        if not self.objects or self.objects[0].role != "target":
            raise ConfigError("a scene needs its target as the first object")

    @property
    def target(self) -> PlacedObject:
        return self.objects[0]

    @property
    def receptacle(self) -> PlacedObject | None:
        return next((o for o in self.objects if o.role == "receptacle"), None)

    @property
    def distractors(self) -> tuple[PlacedObject, ...]:
        return tuple(o for o in self.objects if o.role == "distractor")

    @property
    def object_poses(self) -> np.ndarray:
        """(N, 4, 4) object-to-world poses in object order."""
        return np.stack([o.pose for o in self.objects])

    def to_dict(self) -> dict:
        """scene.json content."""
        return {
            "seed": self.seed,
            "split": self.split,
            "frame": "table frame: z up, origin on the table top; viewer on -y, +x = viewer's right",
            "table": self.table.to_dict(),
            "camera": self.camera.to_dict(),
            "objects": [dict(o.to_dict(), mask_label=k + 1) for k, o in enumerate(self.objects)],
            "target_index": 0,
            "receptacle_index": next((k for k, o in enumerate(self.objects) if o.role == "receptacle"), None),
        }


# --------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------


def _transform(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return points @ pose[:3, :3].T + pose[:3, 3]


def _transform_xy(points_xy: np.ndarray, pose: np.ndarray) -> np.ndarray:
    return points_xy @ pose[:2, :2].T + pose[:2, 3]


def _yaw_pose(x: float, y: float, yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    t = np.eye(4)
    t[:2, :2] = [[c, -s], [s, c]]
    t[:2, 3] = [x, y]
    return t


_FOOTPRINT_CACHE: dict[str, np.ndarray] = {}


def _full_footprint(inst: ObjectInstance) -> np.ndarray:
    """Convex footprint of an instance over its joint range (closed and fully open)."""
    fp = _FOOTPRINT_CACHE.get(inst.instance_id)
    if fp is None:
        from scipy.spatial import ConvexHull  # noqa: PLC0415

        if inst.joint is None:
            xy = inst.mesh.vertices[:, :2]
        else:
            xy = np.concatenate([inst.mesh_at(inst.joint.lower).vertices[:, :2],
                                 inst.mesh_at(inst.joint.upper).vertices[:, :2]])
        fp = xy[ConvexHull(xy).vertices]
        if len(_FOOTPRINT_CACHE) > 4096:
            _FOOTPRINT_CACHE.clear()
        _FOOTPRINT_CACHE[inst.instance_id] = fp
    return fp


def polygon_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest separation of two convex polygons (K, 2) over their edge normals [m].

    Positive: separated by at least that much along some axis (a lower bound of the true
    distance); zero or negative: they overlap (separating-axis theorem).
    """
    best = -np.inf
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        pa, pb = a @ normals.T, b @ normals.T
        gap = np.maximum(pb.min(axis=0) - pa.max(axis=0), pa.min(axis=0) - pb.max(axis=0))
        best = max(best, float(gap.max()))
    return best


def footprints_overlap(a: np.ndarray, b: np.ndarray, min_gap: float = 0.0) -> bool:
    """True when convex footprints ``a`` and ``b`` (K, 2) are closer than ``min_gap`` [m]."""
    return polygon_gap(a, b) < min_gap


def _look_at(position: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """Camera-to-world (OpenCV axes) at ``position`` looking at ``target``, rolled by ``roll`` [rad]."""
    z = target - position
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(roll), np.sin(roll)
    x, y = c * x + s * y, -s * x + c * y
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = x, y, z, position
    return t


def sample_camera(rng: np.random.Generator, config: SceneConfig = SceneConfig(),
                  look_at: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> CameraSpec:
    """A RealSense-like camera around a tabletop viewpoint (see the module docstring)."""
    cfg = config
    target = np.asarray(look_at, dtype=float) + np.array([
        rng.uniform(-1, 1) * cfg.look_at_jitter, rng.uniform(-1, 1) * cfg.look_at_jitter,
        rng.uniform(0, 1) * cfg.look_at_jitter])
    d = rng.uniform(*cfg.cam_distance)
    el = np.deg2rad(rng.uniform(*cfg.cam_elevation_deg))
    az = np.deg2rad(rng.uniform(*cfg.cam_azimuth_deg))
    roll = np.deg2rad(rng.uniform(-1, 1) * cfg.cam_roll_deg)
    pos = target + d * np.array([np.cos(el) * np.sin(az), -np.cos(el) * np.cos(az), np.sin(el)])
    fx = rng.uniform(*cfg.focal_px)
    fy = fx * (1.0 + rng.uniform(-0.005, 0.005))
    cx = cfg.width / 2 + rng.uniform(-1, 1) * cfg.principal_jitter_px
    cy = cfg.height / 2 + rng.uniform(-1, 1) * cfg.principal_jitter_px
    return CameraSpec(width=cfg.width, height=cfg.height, fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy),
                      extrinsics=_look_at(pos, target, roll))


def _sample_table(rng: np.random.Generator) -> TableSpec:
    names = list(TABLE_LOOKS)
    name = names[int(rng.integers(len(names)))]
    rgb, material, grain = TABLE_LOOKS[name]
    gain = rng.uniform(0.92, 1.05)
    rgb = tuple(float(np.clip(c * gain, 0, 1)) for c in rgb)
    sx, sy = rng.uniform(1.2, 1.8), rng.uniform(0.8, 1.1)
    # the front edge sits 0.30-0.42 m in front of the workspace centre (towards the viewer)
    front = rng.uniform(0.30, 0.42)
    return TableSpec(size=(float(sx), float(sy)), centre=(float(rng.uniform(-0.1, 0.1)), float(sy / 2 - front)),
                     colour_name=name, rgb=rgb, material=material, wood_grain=grain,
                     texture_seed=int(rng.integers(2 ** 31)))


def _sample_lights(rng: np.random.Generator) -> LightSpec:
    el = np.deg2rad(rng.uniform(45, 80))
    az = rng.uniform(0, 2 * np.pi)
    direction = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    warm = rng.uniform(-0.05, 0.05)
    sun = rng.uniform(1.2, 2.0)
    amb = rng.uniform(0.2, 0.32)
    return LightSpec(
        ambient=(amb, amb, amb),
        sun_direction=tuple(float(v) for v in direction),
        sun_colour=(sun * (1 + warm), sun, sun * (1 - warm)),
        fill_position=(float(rng.uniform(-1, 1)), float(rng.uniform(-1.2, -0.4)), float(rng.uniform(1.0, 1.6))),
        fill_colour=tuple([float(rng.uniform(0.5, 1.1))] * 3),
    )


def _in_view(cam: CameraSpec, pts: np.ndarray, margin: float) -> bool:
    uv, z = cam.project(pts)
    return bool(np.all(z > cam.near) and np.all(uv[:, 0] >= margin) and np.all(uv[:, 0] <= cam.width - 1 - margin)
                and np.all(uv[:, 1] >= margin) and np.all(uv[:, 1] <= cam.height - 1 - margin))


def visible_fractions(camera: CameraSpec, objects: tuple[PlacedObject, ...] | list[PlacedObject],
                      downsample: int = 4) -> np.ndarray:
    """Approximate visible fraction of each object (N,) from projected convex hulls.

    Painter's algorithm at 1/``downsample`` resolution ordered by camera distance of the
    object centres; a cheap stand-in for a render, used to reject occluded targets.
    """
    from scipy.spatial import ConvexHull  # noqa: PLC0415

    h, w = camera.height // downsample, camera.width // downsample
    vv, uu = np.mgrid[0:h, 0:w]
    pix = np.stack([uu.ravel() + 0.5, vv.ravel() + 0.5], axis=1) * downsample
    label = np.zeros(h * w, dtype=int)
    masks, dists = [], []
    for o in objects:
        verts = o.world_vertices()
        uv, z = camera.project(verts)
        hull = ConvexHull(uv)
        eq = hull.equations  # a u + b v + c <= 0 inside
        inside = np.all(pix @ eq[:, :2].T + eq[:, 2] <= 0, axis=1)
        masks.append(inside)
        dists.append(np.linalg.norm(verts.mean(axis=0) - camera.position))
    for k in np.argsort(dists)[::-1]:
        label[masks[k]] = k + 1
    return np.array([np.count_nonzero(label == k + 1) / max(np.count_nonzero(m), 1) for k, m in enumerate(masks)])


def _place(rng, inst: ObjectInstance, role: Role, placed: list[PlacedObject], cam: CameraSpec,
           cfg: SceneConfig, tries: int = 60) -> PlacedObject | None:
    fp = _full_footprint(inst)
    for _ in range(tries):
        x, y = rng.uniform(*cfg.workspace_x), rng.uniform(*cfg.workspace_y)
        if inst.joint is not None:  # face the camera: object -y towards the camera
            yaw = np.arctan2(cam.position[0] - x, -(cam.position[1] - y)) + rng.uniform(-0.5, 0.5)
        else:
            yaw = rng.uniform(-np.pi, np.pi)
        pose = _yaw_pose(x, y, yaw)
        fp_w = _transform_xy(fp, pose)
        if any(footprints_overlap(fp_w, p.footprint_world(), cfg.min_gap) for p in placed):
            continue
        joint_value = None
        if inst.joint is not None:
            open_ = rng.random() < cfg.p_drawer_open
            joint_value = float(inst.joint.lower + (rng.uniform(0.3, 1.0) if open_ else 0.0)
                                * (inst.joint.upper - inst.joint.lower))
        cand = PlacedObject(instance=inst, pose=pose, role=role, joint_value=joint_value)
        if not _in_view(cam, cand.world_vertices()[::7], cfg.image_margin_px):
            continue
        return cand
    return None


def sample_scene(rng: np.random.Generator, target_type: str | None = None, split: Split | None = None,
                 n_distractors: int | None = None, receptacle_type: str | None | bool = None,
                 config: SceneConfig = SceneConfig(), max_attempts: int = 100) -> SceneSpec:
    """Sample a tabletop scene.

    Args:
        rng: the only source of randomness; the same generator state gives the same scene.
        target_type: object type of the target (random when None).
        split: ``"seen"``, ``"unseen"`` or None; every instance in the scene is drawn from
            that split (unseen-only types never appear in a seen scene).
        n_distractors: number of distractors (random in the config's range when None).
        receptacle_type: a receptacle type name, ``False`` for none, None for random
            (present with probability ``config.p_receptacle``).
        config: sampling ranges.
        max_attempts: layouts to try before giving up.

    Raises:
        InputError: unknown types, a type not allowed in ``split``, or no valid layout.
    """
    cfg = config
    if split == "seen" and target_type is not None and target_type not in object_types_for_split("seen"):
        raise InputError(f"target type {target_type!r} is reserved for the unseen split")
    if target_type is not None:
        get_object_spec(target_type)
    if isinstance(receptacle_type, str):
        if not get_object_spec(receptacle_type).is_receptacle:
            raise InputError(f"{receptacle_type!r} is not a receptacle; choose one of {', '.join(RECEPTACLE_TYPES)}")
    if n_distractors is not None and not 0 <= n_distractors <= 6:
        raise InputError(f"n_distractors must lie in [0, 6], got {n_distractors}")
    seed = int(rng.integers(2 ** 31))
    allowed = object_types_for_split(split)
    for _ in range(max_attempts):
        ttype = target_type or allowed[int(rng.integers(len(allowed)))]
        if receptacle_type is None:
            use_rec = rng.random() < cfg.p_receptacle
            rtype = None
            if use_rec:
                cands = [t for t in RECEPTACLE_TYPES if t != ttype and t in allowed]
                rtype = cands[int(rng.integers(len(cands)))] if cands else None
        else:
            rtype = receptacle_type or None
        nd = n_distractors if n_distractors is not None else int(rng.integers(cfg.min_distractors, cfg.max_distractors + 1))
        # distractors: distinct non-articulated types, not the target's or receptacle's type
        pool = [t for t in allowed if t not in (ttype, rtype) and OBJECT_REGISTRY[t].articulated is None]
        dtypes = [pool[i] for i in rng.choice(len(pool), size=min(nd, len(pool)), replace=False)]
        cam = sample_camera(rng, cfg)
        target = sample_object(ttype, rng, split)
        rec = sample_object(rtype, rng, split) if rtype else None
        distr = [sample_object(t, rng, split) for t in dtypes]
        placed: list[PlacedObject] = []
        order: list[tuple[ObjectInstance, Role]] = ([(rec, "receptacle")] if rec else []) + [(target, "target")]
        # big and articulated things first
        order.sort(key=lambda ir: -(ir[0].joint is not None) - float(np.prod(ir[0].size[:2])))
        ok = True
        for inst, role in order:
            p = _place(rng, inst, role, placed, cam, cfg)
            if p is None:
                ok = False
                break
            placed.append(p)
        if not ok:
            continue
        for inst in distr:
            p = _place(rng, inst, "distractor", placed, cam, cfg)
            if p is not None:
                placed.append(p)
        n_placed = sum(p.role == "distractor" for p in placed)
        if n_placed < min(nd, cfg.min_distractors if n_distractors is None else nd):
            continue
        objs = sorted(placed, key=lambda p: {"target": 0, "receptacle": 1, "distractor": 2}[p.role])
        if visible_fractions(cam, objs)[0] < cfg.min_target_visible:
            continue
        return SceneSpec(seed=seed, split=split, table=_sample_table(rng), lights=_sample_lights(rng), camera=cam,
                         objects=tuple(objs))
    raise InputError(f"could not lay out a scene with target {target_type!r} in {max_attempts} attempts; "
                     "use fewer distractors or a larger workspace")


def scene_with_objects(objects: list[tuple[str, int, tuple[float, float, float]]], camera: CameraSpec,
                       table: TableSpec | None = None, lights: LightSpec | None = None,
                       joint_values: dict[int, float] | None = None) -> SceneSpec:
    """A hand-made scene: ``objects`` = [(type_name, instance_seed, (x, y, yaw)), ...], target first.

    Useful for tests and fixed example scenes; no overlap check is made.
    """
    placed = []
    for k, (t, s, (x, y, yaw)) in enumerate(objects):
        inst = make_object(t, s)
        jv = (joint_values or {}).get(k, inst.joint.lower if inst.joint is not None else None)
        placed.append(PlacedObject(instance=inst, pose=_yaw_pose(x, y, yaw), role="target" if k == 0 else "distractor",
                                   joint_value=jv))
    table = table or TableSpec(size=(1.4, 0.9), centre=(0.0, 0.1), colour_name="light wood",
                               rgb=TABLE_LOOKS["light wood"][0], material="wood", wood_grain=True, texture_seed=0)
    lights = lights or LightSpec(ambient=(0.3, 0.3, 0.3), sun_direction=(0.3, 0.2, -0.93), sun_colour=(2.0, 2.0, 2.0),
                                 fill_position=(0.0, -0.8, 1.3), fill_colour=(1.2, 1.2, 1.2))
    return SceneSpec(seed=None, split=None, table=table, lights=lights, camera=camera, objects=tuple(placed))


__all__ = [
    "CameraSpec", "LightSpec", "PlacedObject", "SceneConfig", "SceneSpec", "TableSpec",
    "footprints_overlap", "polygon_gap", "sample_camera", "sample_scene", "scene_with_objects", "visible_fractions",
]
