"""URDF generation from a :class:`~unihm_core.hands.spec.HandSpec`, with primitive geometry.

Geometry is derived, not stored: every link gets a capsule (a cylinder plus two end spheres,
so that plain URDF parsers such as urdfdom understand it) from its origin to the origin of
each child joint, of the hand's ``link_radius``; fingertip links get a sphere; the palm
link gets a box that bounds the finger bases and the links rigidly attached to it. Visual
and collision geometry are identical. Masses are rough (palm 0.4 kg, phalanges 0.03 kg) and
only serve the physics check.

``floating=True`` prepends the 6-DoF wrist used everywhere in this project: three prismatic
joints along x, y, z then three revolute joints about x, y, z, named like dex-retargeting's
dummy joints, so the wrist rotation is ``R = Rx(rx) @ Ry(ry) @ Rz(rz)``.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from scipy.spatial.transform import Rotation

from unihm_core.hands.spec import HandSpec

WRIST_JOINT_NAMES = tuple(f"dummy_{a}_translation_joint" for a in "xyz") + tuple(
    f"dummy_{a}_rotation_joint" for a in "xyz"
)
WRIST_LINK_NAMES = tuple(f"dummy_{a}_translation_link" for a in "xyz") + tuple(
    f"dummy_{a}_rotation_link" for a in "xyz"
)
WRIST_TRANSLATION_LIMIT = 5.0  # [m]
WRIST_ROTATION_LIMIT = 2 * np.pi  # [rad]

_PALM_BOX_OVERRIDES = {
    # The Panda hand is a wide housing whose TCP frame is rigidly attached far in front of it.
    "panda_gripper": ((0.0, 0.0, 0.03), (0.055, 0.20, 0.062)),
}


def _fmt(v) -> str:
    return " ".join(f"{float(x):.8g}" for x in np.atleast_1d(v))


def origin_transform(xyz, rpy) -> np.ndarray:
    """4x4 transform of a URDF ``<origin xyz rpy>`` (rpy = fixed-axis roll, pitch, yaw)."""
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()
    T[:3, 3] = xyz
    return T


def palm_cluster(spec: HandSpec) -> set[str]:
    """The palm link and every link rigidly (fixed-joint) connected to it."""
    cluster = {spec.palm_link}
    changed = True
    while changed:
        changed = False
        for j in spec.joints:
            if j.type == "fixed" and (j.parent in cluster) != (j.child in cluster):
                if j.child in spec.fingertip_links:
                    continue
                cluster |= {j.parent, j.child}
                changed = True
    return cluster


def zero_pose_link_transforms(spec: HandSpec) -> dict[str, np.ndarray]:
    """Root-frame transform of every link with all joints at zero."""
    T = {spec.root_link: np.eye(4)}
    for j in spec.joints:
        T[j.child] = T[j.parent] @ origin_transform(j.xyz, j.rpy)
    return T


def palm_box(spec: HandSpec) -> tuple[np.ndarray, np.ndarray]:
    """Centre and size [m] of the palm box, in the palm link frame."""
    if spec.name in _PALM_BOX_OVERRIDES:
        c, s = _PALM_BOX_OVERRIDES[spec.name]
        return np.asarray(c, float), np.asarray(s, float)
    T = zero_pose_link_transforms(spec)
    inv_palm = np.linalg.inv(T[spec.palm_link])
    cluster = palm_cluster(spec)
    pts = [(inv_palm @ T[name])[:3, 3] for name in cluster]
    pts += [(inv_palm @ T[j.child])[:3, 3] for j in spec.joints if j.parent in cluster and j.type != "fixed"]
    pts = np.asarray(pts)
    lo, hi = pts.min(0), pts.max(0)
    thickness = spec.palm_thickness or 2.4 * spec.link_radius
    size = np.maximum(hi - lo + 2 * spec.link_radius, thickness)
    return (lo + hi) / 2, size


def _capsule_xml(p1: np.ndarray, radius: float, tag: str, material: str) -> list[str]:
    """A capsule from the link origin to ``p1`` as cylinder + two spheres, for ``tag``."""
    length = float(np.linalg.norm(p1))
    d = p1 / length
    rot, _ = Rotation.align_vectors([d], [[0.0, 0.0, 1.0]])
    with warnings.catch_warnings():  # gimbal lock only means another valid rpy is chosen
        warnings.simplefilter("ignore", UserWarning)
        rpy = rot.as_euler("xyz")
    mat = f'<material name="{material}"/>' if tag == "visual" else ""
    return [
        f'<{tag}><origin xyz="{_fmt(p1 / 2)}" rpy="{_fmt(rpy)}"/>'
        f'<geometry><cylinder radius="{radius:.6g}" length="{length:.6g}"/></geometry>{mat}</{tag}>',
        f'<{tag}><origin xyz="0 0 0" rpy="0 0 0"/><geometry><sphere radius="{radius:.6g}"/></geometry>{mat}</{tag}>',
        f'<{tag}><origin xyz="{_fmt(p1)}" rpy="0 0 0"/><geometry><sphere radius="{radius:.6g}"/></geometry>{mat}</{tag}>',
    ]


def link_geometry(spec: HandSpec) -> dict[str, list[tuple[str, dict]]]:
    """Primitive shapes per link: ``{link: [(kind, params), ...]}`` in the link frame.

    kinds: ``capsule`` (``p1``, ``radius``: from the origin to p1), ``sphere`` (``radius``),
    ``box`` (``center``, ``size``).
    """
    r = spec.link_radius
    cluster = palm_cluster(spec)
    shapes: dict[str, list[tuple[str, dict]]] = {name: [] for name in spec.link_names}
    for j in spec.joints:
        if j.parent in cluster and j.child in cluster:
            continue
        p1 = np.asarray(j.xyz, float)
        if j.parent != spec.palm_link and np.linalg.norm(p1) > 0.003:
            shapes[j.parent].append(("capsule", {"p1": p1, "radius": r}))
    for tip in spec.fingertip_links:
        shapes[tip].append(("sphere", {"radius": r}))
    c, s = palm_box(spec)
    shapes[spec.palm_link].append(("box", {"center": c, "size": s}))
    return shapes


def urdf_string(spec: HandSpec, *, floating: bool = False, color=(0.85, 0.85, 0.82, 1.0)) -> str:
    """The URDF XML of ``spec``; with ``floating`` the 6-DoF wrist chain is prepended."""
    shapes = link_geometry(spec)
    out = [f'<?xml version="1.0"?>', f"<robot name={quoteattr(spec.name + '_right')}>",
           f'<material name="hand"><color rgba="{_fmt(color)}"/></material>',
           '<material name="palm"><color rgba="0.35 0.35 0.38 1"/></material>']
    if floating:
        for name in WRIST_LINK_NAMES:
            out.append(f'<link name="{name}"><inertial><mass value="0.01"/><inertia ixx="1e-4" ixy="0" '
                       f'ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial></link>')
        for i, (jn, ln) in enumerate(zip(WRIST_JOINT_NAMES, WRIST_LINK_NAMES)):
            child = WRIST_LINK_NAMES[i + 1] if i < 5 else spec.root_link
            kind = "prismatic" if i < 3 else "revolute"
            lim = WRIST_TRANSLATION_LIMIT if i < 3 else WRIST_ROTATION_LIMIT
            axis = np.eye(3)[i % 3]
            out.append(f'<joint name="{jn}" type="{kind}"><parent link="{ln}"/><child link="{child}"/>'
                       f'<origin xyz="0 0 0" rpy="0 0 0"/><axis xyz="{_fmt(axis)}"/>'
                       f'<limit lower="{-lim:.8g}" upper="{lim:.8g}" effort="100" velocity="10"/></joint>')
    for name in spec.link_names:
        items = shapes[name]
        mass = 0.4 if name == spec.palm_link else (0.03 if items else 0.005)
        body = [f'<inertial><origin xyz="0 0 0" rpy="0 0 0"/><mass value="{mass}"/><inertia ixx="{mass * 1e-3:.3g}" '
                f'ixy="0" ixz="0" iyy="{mass * 1e-3:.3g}" iyz="0" izz="{mass * 1e-3:.3g}"/></inertial>']
        for tag in ("visual", "collision"):
            for kind, p in items:
                mat = "palm" if name == spec.palm_link else "hand"
                if kind == "capsule":
                    body += _capsule_xml(p["p1"], p["radius"], tag, mat)
                elif kind == "sphere":
                    m = f'<material name="{mat}"/>' if tag == "visual" else ""
                    body.append(f'<{tag}><origin xyz="0 0 0" rpy="0 0 0"/><geometry><sphere radius='
                                f'"{p["radius"]:.6g}"/></geometry>{m}</{tag}>')
                elif kind == "box":
                    m = f'<material name="{mat}"/>' if tag == "visual" else ""
                    body.append(f'<{tag}><origin xyz="{_fmt(p["center"])}" rpy="0 0 0"/><geometry><box size='
                                f'"{_fmt(p["size"])}"/></geometry>{m}</{tag}>')
        out.append(f'<link name={quoteattr(name)}>' + "".join(body) + "</link>")
    for j in spec.joints:
        s = (f'<joint name={quoteattr(j.name)} type="{j.type}"><parent link={quoteattr(j.parent)}/>'
             f'<child link={quoteattr(j.child)}/><origin xyz="{_fmt(j.xyz)}" rpy="{_fmt(j.rpy)}"/>')
        if j.type != "fixed":
            s += (f'<axis xyz="{_fmt(j.axis)}"/><limit lower="{j.lower:.10g}" upper="{j.upper:.10g}" '
                  f'effort="{j.effort:.6g}" velocity="{j.velocity:.6g}"/>')
        if j.mimic is not None:
            s += (f'<mimic joint={quoteattr(j.mimic.joint)} multiplier="{j.mimic.multiplier:.10g}" '
                  f'offset="{j.mimic.offset:.10g}"/>')
        out.append(s + "</joint>")
    out.append("</robot>")
    return "\n".join(out) + "\n"


def write_urdf(spec: HandSpec, path: str | Path, floating: bool = False) -> Path:
    """Write the URDF of ``spec`` to ``path`` if its content changed."""
    path = Path(path)
    text = urdf_string(spec, floating=floating)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".urdf.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def urdf_sha256(path: str | Path) -> str:
    """SHA-256 of a URDF file (recorded in exports so a trajectory names its exact model)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
