"""Procedural YCB-like tabletop objects: meshes plus the metadata language and grasping need.

DexYCB and OakInk cannot be downloaded here, so the data engine (paper Sec. 3.1, App. B.1)
builds its own objects. Every object *type* (``"cracker_box"``, ``"mug"``, ...) is an
:class:`ObjectSpec` in :data:`OBJECT_REGISTRY`; :func:`make_object` turns a type name and an
integer instance seed into an :class:`ObjectInstance` whose size and colour are drawn from
realistic ranges (YCB dimensions as the reference). The instance is a pure function of
``(type_name, instance_seed)``, so an instance id is enough to rebuild it.

Geometry conventions
    Metres. Object frame: z up, origin at the bottom centre of the main body (the
    revolution axis for round objects, the box centre for boxes), resting on z = 0 in its
    natural stable pose (upright; markers and bananas lying). The *front* of an object
    (drawer front, lid opening side) faces -y, which :mod:`unihm_core.data.scenes` turns
    towards the camera.

Meshes
    Each object is a tuple of :class:`ObjectPart` meshes (body, cap, rim, handle, ...), each
    one closed (watertight) and coloured separately; parts may touch or slightly overlap,
    so the concatenated :attr:`ObjectInstance.mesh` is watertight edge-wise but its volume
    can exceed the true solid volume by the overlaps (a few percent at most). Hollow
    objects (mug, bowl, cup, drawer tray, box with lid) are closed thin-walled solids.

Articulation
    ``drawer`` (a small cabinet with a sliding drawer, prismatic joint) and ``lidded_box``
    (a box with a hinged lid, revolute joint) carry a :class:`JointSpec` and mark the
    moving parts; :meth:`ObjectInstance.mesh_at` poses them at a joint value.

Seen / unseen split (paper: 80/20 by object instance)
    :data:`UNSEEN_TYPES` (``lemon`` and ``coffee_can``) never occur in the seen split: a
    fruit and a can, so the held-out nouns have seen siblings of the same category and
    shape class, which is what open-vocabulary generalisation is about. Of all other
    types, an instance is unseen when a stable hash (BLAKE2b) of ``(type, seed)`` falls
    below :data:`UNSEEN_INSTANCE_FRACTION` (0.14), which makes about 20 % of instances
    unseen overall when types are drawn uniformly. :func:`split_of` is the one rule.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import trimesh

from unihm_core.errors import ConfigError, InputError

Split = Literal["seen", "unseen"]
ShapeClass = Literal["box", "cylinder", "sphere", "other"]
GraspType = Literal["power", "pinch", "tripod", "lateral"]

UNSEEN_TYPES: tuple[str, ...] = ("lemon", "coffee_can")
UNSEEN_INSTANCE_FRACTION = 0.14

#: Named colours used for language: name -> reference RGB in [0, 1] (sRGB).
COLOUR_RGB: dict[str, tuple[float, float, float]] = {
    "red": (0.78, 0.10, 0.10),
    "orange": (0.95, 0.50, 0.08),
    "yellow": (0.95, 0.82, 0.12),
    "green": (0.15, 0.60, 0.20),
    "light green": (0.55, 0.80, 0.25),
    "blue": (0.12, 0.30, 0.80),
    "light blue": (0.45, 0.70, 0.92),
    "purple": (0.45, 0.20, 0.65),
    "pink": (0.95, 0.45, 0.65),
    "white": (0.92, 0.92, 0.90),
    "black": (0.06, 0.06, 0.07),
    "grey": (0.50, 0.50, 0.52),
    "brown": (0.45, 0.28, 0.13),
    "beige": (0.85, 0.75, 0.55),
    "natural wood": (0.76, 0.60, 0.40),
}

#: Render properties per material word: (roughness, metallic, specular).
MATERIAL_RENDER: dict[str, tuple[float, float, float]] = {
    "cardboard": (0.9, 0.0, 0.2),
    "metal": (0.35, 0.3, 0.6),
    "plastic": (0.4, 0.0, 0.5),
    "ceramic": (0.2, 0.0, 0.6),
    "glass": (0.1, 0.0, 0.8),
    "wood": (0.8, 0.0, 0.2),
    "felt": (1.0, 0.0, 0.1),
    "fruit skin": (0.45, 0.0, 0.4),
    "foam": (1.0, 0.0, 0.1),
    "rubber": (0.8, 0.0, 0.2),
}

_METAL_RGB = (0.72, 0.72, 0.74)


@dataclass(frozen=True)
class JointSpec:
    """One joint of an articulated object, in the object frame.

    Attributes:
        kind: ``"prismatic"`` (value in [m]) or ``"revolute"`` (value in [rad]).
        axis: (3,) unit axis; positive values open (drawer slides out, lid lifts).
        origin: (3,) a point on the axis [m] (the hinge line for revolute joints).
        lower, upper: joint limits; ``lower`` is the closed state.
    """

    kind: Literal["prismatic", "revolute"]
    axis: tuple[float, float, float]
    origin: tuple[float, float, float]
    lower: float
    upper: float

    def __post_init__(self) -> None:
        if self.kind not in ("prismatic", "revolute"):
            raise ConfigError(f"joint kind must be 'prismatic' or 'revolute', got {self.kind!r}")
        if not abs(float(np.linalg.norm(self.axis)) - 1.0) < 1e-6:
            raise ConfigError(f"joint axis must be a unit vector, got {self.axis}")
        if not self.lower < self.upper:
            raise ConfigError(f"joint limits need lower < upper, got [{self.lower}, {self.upper}]")

    def transform(self, value: float) -> np.ndarray:
        """(4, 4) transform applied to the moving part at joint ``value``."""
        if not self.lower - 1e-9 <= value <= self.upper + 1e-9:
            raise InputError(
                f"joint value {value:.4f} outside [{self.lower:.4f}, {self.upper:.4f}]; clip it to the limits"
            )
        axis = np.asarray(self.axis, dtype=float)
        if self.kind == "prismatic":
            t = np.eye(4)
            t[:3, 3] = axis * value
            return t
        return trimesh.transformations.rotation_matrix(value, axis, point=np.asarray(self.origin, dtype=float))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "axis": list(self.axis), "origin": list(self.origin),
                "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True, eq=False)
class ObjectPart:
    """A closed mesh with one colour.

    Attributes:
        name: part name ("body", "cap", "handle", "drawer", "lid", ...).
        mesh: watertight trimesh in the object frame [m].
        rgb: (3,) sRGB colour in [0, 1].
        material: material word, a key of :data:`MATERIAL_RENDER`.
        moving: True for parts attached to the object's joint.
    """

    name: str
    mesh: trimesh.Trimesh
    rgb: tuple[float, float, float]
    material: str
    moving: bool = False


@dataclass(frozen=True)
class ObjectSpec:
    """One object type of the registry (static facts; sizes and colours are sampled).

    Attributes:
        type_name: registry key, e.g. ``"cracker_box"``.
        category: coarse category (box, can, bottle, mug, cup, bowl, plate, ball, fruit,
            banana, block, sponge, marker, drawer, lidded_box).
        nouns: noun phrases for language; the first is the canonical name, the others are
            synonyms ("cracker box", "box of crackers", ...).
        shape_class: primitive class for perception (box / cylinder / sphere / other).
        grasp_type: grasp-type hint for motion synthesis (power, pinch, tripod, lateral).
        is_receptacle: things can be put into / onto it (bowl, plate, open drawer or box).
        colours: colour names (keys of :data:`COLOUR_RGB`) instances may take.
        materials: material words instances may take.
        articulated: None, ``"prismatic"`` or ``"revolute"``.
        label: display name for people ("Spam tin", "power drill"); see :data:`TYPE_TEXT`.
        description: one sentence on what the object is and looks like, for matching
            free-form nouns by sentence embedding (:mod:`unihm_core.perception.categories`).
        build: ``build(rng, rgb, material) -> (parts, joint)``; private geometry builder.
    """

    type_name: str
    category: str
    nouns: tuple[str, ...]
    shape_class: ShapeClass
    grasp_type: GraspType
    is_receptacle: bool
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    articulated: Literal["prismatic", "revolute"] | None = None
    label: str = ""
    description: str = ""
    build: Callable[..., tuple[list[ObjectPart], JointSpec | None]] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.nouns:
            raise ConfigError(f"object type {self.type_name!r} needs at least one noun")
        if not self.label or not self.description:
            raise ConfigError(f"object type {self.type_name!r} needs a label and a description")
        unknown = [c for c in self.colours if c not in COLOUR_RGB]
        if unknown:
            raise ConfigError(f"object type {self.type_name!r} uses unknown colours {unknown}")
        unknown = [m for m in self.materials if m not in MATERIAL_RENDER]
        if unknown:
            raise ConfigError(f"object type {self.type_name!r} uses unknown materials {unknown}")


@dataclass(frozen=True, eq=False)
class ObjectInstance:
    """A sampled object: geometry and metadata, a pure function of (type, seed).

    Attributes:
        instance_id: ``"<type_name>-<seed as 12 hex digits>"``.
        instance_seed: the integer seed that built it.
        spec: the type's :class:`ObjectSpec` (category, nouns, grasp hint, ...).
        colour_name: name of the main colour (a key of :data:`COLOUR_RGB`).
        rgb: (3,) sRGB of the main colour in [0, 1].
        material: material word of the main part.
        size: (3,) axis-aligned extents of the closed object [m].
        parts: coloured closed meshes; see :class:`ObjectPart`.
        joint: the joint of articulated objects, else None.
        split: ``"seen"`` or ``"unseen"`` (see :func:`split_of`).
    """

    instance_id: str
    instance_seed: int
    spec: ObjectSpec
    colour_name: str
    rgb: tuple[float, float, float]
    material: str
    size: tuple[float, float, float]
    parts: tuple[ObjectPart, ...]
    joint: JointSpec | None
    split: Split

    @property
    def type_name(self) -> str:
        return self.spec.type_name

    @property
    def category(self) -> str:
        return self.spec.category

    @property
    def nouns(self) -> tuple[str, ...]:
        return self.spec.nouns

    @property
    def name(self) -> str:
        """Canonical noun ("cracker box")."""
        return self.spec.nouns[0]

    @property
    def mesh(self) -> trimesh.Trimesh:
        """All parts concatenated, joint closed."""
        return _concat([p.mesh for p in self.parts])

    @property
    def static_mesh(self) -> trimesh.Trimesh:
        """Parts that do not move with the joint (the whole object when not articulated)."""
        return _concat([p.mesh for p in self.parts if not p.moving])

    @property
    def moving_mesh(self) -> trimesh.Trimesh | None:
        """Parts attached to the joint (drawer, lid), closed; None when not articulated."""
        moving = [p.mesh for p in self.parts if p.moving]
        return _concat(moving) if moving else None

    def part_transforms(self, joint_value: float | None = None) -> list[np.ndarray]:
        """(4, 4) transform of every part at ``joint_value`` (identity for static parts)."""
        if self.joint is None or joint_value is None:
            return [np.eye(4) for _ in self.parts]
        t = self.joint.transform(joint_value)
        return [t if p.moving else np.eye(4) for p in self.parts]

    def mesh_at(self, joint_value: float | None = None) -> trimesh.Trimesh:
        """All parts with the moving ones posed at ``joint_value`` ([m] or [rad])."""
        meshes = []
        for p, t in zip(self.parts, self.part_transforms(joint_value)):
            m = p.mesh.copy()
            m.apply_transform(t)
            meshes.append(m)
        return _concat(meshes)

    def footprint(self, joint_value: float | None = None) -> np.ndarray:
        """(K, 2) convex hull of the object's projection on the table, counter-clockwise [m]."""
        from scipy.spatial import ConvexHull  # noqa: PLC0415

        xy = self.mesh_at(joint_value).vertices[:, :2]
        hull = ConvexHull(xy)
        return xy[hull.vertices]

    def to_dict(self) -> dict:
        """JSON-ready metadata (no mesh)."""
        return {
            "instance_id": self.instance_id,
            "instance_seed": self.instance_seed,
            "type_name": self.type_name,
            "category": self.category,
            "nouns": list(self.nouns),
            "colour_name": self.colour_name,
            "rgb": [round(c, 4) for c in self.rgb],
            "material": self.material,
            "size_m": [round(s, 5) for s in self.size],
            "shape_class": self.spec.shape_class,
            "grasp_type": self.spec.grasp_type,
            "is_receptacle": self.spec.is_receptacle,
            "joint": None if self.joint is None else self.joint.to_dict(),
            "label": self.spec.label,
            "split": self.split,
        }


# --------------------------------------------------------------------------------------
# geometry helpers (all return closed meshes)
# --------------------------------------------------------------------------------------

_SECTIONS = 40


def _concat(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    return trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0].copy()


def _revolve(profile: list[tuple[float, float]] | np.ndarray, sections: int = _SECTIONS) -> trimesh.Trimesh:
    """Solid of revolution about z of a (r, z) profile that starts and ends on the axis.

    The profile runs from the bottom of the axis outwards, up, and back to the axis, i.e.
    counter-clockwise in the (r, z) half-plane, which gives outward normals.
    """
    prof = np.asarray(profile, dtype=float)
    if prof[0, 0] != 0.0 or prof[-1, 0] != 0.0:
        raise ValueError("revolve profile must start and end on the axis (r = 0)")
    return trimesh.creation.revolve(prof, sections=sections)


def _box(extents, centre) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=np.asarray(extents, dtype=float))
    m.apply_translation(np.asarray(centre, dtype=float))
    return m


def _cylinder_z(radius: float, z0: float, z1: float, sections: int = _SECTIONS) -> trimesh.Trimesh:
    return _revolve([(0.0, z0), (radius, z0), (radius, z1), (0.0, z1)], sections)


def _tube(path: np.ndarray, radii: np.ndarray, sections: int = 20,
          radial: Callable[[np.ndarray], np.ndarray] | None = None) -> trimesh.Trimesh:
    """Closed tube swept along ``path`` (N, 3) with radii (N,), flat end caps.

    ``radial(theta)`` optionally modulates the cross-section (1 = circle).
    Frames are propagated by parallel transport so the tube does not twist.
    """
    path = np.asarray(path, dtype=float)
    n = len(path)
    tang = np.gradient(path, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tang[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.cross(tang[0], ref)
    normal /= np.linalg.norm(normal)
    theta = np.linspace(0.0, 2 * np.pi, sections, endpoint=False)
    scale = np.ones(sections) if radial is None else radial(theta)
    verts = []
    for i in range(n):
        if i > 0:  # parallel transport of the normal
            normal = normal - tang[i] * np.dot(normal, tang[i])
            normal /= np.linalg.norm(normal)
        binormal = np.cross(tang[i], normal)
        ring = path[i] + radii[i] * scale[:, None] * (np.cos(theta)[:, None] * normal + np.sin(theta)[:, None] * binormal)
        verts.append(ring)
    verts = np.concatenate(verts + [path[:1], path[-1:]], axis=0)
    faces = []
    for i in range(n - 1):
        a, b = i * sections, (i + 1) * sections
        for j in range(sections):
            k = (j + 1) % sections
            faces.append([a + j, a + k, b + k])
            faces.append([a + j, b + k, b + j])
    c0, c1 = n * sections, n * sections + 1
    last = (n - 1) * sections
    for j in range(sections):
        k = (j + 1) % sections
        faces.append([c0, k, j])
        faces.append([c1, last + j, last + k])
    mesh = trimesh.Trimesh(verts, np.asarray(faces), process=True)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def _jitter_rgb(rng: np.random.Generator, rgb, hue: float = 0.02, sat: float = 0.08, val: float = 0.08):
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = (h + rng.uniform(-hue, hue)) % 1.0
    s = float(np.clip(s + rng.uniform(-sat, sat), 0.0, 1.0))
    v = float(np.clip(v * (1.0 + rng.uniform(-val, val)), 0.0, 1.0))
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _accent(rng: np.random.Generator, avoid: tuple[float, float, float]) -> tuple[float, float, float]:
    """A contrasting colour for caps and trims."""
    choices = [c for c in ("white", "red", "blue", "black", "yellow", "green") if
               np.linalg.norm(np.subtract(COLOUR_RGB[c], avoid)) > 0.4]
    return _jitter_rgb(rng, COLOUR_RGB[choices[int(rng.integers(len(choices)))]])


def _part(name, mesh, rgb, material, moving=False) -> ObjectPart:
    return ObjectPart(name=name, mesh=mesh, rgb=tuple(float(c) for c in rgb), material=material, moving=moving)


# --------------------------------------------------------------------------------------
# builders: build(rng, rgb, material) -> (parts, joint)
# --------------------------------------------------------------------------------------


def _box_builder(w: tuple[float, float], d: tuple[float, float], h: tuple[float, float]):
    def build(rng, rgb, material):
        ext = (rng.uniform(*w), rng.uniform(*d), rng.uniform(*h))
        body = _box(ext, (0, 0, ext[2] / 2))
        # a thin printed band on the front face, as on cereal and sugar boxes
        band_h = ext[2] * rng.uniform(0.2, 0.35)
        band = _box((ext[0] * 0.9, 0.002, band_h), (0, -ext[1] / 2 - 0.0005, ext[2] * rng.uniform(0.3, 0.6)))
        return [_part("body", body, rgb, material), _part("label", band, _accent(rng, rgb), material)], None
    return build


def _can_builder(r: tuple[float, float], h: tuple[float, float], rim_frac: float = 0.06):
    def build(rng, rgb, material):
        rad, hei = rng.uniform(*r), rng.uniform(*h)
        rim = max(0.003, rim_frac * hei)
        label = _cylinder_z(rad, rim, hei - rim)
        bottom = _revolve([(0, 0), (rad * 0.97, 0), (rad, rim), (0, rim)])
        top = _revolve([(0, hei - rim), (rad, hei - rim), (rad * 0.98, hei), (0, hei)])
        metal = _jitter_rgb(rng, _METAL_RGB, sat=0.02)
        return [_part("label", label, rgb, material), _part("bottom_rim", bottom, metal, "metal"),
                _part("top_rim", top, metal, "metal")], None
    return build


def _build_spray_can(rng, rgb, material):
    rad, hei = rng.uniform(0.026, 0.034), rng.uniform(0.15, 0.20)
    body = _cylinder_z(rad, 0.0, hei)
    dome = _revolve([(0, hei), (rad, hei), (rad * 0.75, hei + 0.25 * rad), (rad * 0.35, hei + 0.32 * rad), (0, hei + 0.32 * rad)])
    top = hei + 0.32 * rad
    cap = _cylinder_z(rad * 0.3, top, top + rng.uniform(0.012, 0.02))
    return [_part("body", body, rgb, material), _part("shoulder", dome, _jitter_rgb(rng, _METAL_RGB), "metal"),
            _part("nozzle", cap, _accent(rng, rgb), "plastic")], None


def _bottle_builder(r, h, neck_frac, flatten: tuple[float, float] = (1.0, 1.0)):
    def build(rng, rgb, material):
        rad, hei = rng.uniform(*r), rng.uniform(*h)
        neck_r = rad * rng.uniform(*neck_frac)
        shoulder = hei * rng.uniform(0.62, 0.75)
        neck_top = hei * 0.9
        prof = [(0, 0), (rad * 0.95, 0), (rad, 0.01), (rad, shoulder)]
        for s in np.linspace(0.2, 1.0, 5):  # rounded shoulder
            prof.append((neck_r + (rad - neck_r) * np.cos(s * np.pi / 2), shoulder + (neck_top - shoulder) * 0.8 * np.sin(s * np.pi / 2)))
        prof += [(neck_r, neck_top), (0, neck_top)]
        body = _revolve(prof)
        cap = _cylinder_z(neck_r * 1.15, neck_top, hei)
        sy = rng.uniform(*flatten)  # oval cross-section (mustard, bleach)
        if sy != 1.0:
            body.vertices[:, 1] *= sy
            cap.vertices[:, 1] *= sy
        return [_part("body", body, rgb, material), _part("cap", cap, _accent(rng, rgb), "plastic")], None
    return build


def _bowl_profile(r_top: float, r_foot: float, height: float, wall: float, curve: float = 0.6):
    """(r, z) profile of a rounded open vessel, outside then inside, closed on the axis."""
    s = np.linspace(0.0, 1.0, 9)
    outer_r = r_foot + (r_top - r_foot) * s ** curve
    outer_z = height * s
    inner_r = np.maximum(outer_r[::-1] - wall, 0.0)
    inner_z = np.maximum(outer_z[::-1], wall)
    prof = [(0.0, 0.0)] + list(zip(outer_r, outer_z)) + list(zip(inner_r, inner_z))[1:]
    prof.append((0.0, wall))
    return prof


def _build_bowl(rng, rgb, material):
    r_top, h = rng.uniform(0.07, 0.095), rng.uniform(0.045, 0.065)
    body = _revolve(_bowl_profile(r_top, r_top * rng.uniform(0.42, 0.55), h, 0.004, curve=0.5))
    return [_part("body", body, rgb, material)], None


def _build_plate(rng, rgb, material):
    r, h, t = rng.uniform(0.095, 0.13), rng.uniform(0.016, 0.024), 0.004
    flat = r * rng.uniform(0.6, 0.7)
    prof = [(0, 0), (flat * 0.8, 0), (flat * 0.8, 0.003), (flat, 0.003), (r, h), (r - t, h),
            (flat - t * 0.5, 0.003 + t), (0, 0.003 + t)]
    return [_part("body", _revolve(prof), rgb, material)], None


def _build_cup(rng, rgb, material):
    r_top, h = rng.uniform(0.036, 0.045), rng.uniform(0.085, 0.11)
    body = _revolve(_bowl_profile(r_top, r_top * rng.uniform(0.7, 0.8), h, 0.0025, curve=1.0))
    return [_part("body", body, rgb, material)], None


def _build_mug(rng, rgb, material):
    r, h, t = rng.uniform(0.038, 0.047), rng.uniform(0.08, 0.105), 0.005
    body = _revolve([(0, 0), (r, 0), (r, h), (r - t, h), (r - t, t), (0, t)])
    # C-shaped handle in the xz-plane on the +x side, ends sunk into the wall
    span = h * rng.uniform(0.55, 0.7)
    zc = h * 0.52
    reach = rng.uniform(0.025, 0.035)
    a = np.linspace(-np.pi / 2, np.pi / 2, 24)
    path = np.stack([r - 0.004 + reach * np.cos(a), np.zeros_like(a), zc + span / 2 * np.sin(a)], axis=1)
    handle = _tube(path, np.full(len(a), rng.uniform(0.0055, 0.0075)), sections=14,
                   radial=lambda th: 1.0 / np.sqrt((np.cos(th) / 1.0) ** 2 + (np.sin(th) / 0.6) ** 2) * 0.8)
    return [_part("body", body, rgb, material), _part("handle", handle, rgb, material)], None


def _build_tennis_ball(rng, rgb, material):
    r = rng.uniform(0.032, 0.0345)
    m = trimesh.creation.icosphere(subdivisions=3, radius=r)
    m.apply_translation([0, 0, r])
    return [_part("body", m, rgb, material)], None


def _fruit_profile(r: float, h: float, top_dimple: float, bottom_dimple: float, n: int = 24):
    """(r, z) profile of a roundish fruit of max radius r and height h with dimples."""
    t = np.linspace(0.0, np.pi, n)
    rr = r * np.sin(t)
    zz = h / 2 * (1 - np.cos(t))
    zz = zz + bottom_dimple * np.exp(-(t / 0.35) ** 2) - top_dimple * np.exp(-((np.pi - t) / 0.35) ** 2)
    rr[0], rr[-1] = 0.0, 0.0
    return list(zip(rr, zz))


def _build_apple(rng, rgb, material):
    r = rng.uniform(0.036, 0.044)
    h = r * rng.uniform(1.6, 1.85)
    body = _revolve(_fruit_profile(r, h, 0.16 * h, 0.06 * h))
    top = float(body.vertices[:, 2].max())
    stem = _cylinder_z(0.0022, top - 0.15 * h, top + rng.uniform(0.008, 0.014), sections=8)
    return [_part("body", body, rgb, material), _part("stem", stem, COLOUR_RGB["brown"], "wood")], None


def _build_orange(rng, rgb, material):
    r = rng.uniform(0.036, 0.043)
    body = _revolve(_fruit_profile(r, 2 * r * rng.uniform(0.92, 0.98), 0.003, 0.002))
    body.apply_translation([0, 0, -body.vertices[:, 2].min()])
    return [_part("body", body, rgb, material)], None


def _build_lemon(rng, rgb, material):
    r = rng.uniform(0.026, 0.031)
    length = r * rng.uniform(2.4, 2.8)
    t = np.linspace(0.0, np.pi, 26)
    rr = r * np.sin(t) ** 0.8
    zz = length / 2 * (1 - np.cos(t))
    # pointed tips
    rr[0] = rr[-1] = 0.0
    body = _revolve(list(zip(rr, zz)))
    body.apply_translation([0, 0, -length / 2])
    body.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))  # long axis along x
    body.apply_translation([0, 0, -body.vertices[:, 2].min()])
    return [_part("body", body, rgb, material)], None


def _build_banana(rng, rgb, material):
    length = rng.uniform(0.17, 0.21)
    bend = rng.uniform(0.35, 0.55)  # curvature angle half-span [rad]
    radius_of_curve = length / (2 * bend)
    a = np.linspace(-bend, bend, 30)
    # curve in the table plane (the banana lies on its side), tips lifted slightly
    x = radius_of_curve * np.sin(a)
    y = radius_of_curve * (1 - np.cos(a)) - radius_of_curve * (1 - np.cos(bend)) / 2
    u = a / bend
    r_max = rng.uniform(0.016, 0.019)
    radii = r_max * np.clip(1 - u ** 6, 0.12, None) ** 0.5
    radii[-4:] = np.maximum(radii[-4:], 0.0045)  # stem end stays thick
    z = r_max + 0.012 * u ** 2
    path = np.stack([x, y, z], axis=1)
    body = _tube(path, radii, sections=20, radial=lambda th: 1.0 + 0.05 * np.cos(5 * th))
    body.apply_translation([0, 0, -body.vertices[:, 2].min()])
    return [_part("body", body, rgb, material)], None


def _build_wooden_block(rng, rgb, material):
    ext = np.sort(rng.uniform(0.03, 0.09, size=3))[::-1]
    ext = (ext[0], ext[1], ext[2]) if rng.random() < 0.5 else (ext[1], ext[2], ext[0])
    return [_part("body", _box(ext, (0, 0, ext[2] / 2)), rgb, material)], None


def _build_toy_cube(rng, rgb, material):
    s = rng.uniform(0.035, 0.055)
    return [_part("body", _box((s, s, s), (0, 0, s / 2)), rgb, material)], None


def _build_sponge(rng, rgb, material):
    w, d, h = rng.uniform(0.085, 0.11), rng.uniform(0.06, 0.075), rng.uniform(0.028, 0.04)
    scrub = h * 0.25
    return [_part("foam", _box((w, d, h - scrub), (0, 0, (h - scrub) / 2)), rgb, material),
            _part("scrub", _box((w, d, scrub), (0, 0, h - scrub / 2)), _jitter_rgb(rng, COLOUR_RGB["green"]), material)], None


def _build_marker(rng, rgb, material):
    r, length = rng.uniform(0.0075, 0.0095), rng.uniform(0.12, 0.14)
    cap_len = length * 0.3
    barrel = _cylinder_z(r, 0.0, length - cap_len, sections=20)
    cap = _revolve([(0, length - cap_len), (r * 1.08, length - cap_len), (r * 1.08, length - r * 0.5),
                    (r * 0.6, length), (0, length)], sections=20)
    back = _cylinder_z(r * 0.9, -0.006, 0.0, sections=20)
    parts = []
    for name, m, c, mat in (("barrel", barrel, COLOUR_RGB["white"], "plastic"), ("cap", cap, rgb, material),
                            ("end", back, rgb, material)):
        m.apply_translation([0, 0, -length / 2])
        m.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))  # lying along x
        m.apply_translation([0, 0, r * 1.08])
        parts.append(_part(name, m, c, mat))
    return parts, None


def _rotz(mesh: trimesh.Trimesh, angle: float, about=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    mesh.apply_transform(trimesh.transformations.rotation_matrix(angle, [0, 0, 1], point=np.asarray(about, float)))
    return mesh


def _cylinder_x(radius: float, x0: float, x1: float, z: float, sections: int = 24) -> trimesh.Trimesh:
    """Closed cylinder along x from ``x0`` to ``x1`` with its axis at height ``z`` [m]."""
    m = _cylinder_z(radius, x0, x1, sections)
    m.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))  # z -> +x
    m.apply_translation([0.0, 0.0, z])
    return m


def _rounded_prism(w: float, d: float, z0: float, z1: float, power: float = 5.0) -> trimesh.Trimesh:
    """Upright prism z0..z1 with a rounded-rectangle (superellipse) cross-section w x d [m]."""
    def radial(theta):  # the tube's ring runs cos along y, sin along -x
        return (np.abs(np.cos(theta) / (d / 2)) ** power + np.abs(np.sin(theta) / (w / 2)) ** power) ** (-1 / power)
    path = np.array([[0.0, 0.0, z0], [0.0, 0.0, z1]])
    return _tube(path, np.ones(2), sections=48, radial=radial)


def _build_gelatin_box(rng, rgb, material):
    # YCB 009 gelatin box 8.9 x 7.3 x 2.8 cm, standing on a long narrow side
    return _box_builder((0.083, 0.095), (0.025, 0.031), (0.068, 0.078))(rng, rgb, material)


def _build_potted_meat_can(rng, rgb, material):
    # YCB 010 potted meat can (Spam tin) 10.2 x 5.1 x 8.4 cm, rounded-rectangular, key-opened lid
    w, d, h = rng.uniform(0.095, 0.105), rng.uniform(0.047, 0.054), rng.uniform(0.078, 0.088)
    body = _rounded_prism(w, d, 0.0, h * 0.9)
    lid = _rounded_prism(w + 0.002, d + 0.002, h * 0.88, h)
    band = _rounded_prism(w + 0.001, d + 0.001, h * 0.25, h * rng.uniform(0.45, 0.6))
    metal = _jitter_rgb(rng, _METAL_RGB, sat=0.02)
    return [_part("body", body, rgb, material), _part("lid", lid, metal, "metal"),
            _part("label", band, _accent(rng, rgb), material)], None


def _build_pitcher(rng, rgb, material):
    # YCB 019 pitcher base: about 14 cm across the handle, 24 cm tall, open at the top
    r, h = rng.uniform(0.052, 0.062), rng.uniform(0.20, 0.24)
    body = _revolve(_bowl_profile(r * rng.uniform(0.82, 0.9), r, h, 0.004, curve=1.0))
    r_top = float(np.max(body.vertices[body.vertices[:, 2] > h - 1e-6, 0]))
    spout = _box((0.03, 0.035, 0.025), (-r_top - 0.008, 0.0, h - 0.0125))
    span, zc, reach = h * rng.uniform(0.5, 0.6), h * 0.55, rng.uniform(0.035, 0.045)
    a = np.linspace(-np.pi / 2, np.pi / 2, 24)
    x_wall = r - 0.006
    path = np.stack([x_wall + reach * np.cos(a), np.zeros_like(a), zc + span / 2 * np.sin(a)], axis=1)
    handle = _tube(path, np.full(len(a), rng.uniform(0.008, 0.01)), sections=14)
    return [_part("body", body, rgb, material), _part("spout", spout, rgb, material),
            _part("handle", handle, rgb, material)], None


def _build_foam_brick(rng, rgb, material):
    # YCB 061 foam brick 5 x 7.5 x 5 cm
    ext = (rng.uniform(0.072, 0.078), rng.uniform(0.047, 0.052), rng.uniform(0.047, 0.052))
    return [_part("body", _box(ext, (0, 0, ext[2] / 2)), rgb, material)], None


def _build_power_drill(rng, rgb, material):
    # YCB 035 power drill 18.4 x 5.7 x 23 cm, standing on its battery pack, bit along +x
    bw, bd, bh = rng.uniform(0.075, 0.085), rng.uniform(0.095, 0.11), rng.uniform(0.04, 0.05)
    grip_h = rng.uniform(0.10, 0.12)
    barrel_r = rng.uniform(0.028, 0.033)
    zb = bh + grip_h + barrel_r * 0.6
    x1 = rng.uniform(0.09, 0.11)
    black = _jitter_rgb(rng, COLOUR_RGB["black"], sat=0.02)
    battery = _box((bw, bd, bh), (0.0, 0.0, bh / 2))
    grip = _box((0.036, 0.045, grip_h + 0.01), (0.0, 0.0, bh + grip_h / 2))
    barrel = _cylinder_x(barrel_r, -0.045, x1, zb)
    chuck = _cylinder_x(barrel_r * 0.5, x1 - 0.002, x1 + 0.035, zb, sections=16)
    bit = _cylinder_x(0.003, x1 + 0.033, x1 + 0.07, zb, sections=10)
    return [_part("battery", battery, black, "plastic"), _part("grip", grip, black, "rubber"),
            _part("body", barrel, rgb, material), _part("chuck", chuck, black, "metal"),
            _part("bit", bit, _jitter_rgb(rng, _METAL_RGB), "metal")], None


def _build_scissors(rng, rgb, material):
    # YCB 037 scissors, about 20 x 8.7 x 1.6 cm, lying closed on the table; blades along +x
    blade_len, ring_r = rng.uniform(0.09, 0.11), rng.uniform(0.016, 0.02)
    tube_r = 0.0045
    metal = _jitter_rgb(rng, _METAL_RGB)
    parts = []
    for k, sy in enumerate((-1.0, 1.0)):
        blade = _box((blade_len, 0.011, 0.003), (blade_len / 2 - 0.005, 0.0, 0.0055 + 0.003 * k))
        _rotz(blade, sy * 0.05)
        parts.append(_part(f"blade_{k}", blade, metal, "metal"))
        ring = trimesh.creation.torus(ring_r, tube_r, major_sections=24, minor_sections=10)
        ring.apply_translation([-0.012 - ring_r, sy * (ring_r + 0.002), tube_r])
        arm = _box((0.03, 0.008, 2 * tube_r), (-0.012, sy * 0.006, tube_r))
        parts += [_part(f"ring_{k}", ring, rgb, material), _part(f"arm_{k}", arm, rgb, material)]
    pivot = _cylinder_z(0.005, 0.002, 0.0115, sections=12)
    parts.append(_part("pivot", pivot, metal, "metal"))
    return parts, None


def _build_clamp(rng, rgb, material):
    # YCB 050/051 spring clamps (about 9 x 16 x 3.5 cm), lying on the table: two arms that
    # meet at the jaw pads (+x) and open towards the handles (-x), a spring in between
    length, t = rng.uniform(0.13, 0.17), rng.uniform(0.018, 0.024)
    spread = rng.uniform(0.1, 0.16)  # half-angle between the two arms [rad]
    x_front = length / 2
    pad_rgb = _jitter_rgb(rng, COLOUR_RGB["black"], sat=0.02)
    parts = []
    for k, sy in enumerate((-1.0, 1.0)):
        arm = _box((length, 0.018, t), (0.0, 0.0, t / 2))
        _rotz(arm, sy * spread, about=(x_front - 0.01, 0.0, 0.0))
        pad = _box((0.022, 0.012, t + 0.002), (x_front - 0.005, sy * 0.007, t / 2 + 0.001))
        parts += [_part(f"arm_{k}", arm, rgb, material), _part(f"pad_{k}", pad, pad_rgb, "rubber")]
    spring = _cylinder_z(0.011, 0.0, t + 0.004, sections=16)
    spring.apply_translation([x_front - 0.45 * length, 0.0, 0.0])
    parts.append(_part("spring", spring, _jitter_rgb(rng, _METAL_RGB), "metal"))
    return parts, None

def _open_box(w: float, d: float, h: float, t: float, open_side: str, z0: float = 0.0, y0: float = 0.0):
    """Thin-walled box (outer extents w, d, h) with one open side: 'top' or 'front' (-y)."""
    parts = []
    if open_side == "top":
        parts.append(_box((w, d, t), (0, y0, z0 + t / 2)))                      # bottom
        parts.append(_box((w, t, h - t), (0, y0 - d / 2 + t / 2, z0 + t + (h - t) / 2)))  # front
        parts.append(_box((w, t, h - t), (0, y0 + d / 2 - t / 2, z0 + t + (h - t) / 2)))  # back
        for sx in (-1, 1):
            parts.append(_box((t, d - 2 * t, h - t), (sx * (w / 2 - t / 2), y0, z0 + t + (h - t) / 2)))
    else:  # open at the front (-y)
        parts.append(_box((w, d, t), (0, y0, z0 + t / 2)))                      # bottom
        parts.append(_box((w, d, t), (0, y0, z0 + h - t / 2)))                  # top
        parts.append(_box((w, t, h - 2 * t), (0, y0 + d / 2 - t / 2, z0 + h / 2)))  # back
        for sx in (-1, 1):
            parts.append(_box((t, d - t, h - 2 * t), (sx * (w / 2 - t / 2), y0 - t / 2, z0 + h / 2)))
    return _concat(parts)


def _build_drawer(rng, rgb, material):
    w, d, h = rng.uniform(0.22, 0.30), rng.uniform(0.22, 0.28), rng.uniform(0.11, 0.15)
    t = 0.008
    cabinet = _open_box(w, d, h, t, "front")
    gap = 0.002
    dw, dd, dh = w - 2 * t - 2 * gap, d - t - 0.004, h - 2 * t - 2 * gap
    tray = _open_box(dw, dd - t, dh, 0.006, "top", z0=t + gap, y0=t / 2)
    front = _box((w - 0.004, t, dh + 2 * gap + t), (0, -d / 2 + t / 2 - 0.0, t + gap + dh / 2))
    front.vertices[:, 1] -= 0.0005  # flush with the cabinet front
    handle_w = min(0.08, dw * 0.45)
    handle = _box((handle_w, 0.014, 0.012), (0, -d / 2 - 0.007, t + gap + dh / 2))
    joint = JointSpec("prismatic", (0.0, -1.0, 0.0), (0.0, -d / 2, t + gap + dh / 2), 0.0, round(dd * 0.8, 4))
    handle_rgb = _jitter_rgb(rng, _METAL_RGB)
    return [_part("cabinet", cabinet, rgb, material),
            _part("drawer", tray, rgb, material, moving=True),
            _part("drawer_front", front, _jitter_rgb(rng, rgb, val=0.15), material, moving=True),
            _part("handle", handle, handle_rgb, "metal", moving=True)], joint


def _build_lidded_box(rng, rgb, material):
    w, d, h = rng.uniform(0.14, 0.22), rng.uniform(0.10, 0.15), rng.uniform(0.06, 0.10)
    t, lid_t = 0.005, 0.008
    body = _open_box(w, d, h, t, "top")
    lid = _box((w + 0.004, d + 0.004, lid_t), (0, 0, h + lid_t / 2))
    knob = _box((0.03, 0.012, 0.008), (0, -d / 2 - 0.006, h + lid_t / 2))
    joint = JointSpec("revolute", (-1.0, 0.0, 0.0), (0.0, d / 2 + 0.002, h), 0.0, 1.9)
    lid_rgb = _jitter_rgb(rng, rgb, val=0.12)
    return [_part("body", body, rgb, material), _part("lid", lid, lid_rgb, material, moving=True),
            _part("tab", knob, lid_rgb, material, moving=True)], joint


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------


#: type name -> (label, description). The description says what the thing is and how it
#: looks, in words people use, so that a noun no list holds ("tangerine", "cordless
#: screwdriver") can be matched to the nearest type by sentence embedding.
TYPE_TEXT: dict[str, tuple[str, str]] = {
    "cracker_box": ("cracker box", "a tall flat cardboard box of crackers or cereal, printed in bright colours"),
    "sugar_box": ("sugar box", "a tall narrow cardboard box of sugar, mostly white or yellow"),
    "pudding_box": ("pudding box", "a small flat cardboard box of pudding or dessert mix"),
    "gelatin_box": ("Jell-O box", "a small flat cardboard box of gelatin dessert (Jell-O), usually red"),
    "soup_can": ("soup can", "a metal tin can of tomato soup, a red and white cylinder"),
    "tuna_can": ("tuna can", "a short flat round metal can of tuna fish"),
    "coffee_can": ("coffee can", "a large metal can of ground coffee, a tall wide cylinder"),
    "potted_meat_can": ("Spam tin", "a rectangular metal tin of canned meat (Spam, luncheon meat) with rounded "
                                    "corners and a blue and yellow label"),
    "spray_can": ("spray can", "an aerosol spray can with a nozzle on top"),
    "mustard_bottle": ("mustard bottle", "a yellow plastic squeeze bottle of mustard, a condiment"),
    "bleach_bottle": ("bleach bottle", "a large white plastic bottle of bleach or cleaning liquid with a handle"),
    "water_bottle": ("water bottle", "a slim plastic bottle of water or a drink"),
    "mug": ("mug", "a ceramic coffee or tea mug with a handle"),
    "cup": ("cup", "a plastic drinking cup without a handle, open at the top"),
    "pitcher": ("pitcher", "a tall plastic pitcher or jug for pouring water, with a handle and a spout"),
    "bowl": ("bowl", "a round open bowl or dish for food, wide and low"),
    "plate": ("plate", "a flat round dinner plate"),
    "tennis_ball": ("tennis ball", "a fuzzy yellow-green tennis ball, a small sphere"),
    "apple": ("apple", "a round red or green apple, a fruit"),
    "orange": ("orange", "a round orange citrus fruit, like a mandarin or tangerine"),
    "lemon": ("lemon", "a yellow oval citrus fruit with pointed ends, a lemon or lime"),
    "banana": ("banana", "a long curved yellow banana, a fruit"),
    "wooden_block": ("wood block", "a rectangular block of wood, a wooden brick"),
    "toy_cube": ("toy cube", "a small coloured toy cube or building block"),
    "foam_brick": ("foam brick", "a soft red foam brick, a small rectangular block of foam"),
    "sponge": ("sponge", "a rectangular kitchen sponge with a green scrubbing side"),
    "marker": ("marker", "a marker pen or felt-tip pen, a thin cylinder lying on the table"),
    "power_drill": ("power drill", "a cordless power drill, a hand tool with a pistol grip, a battery and a bit"),
    "scissors": ("scissors", "a pair of scissors with two metal blades and plastic finger rings"),
    "clamp": ("clamp", "a spring clamp, a hand tool with two arms and jaws for holding things together"),
    "drawer": ("drawer", "a small wooden cabinet with a sliding drawer"),
    "lidded_box": ("box with a lid", "a storage box with a hinged lid that opens"),
}


def _spec(type_name, category, nouns, shape, grasp, receptacle, colours, materials, build, articulated=None):
    label, description = TYPE_TEXT[type_name]
    return ObjectSpec(type_name=type_name, category=category, nouns=tuple(nouns), shape_class=shape,
                      grasp_type=grasp, is_receptacle=receptacle, colours=tuple(colours),
                      materials=tuple(materials), articulated=articulated, label=label, description=description,
                      build=build)


_SPECS = [
    # boxes (YCB 003 cracker box 16 x 6 x 21 cm; 004 sugar box 9 x 4 x 17.5 cm; 008 pudding box)
    _spec("cracker_box", "box", ["cracker box", "box of crackers", "cereal box", "snack box"], "box", "power",
          False, ["red", "blue", "yellow", "orange"], ["cardboard"], _box_builder((0.14, 0.17), (0.055, 0.07), (0.19, 0.23))),
    _spec("sugar_box", "box", ["sugar box", "box of sugar", "sugar packet"], "box", "power", False,
          ["white", "yellow", "blue"], ["cardboard"], _box_builder((0.085, 0.095), (0.035, 0.045), (0.16, 0.18))),
    _spec("pudding_box", "box", ["pudding box", "small box", "dessert box"], "box", "pinch", False,
          ["brown", "pink", "red"], ["cardboard"], _box_builder((0.085, 0.11), (0.03, 0.04), (0.07, 0.09))),
    # 009 gelatin box 8.9 x 7.3 x 2.8 cm
    _spec("gelatin_box", "box", ["gelatin box", "jello box", "box of jello", "jelly box"], "box", "pinch", False,
          ["red", "pink", "purple", "orange"], ["cardboard"], _build_gelatin_box),
    # cans (005 tomato soup d 6.7 h 10.2; 007 tuna d 8.5 h 3.3; 002 coffee d 10.2 h 14)
    _spec("soup_can", "can", ["soup can", "can of soup", "tin can", "tin of soup"], "cylinder", "power", False,
          ["red", "green", "orange", "white"], ["metal"], _can_builder((0.032, 0.035), (0.095, 0.108))),
    _spec("tuna_can", "can", ["tuna can", "can of tuna", "tuna tin", "flat can"], "cylinder", "tripod", False,
          ["blue", "yellow", "white", "grey"], ["metal"], _can_builder((0.040, 0.045), (0.030, 0.040), 0.1)),
    _spec("coffee_can", "can", ["coffee can", "can of coffee", "coffee tin"], "cylinder", "power", False,
          ["blue", "brown", "black", "red"], ["metal"], _can_builder((0.048, 0.053), (0.12, 0.145))),
    # 010 potted meat can (Spam) 10.2 x 5.1 x 8.4 cm: a rounded rectangle, fitted as a box
    _spec("potted_meat_can", "can", ["spam tin", "tin of spam", "potted meat can", "spam can", "luncheon meat tin"],
          "box", "power", False, ["blue", "light blue", "yellow"], ["metal"], _build_potted_meat_can),
    _spec("spray_can", "can", ["spray can", "aerosol can", "spray bottle"], "cylinder", "power", False,
          ["white", "blue", "green", "purple", "black"], ["metal"], _build_spray_can),
    # bottles (006 mustard 9.5 x 5.6 x 19 cm; 021 bleach 10 x 6.5 x 25 cm)
    _spec("mustard_bottle", "bottle", ["mustard bottle", "bottle of mustard", "condiment bottle", "mustard"],
          "cylinder", "power", False, ["yellow"], ["plastic"],
          _bottle_builder((0.045, 0.05), (0.17, 0.20), (0.35, 0.45), (0.58, 0.66))),
    _spec("bleach_bottle", "bottle", ["bleach bottle", "bottle of bleach", "cleanser bottle", "detergent bottle"],
          "cylinder", "power", False, ["white", "light blue", "blue"], ["plastic"],
          _bottle_builder((0.048, 0.055), (0.22, 0.26), (0.3, 0.4), (0.62, 0.72))),
    _spec("water_bottle", "bottle", ["water bottle", "bottle of water", "plastic bottle", "bottle"], "cylinder",
          "power", False, ["light blue", "blue", "green", "white"], ["plastic"],
          _bottle_builder((0.031, 0.036), (0.19, 0.23), (0.4, 0.5))),
    # vessels (025 mug d 8.5 h 8; 024 bowl d 16 h 5.5; 029 plate d 26)
    _spec("mug", "mug", ["mug", "coffee mug", "cup with a handle", "tea mug"], "cylinder", "power", False,
          ["red", "white", "blue", "green", "yellow", "black"], ["ceramic", "plastic"], _build_mug),
    _spec("cup", "cup", ["cup", "plastic cup", "drinking cup", "tumbler"], "cylinder", "power", False,
          ["red", "blue", "green", "yellow", "orange", "purple", "pink"], ["plastic"], _build_cup),
    # 019 pitcher base (about 14 x 24 cm)
    _spec("pitcher", "pitcher", ["pitcher", "jug", "water pitcher", "water jug"], "cylinder", "power", False,
          ["blue", "light blue", "white", "red", "green"], ["plastic"], _build_pitcher),
    _spec("bowl", "bowl", ["bowl", "dish", "soup bowl", "basin"], "other", "lateral", True,
          ["red", "white", "blue", "green", "beige"], ["ceramic", "plastic"], _build_bowl),
    _spec("plate", "plate", ["plate", "dinner plate", "dish plate", "saucer"], "cylinder", "lateral", True,
          ["white", "red", "blue", "beige"], ["ceramic", "plastic"], _build_plate),
    # balls and fruit (056 tennis ball d 6.5; 013 apple d 7.5; 017 orange d 7; 014 lemon 5.5 x 7; 011 banana 19 cm)
    _spec("tennis_ball", "ball", ["tennis ball", "ball", "fuzzy ball"], "sphere", "tripod", False,
          ["light green", "yellow"], ["felt"], _build_tennis_ball),
    _spec("apple", "fruit", ["apple", "fruit", "red apple"], "sphere", "tripod", False,
          ["red", "green", "yellow"], ["fruit skin"], _build_apple),
    _spec("orange", "fruit", ["orange", "fruit", "citrus fruit", "mandarin"], "sphere", "tripod", False,
          ["orange"], ["fruit skin"], _build_orange),
    _spec("lemon", "fruit", ["lemon", "fruit", "citrus fruit", "lime"], "other", "tripod", False,
          ["yellow", "light green"], ["fruit skin"], _build_lemon),
    _spec("banana", "banana", ["banana", "fruit", "curved fruit"], "other", "power", False,
          ["yellow", "light green"], ["fruit skin"], _build_banana),
    # blocks and small things (036 wood block; 077 rubiks-like cube; 040 marker; sponge)
    _spec("wooden_block", "block", ["wooden block", "block", "wood block", "brick", "timber block"], "box", "power", False,
          ["natural wood", "brown", "beige"], ["wood"], _build_wooden_block),
    _spec("toy_cube", "block", ["toy cube", "cube", "toy block", "small cube"], "box", "tripod", False,
          ["red", "blue", "green", "yellow", "orange", "purple"], ["plastic", "wood"], _build_toy_cube),
    # 061 foam brick 5 x 7.5 x 5 cm
    _spec("foam_brick", "block", ["foam brick", "foam block", "soft block", "soft brick"], "box", "power", False,
          ["red", "orange", "yellow", "blue"], ["foam"], _build_foam_brick),
    _spec("sponge", "sponge", ["sponge", "kitchen sponge", "scrubbing sponge"], "box", "power", False,
          ["yellow", "pink", "blue"], ["foam"], _build_sponge),
    _spec("marker", "marker", ["marker", "marker pen", "felt-tip pen", "pen"], "cylinder", "pinch", False,
          ["black", "red", "blue", "green"], ["plastic"], _build_marker),
    # tools (035 power drill; 037 scissors; 050/051 clamps), lying or standing in their stable pose
    _spec("power_drill", "tool", ["power drill", "drill", "cordless drill", "electric drill"], "other", "power", False,
          ["yellow", "green", "blue", "red", "orange", "black"], ["plastic"], _build_power_drill),
    _spec("scissors", "tool", ["scissors", "pair of scissors", "shears"], "other", "pinch", False,
          ["red", "blue", "black", "orange", "green"], ["plastic"], _build_scissors),
    _spec("clamp", "tool", ["clamp", "spring clamp", "hand clamp"], "other", "power", False,
          ["orange", "red", "blue", "yellow", "black"], ["plastic"], _build_clamp),
    # articulated
    _spec("drawer", "drawer", ["drawer", "small cabinet", "drawer unit", "chest of drawers"], "box", "power", True,
          ["natural wood", "white", "grey", "brown"], ["wood"], _build_drawer, articulated="prismatic"),
    _spec("lidded_box", "lidded_box", ["box with a lid", "lidded box", "storage box", "container"], "box",
          "lateral", True, ["red", "blue", "green", "white", "brown"], ["plastic", "cardboard"], _build_lidded_box,
          articulated="revolute"),
]

#: type name -> spec, in a fixed order.
OBJECT_REGISTRY: dict[str, ObjectSpec] = {s.type_name: s for s in _SPECS}
OBJECT_TYPES: tuple[str, ...] = tuple(OBJECT_REGISTRY)
SEEN_TYPES: tuple[str, ...] = tuple(t for t in OBJECT_TYPES if t not in UNSEEN_TYPES)
RECEPTACLE_TYPES: tuple[str, ...] = tuple(t for t, s in OBJECT_REGISTRY.items() if s.is_receptacle)


def get_object_spec(type_name: str) -> ObjectSpec:
    """The registry entry of ``type_name``; raises :class:`InputError` when unknown."""
    try:
        return OBJECT_REGISTRY[type_name]
    except KeyError:
        raise InputError(f"unknown object type {type_name!r}; choose one of {', '.join(OBJECT_TYPES)}") from None


def split_of(type_name: str, instance_seed: int) -> Split:
    """Seen/unseen split of an instance; deterministic (stable hash, no Python ``hash``)."""
    get_object_spec(type_name)
    if type_name in UNSEEN_TYPES:
        return "unseen"
    digest = hashlib.blake2b(f"{type_name}:{int(instance_seed)}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "little") / 2.0 ** 64
    return "unseen" if u < UNSEEN_INSTANCE_FRACTION else "seen"


def make_object(type_name: str, instance_seed: int) -> ObjectInstance:
    """Build the instance ``(type_name, instance_seed)``; the same arguments give the same object."""
    spec = get_object_spec(type_name)
    if not 0 <= int(instance_seed) < 2 ** 48:
        raise InputError(f"instance_seed must lie in [0, 2**48), got {instance_seed}")
    seed = int(instance_seed)
    type_salt = int.from_bytes(hashlib.blake2b(type_name.encode(), digest_size=4).digest(), "little")
    rng = np.random.default_rng([seed, type_salt])
    colour_name = spec.colours[int(rng.integers(len(spec.colours)))]
    rgb = _jitter_rgb(rng, COLOUR_RGB[colour_name])
    material = spec.materials[int(rng.integers(len(spec.materials)))]
    parts, joint = spec.build(rng, rgb, material)
    # origin at the bottom: shift so the lowest vertex rests on z = 0
    zmin = min(float(p.mesh.vertices[:, 2].min()) for p in parts)
    if abs(zmin) > 1e-9:
        for p in parts:
            p.mesh.apply_translation([0.0, 0.0, -zmin])
        if joint is not None:
            o = np.asarray(joint.origin) - [0.0, 0.0, zmin]
            joint = JointSpec(joint.kind, joint.axis, tuple(float(v) for v in o), joint.lower, joint.upper)
    for p in parts:
        p.mesh.metadata["part"] = p.name
    bounds = np.array([p.mesh.bounds for p in parts])
    size = tuple(float(v) for v in bounds[:, 1].max(axis=0) - bounds[:, 0].min(axis=0))
    return ObjectInstance(
        instance_id=f"{type_name}-{seed:012x}", instance_seed=seed, spec=spec, colour_name=colour_name,
        rgb=rgb, material=material, size=size, parts=tuple(parts), joint=joint,
        split=split_of(type_name, seed),
    )


def sample_object(type_name: str, rng: np.random.Generator, split: Split | None = None) -> ObjectInstance:
    """Draw a new instance of ``type_name``; with ``split`` only instances of that split.

    Raises :class:`InputError` when the type cannot occur in the requested split (an
    unseen-only type asked for ``split="seen"``).
    """
    spec = get_object_spec(type_name)
    if split not in (None, "seen", "unseen"):
        raise InputError(f"split must be 'seen', 'unseen' or None, got {split!r}")
    if split == "seen" and spec.type_name in UNSEEN_TYPES:
        raise InputError(f"object type {type_name!r} is reserved for the unseen split; pick one of SEEN_TYPES")
    for _ in range(1000):
        seed = int(rng.integers(0, 2 ** 48))
        if split is None or split_of(type_name, seed) == split:
            return make_object(type_name, seed)
    raise InputError(f"no {split} instance of {type_name!r} found in 1000 draws")  # pragma: no cover


def object_types_for_split(split: Split | None) -> tuple[str, ...]:
    """Types that can occur in ``split`` (all types for None or 'unseen')."""
    return SEEN_TYPES if split == "seen" else OBJECT_TYPES


def sample_object_type(rng: np.random.Generator, split: Split | None = None,
                       exclude: tuple[str, ...] = ()) -> str:
    """Uniformly draw a type name allowed in ``split``, excluding ``exclude``."""
    choices = [t for t in object_types_for_split(split) if t not in exclude]
    if not choices:
        raise InputError("no object type left to sample; exclude fewer types")
    return choices[int(rng.integers(len(choices)))]
