"""Turn a user's hand URDF into a :class:`~unihm_core.hands.spec.HandSpec` (``unihm hands add``).

Only the kinematic tree is read: joint type, parent/child links, origin (xyz, rpy), axis,
limits and mimic tags. Visual and collision geometry are ignored (this project regenerates
primitive geometry from the tree, see :mod:`unihm_core.hands.urdf`). ``continuous`` joints
become revolute joints limited to [-pi, pi]; ``floating``/``planar`` joints are rejected. The
palm link defaults to the deepest common ancestor of the fingertip links.

The spec is written as YAML to ``assets/hands/user/<name>.yaml``, where
:func:`unihm_core.hands.available_hands` finds it.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from unihm_core.errors import ConfigError, InputError
from unihm_core.hands.spec import HandSpec, JointSpec, MimicSpec


def _floats(text: str | None, n: int, default: tuple[float, ...]) -> tuple[float, ...]:
    if text is None:
        return default
    vals = tuple(float(v) for v in text.split())
    if len(vals) != n:
        raise InputError(f"URDF: expected {n} numbers, got {text!r}")
    return vals


def _joint(el: ET.Element) -> JointSpec:
    name = el.get("name")
    jtype = el.get("type")
    if jtype in ("floating", "planar"):
        raise InputError(f"URDF joint {name!r} has type {jtype!r}; only revolute, continuous, prismatic and fixed "
                         "joints are supported (the wrist is added by UniHM)")
    parent, child = el.find("parent"), el.find("child")
    if parent is None or child is None:
        raise InputError(f"URDF joint {name!r} has no parent or child link")
    origin = el.find("origin")
    xyz = _floats(origin.get("xyz") if origin is not None else None, 3, (0.0, 0.0, 0.0))
    rpy = _floats(origin.get("rpy") if origin is not None else None, 3, (0.0, 0.0, 0.0))
    axis_el = el.find("axis")
    axis = _floats(axis_el.get("xyz") if axis_el is not None else None, 3, (1.0, 0.0, 0.0))
    norm = math.sqrt(sum(a * a for a in axis)) or 1.0
    axis = tuple(a / norm for a in axis)
    lower = upper = 0.0
    effort, velocity = 10.0, 3.0
    lim = el.find("limit")
    if jtype == "continuous":
        jtype, lower, upper = "revolute", -math.pi, math.pi
    elif jtype in ("revolute", "prismatic"):
        if lim is None:
            raise InputError(f"URDF joint {name!r} ({jtype}) has no <limit>; add lower/upper limits")
        lower, upper = float(lim.get("lower", 0.0)), float(lim.get("upper", 0.0))
    if lim is not None:
        effort, velocity = float(lim.get("effort", effort)), float(lim.get("velocity", velocity))
    mim = el.find("mimic")
    mimic = None
    if mim is not None:
        mimic = MimicSpec(joint=mim.get("joint"), multiplier=float(mim.get("multiplier", 1.0)),
                          offset=float(mim.get("offset", 0.0)))
    return JointSpec(name=name, type=jtype, parent=parent.get("link"), child=child.get("link"), xyz=xyz, rpy=rpy,
                     axis=axis, lower=lower, upper=upper, effort=effort, velocity=velocity, mimic=mimic)


def spec_from_urdf(path: str | Path, fingertip_links: list[str], name: str | None = None,
                   palm_link: str | None = None, link_radius: float = 0.008) -> HandSpec:
    """Read a URDF file into a :class:`HandSpec` with the given fingertip links."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"URDF file {path} does not exist")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path} is not valid XML: {exc}") from exc
    if root.tag != "robot":
        raise InputError(f"{path} is not a URDF (root element <{root.tag}>, expected <robot>)")
    if not fingertip_links:
        raise InputError("give at least one fingertip link (--fingertips L1,L2,...)")
    joints = [_joint(el) for el in root.findall("joint")]
    links = [el.get("name") for el in root.findall("link")]
    children = {j.child for j in joints}
    roots = [link for link in links if link not in children]
    if len(roots) != 1:
        raise InputError(f"URDF {path} must have exactly one root link, found {roots}")
    # order joints parents-first (breadth-first from the root)
    by_parent: dict[str, list[JointSpec]] = {}
    for j in joints:
        by_parent.setdefault(j.parent, []).append(j)
    ordered, frontier = [], [roots[0]]
    while frontier:
        nxt = []
        for link in frontier:
            for j in by_parent.get(link, []):
                ordered.append(j)
                nxt.append(j.child)
        frontier = nxt
    parent_of = {j.child: j.parent for j in ordered}
    for tip in fingertip_links:
        if tip not in parent_of and tip != roots[0]:
            raise InputError(f"fingertip link {tip!r} is not in {path}; links are: {', '.join(links)}")

    def chain(link: str) -> list[str]:
        out = [link]
        while out[-1] in parent_of:
            out.append(parent_of[out[-1]])
        return out[::-1]

    if palm_link is None:
        chains = [chain(t) for t in fingertip_links]
        palm_link = roots[0]
        for level in zip(*chains):
            if len(set(level)) == 1:
                palm_link = level[0]
            else:
                break
        if palm_link in fingertip_links:
            palm_link = roots[0]
    name = name or root.get("name") or path.stem
    try:
        return HandSpec(name=name, display_name=name, root_link=roots[0], palm_link=palm_link,
                        link_radius=link_radius, fingers=tuple(f"finger{i}" for i in range(len(fingertip_links))),
                        fingertip_links=tuple(fingertip_links), joints=tuple(ordered))
    except ConfigError as exc:
        raise InputError(f"URDF {path} does not form a valid hand: {exc}") from exc


def spec_to_dict(spec: HandSpec) -> dict:
    """The YAML layout read by :meth:`HandSpec.from_dict`."""
    joints = []
    for j in spec.joints:
        d = {"name": j.name, "type": j.type, "parent": j.parent, "child": j.child, "xyz": list(j.xyz),
             "rpy": list(j.rpy), "axis": list(j.axis), "lower": j.lower, "upper": j.upper, "effort": j.effort,
             "velocity": j.velocity}
        if j.mimic is not None:
            d["mimic"] = {"joint": j.mimic.joint, "multiplier": j.mimic.multiplier, "offset": j.mimic.offset}
        joints.append(d)
    return {"name": spec.name, "display_name": spec.display_name, "root_link": spec.root_link,
            "palm_link": spec.palm_link, "link_radius": spec.link_radius, "fingers": list(spec.fingers),
            "fingertip_links": list(spec.fingertip_links), "joints": joints}


def register_user_hand(urdf: str | Path, fingertip_links: list[str], name: str | None = None,
                       palm_link: str | None = None, overwrite: bool = False) -> Path:
    """Parse ``urdf`` and write its spec to ``assets/hands/user/<name>.yaml``; returns the path."""
    from unihm_core.hands.registry import HAND_NAMES, USER_SPECS_DIR, load_spec

    spec = spec_from_urdf(urdf, fingertip_links, name=name, palm_link=palm_link)
    if spec.name in HAND_NAMES:
        raise InputError(f"{spec.name!r} is a built-in hand; pick another name with --name")
    if not spec.name.replace("_", "").replace("-", "").isalnum():
        raise InputError(f"hand name {spec.name!r} must be letters, digits, '_' or '-'; pick one with --name")
    out = USER_SPECS_DIR / f"{spec.name}.yaml"
    if out.exists() and not overwrite:
        raise InputError(f"user hand {spec.name!r} already exists ({out}); use --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(spec_to_dict(spec), sort_keys=False), encoding="utf-8")
    load_spec.cache_clear()
    return out
