"""Parametric hand specifications: the kinematic tree, joint axes, limits and mimic ratios.

A :class:`HandSpec` is everything this project knows about a hand. Robot hands are stored as
YAML files in ``unihm_core/hands/specs/`` whose numbers (joint origins, axes, limits, mimic
ratios) are kinematic facts of the real robots, read from their public descriptions; the
human hand is authored parametrically in :mod:`unihm_core.hands.human`. The visual and
collision geometry is *not* part of the spec: :mod:`unihm_core.hands.urdf` derives primitive
shapes (capsules along links, a palm box) from the tree and ``link_radius``.

Joint and link names equal those of the public models, so retargeting configurations
written for those models apply unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from unihm_core.errors import ConfigError

JOINT_TYPES = ("revolute", "prismatic", "fixed")


@dataclass(frozen=True)
class MimicSpec:
    """``q[this] = multiplier * q[joint] + offset``."""

    joint: str
    multiplier: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class JointSpec:
    """One URDF joint.

    Attributes:
        name: joint name (as in the public model).
        type: ``revolute``, ``prismatic`` or ``fixed``.
        parent, child: link names.
        xyz: origin translation in the parent link frame [m].
        rpy: origin rotation (roll, pitch, yaw; URDF convention) [rad].
        axis: unit joint axis in the child frame (unused for fixed joints).
        lower, upper: joint limits [rad] or [m].
        mimic: when set, the joint is driven by another joint and is not part of the state.
    """

    name: str
    type: str
    parent: str
    child: str
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    lower: float = 0.0
    upper: float = 0.0
    effort: float = 10.0
    velocity: float = 3.0
    mimic: MimicSpec | None = None

    def __post_init__(self) -> None:
        if self.type not in JOINT_TYPES:
            raise ConfigError(f"joint {self.name!r}: type {self.type!r} is not one of {JOINT_TYPES}")
        if self.type != "fixed":
            if not np.isclose(np.linalg.norm(self.axis), 1.0, atol=1e-6):
                raise ConfigError(f"joint {self.name!r}: axis {self.axis} is not a unit vector")
            if not self.lower <= self.upper:
                raise ConfigError(f"joint {self.name!r}: lower limit {self.lower} > upper limit {self.upper}")

    @property
    def actuated(self) -> bool:
        """True for a movable joint that is part of the hand state (not fixed, not mimic)."""
        return self.type != "fixed" and self.mimic is None


@dataclass(frozen=True)
class HandSpec:
    """A complete hand description.

    Attributes:
        name: registry name (``shadow``, ``allegro``, ...).
        display_name: human-readable name.
        root_link: the URDF root link; the floating wrist attaches here.
        palm_link: the link that carries the finger bases (gets the palm box).
        link_radius: radius of the capsules that model the phalanges [m].
        fingers: finger names, in the order of ``fingertip_links``.
        fingertip_links: links whose origins are the fingertip contact points.
        joints: the kinematic tree, parents before children.
        keypoint_links: optional 21 links whose origins are the MANO/MediaPipe keypoints
            (the human hand only).
    """

    name: str
    display_name: str
    root_link: str
    palm_link: str
    link_radius: float
    fingers: tuple[str, ...]
    fingertip_links: tuple[str, ...]
    joints: tuple[JointSpec, ...]
    keypoint_links: tuple[str, ...] | None = None
    palm_thickness: float | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        names = [j.name for j in self.joints]
        if len(set(names)) != len(names):
            raise ConfigError(f"hand {self.name!r}: duplicate joint names")
        links = self.link_names
        children = [j.child for j in self.joints]
        if len(set(children)) != len(children):
            raise ConfigError(f"hand {self.name!r}: a link has two parent joints")
        if self.root_link in children:
            raise ConfigError(f"hand {self.name!r}: root link {self.root_link!r} has a parent joint")
        seen = {self.root_link}
        for j in self.joints:
            if j.parent not in seen:
                raise ConfigError(
                    f"hand {self.name!r}: joint {j.name!r} appears before its parent link {j.parent!r}; "
                    "list joints parents-first"
                )
            seen.add(j.child)
        for link in (self.palm_link, *self.fingertip_links, *(self.keypoint_links or ())):
            if link not in links:
                raise ConfigError(f"hand {self.name!r}: link {link!r} is not in the kinematic tree")
        if len(self.fingers) != len(self.fingertip_links):
            raise ConfigError(f"hand {self.name!r}: {len(self.fingers)} finger names for "
                              f"{len(self.fingertip_links)} fingertip links")
        by_name = {j.name: j for j in self.joints}
        for j in self.joints:
            if j.mimic is not None:
                src = by_name.get(j.mimic.joint)
                if src is None or not src.actuated:
                    raise ConfigError(f"hand {self.name!r}: mimic joint {j.name!r} must follow an actuated "
                                      f"joint, got {j.mimic.joint!r}")
        if self.link_radius <= 0:
            raise ConfigError(f"hand {self.name!r}: link_radius must be positive")

    @property
    def link_names(self) -> tuple[str, ...]:
        """All links, root first, in tree order."""
        return (self.root_link, *(j.child for j in self.joints))

    @property
    def actuated_joints(self) -> tuple[JointSpec, ...]:
        """Joints that form the finger part of the hand state, in spec (URDF) order."""
        return tuple(j for j in self.joints if j.actuated)

    @classmethod
    def from_dict(cls, d: dict) -> HandSpec:
        """Build from the YAML layout of ``unihm_core/hands/specs/*.yaml``."""
        try:
            joints = []
            for jd in d["joints"]:
                jd = dict(jd)
                mimic = jd.pop("mimic", None)
                for key in ("xyz", "rpy", "axis"):
                    if key in jd:
                        jd[key] = tuple(float(v) for v in jd[key])
                joints.append(JointSpec(**jd, mimic=MimicSpec(**mimic) if mimic else None))
            return cls(
                name=d["name"],
                display_name=d.get("display_name", d["name"]),
                root_link=d["root_link"],
                palm_link=d["palm_link"],
                link_radius=float(d["link_radius"]),
                fingers=tuple(d["fingers"]),
                fingertip_links=tuple(d["fingertip_links"]),
                joints=tuple(joints),
                keypoint_links=tuple(d["keypoint_links"]) if d.get("keypoint_links") else None,
                palm_thickness=d.get("palm_thickness"),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"hand spec {d.get('name', '?')!r} is malformed: {exc!r}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> HandSpec:
        """Load a spec YAML file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f))
