"""What each joint of a hand is, in words: its finger (or the wrist) and, where known, its role.

URDF joint names are often bare numbers (LEAP: "0" … "15", Allegro: "joint_0.0" …) and say
nothing in a message. :func:`describe_joints` derives, from the kinematic tree alone, which
finger a joint moves (the fingertips below it) and its place in that finger's chain, and, for the
hands whose joint order is documented by their makers (LEAP, Allegro, Shadow), the anatomical
role. A joint above the palm that moves every fingertip (Shadow's WRJ1, WRJ2) is a wrist joint.

    >>> describe_joints(load_hand("leap").spec)["1"]
    JointMeaning(kind='finger', finger='index', role='MCP flexion', position=1, count=4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from unihm_core.hands.spec import HandSpec

# Roles by position in a non-thumb finger's chain, from the palm (the makers' joint orders).
_FINGER_ROLES = {
    "leap": ("MCP flexion", "MCP abduction", "PIP", "DIP"),
    "allegro": ("abduction", "MCP flexion", "PIP", "DIP"),
    "shadow": ("knuckle abduction (J4)", "MCP flexion (J3)", "PIP (J2)", "DIP (J1)"),
}
# Shadow's little finger has a metacarpal joint (LFJ5) first; its thumb J5 … J1.
_SHADOW_LITTLE = ("metacarpal cupping (J5)",) + _FINGER_ROLES["shadow"]
_SHADOW_THUMB = ("base rotation (J5)", "base abduction (J4)", "hub (J3)", "MCP (J2)", "IP (J1)")
_SHADOW_WRIST = {"WRJ1": "flexion / extension (WRJ1)", "WRJ2": "radial / ulnar deviation (WRJ2)"}


@dataclass(frozen=True)
class JointMeaning:
    """``kind`` "wrist" or "finger"; ``finger`` the finger name(s) ("ring, little" when shared);
    ``role`` anatomical role where known, else ""; ``position`` of ``count`` joints in the chain."""

    kind: str
    finger: str
    role: str
    position: int
    count: int

    def text(self) -> str:
        """E.g. "index finger, MCP flexion", "thumb, joint 2 of 4 from the palm", "wrist"."""
        if self.kind == "wrist":
            return "wrist" + (f", {self.role}" if self.role else " (the hand's own joint)")
        where = self.finger if self.finger in ("thumb", "left", "right") or "," in self.finger \
            else f"{self.finger} finger"
        if self.role:
            return f"{where}, {self.role}"
        return f"{where}, joint {self.position} of {self.count} from the palm" if self.count > 1 else where


def _role(spec: HandSpec, finger: str, position: int, count: int, name: str) -> str:
    if spec.name == "shadow":
        table = _SHADOW_THUMB if finger == "thumb" else _SHADOW_LITTLE if finger == "little" else _FINGER_ROLES["shadow"]
        return table[position - 1] if count == len(table) else ""
    roles = _FINGER_ROLES.get(spec.name)
    if roles and finger != "thumb" and count == len(roles):
        return roles[position - 1]
    return ""


def describe_joints(spec: HandSpec) -> dict[str, JointMeaning]:
    """``{joint name: JointMeaning}`` for every movable joint of ``spec``."""
    parent_joint = {j.child: j for j in spec.joints}
    movable = [j for j in spec.joints if j.type != "fixed" and j.mimic is None]
    chains: dict[str, list[str]] = {}  # finger -> movable joints from the root down to its tip
    for finger, tip in zip(spec.fingers, spec.fingertip_links):
        chain, link = [], tip
        while link in parent_joint:
            j = parent_joint[link]
            if j.type != "fixed" and j.mimic is None:  # a mimic joint is not part of the state
                chain.append(j.name)
            link = j.parent
        chains[finger] = chain[::-1]
    out = {}
    for j in movable:
        fingers = [f for f, c in chains.items() if j.name in c]
        if spec.name == "shadow" and j.name in _SHADOW_WRIST:
            out[j.name] = JointMeaning("wrist", "", _SHADOW_WRIST[j.name], 0, 0)
        elif len(fingers) == len(chains) and len(chains) > 1:  # above the palm: moves every fingertip
            out[j.name] = JointMeaning("wrist", "", "", 0, 0)
        elif len(fingers) == 1:
            f = fingers[0]
            # the chain below the wrist joints: positions count from the palm
            own = [n for n in chains[f] if sum(n in c for c in chains.values()) < len(chains) or len(chains) == 1]
            pos = own.index(j.name) + 1 if j.name in own else 1
            out[j.name] = JointMeaning("finger", f, _role(spec, f, pos, len(own), j.name), pos, len(own))
        else:  # a joint shared by some fingers (e.g. a spread joint) or by none (a mimic helper)
            out[j.name] = JointMeaning("finger", ", ".join(fingers) or "coupled", "", 1, 1)
    return out


_NUMBERED = re.compile(r"[a-z_]*\d+(\.\d+)?")  # "1", "joint_0.0", "panda_finger_joint1": a number, not a meaning


def joint_label(spec: HandSpec, name: str) -> str:
    """``name`` with its meaning where the name alone does not say it, e.g. ``"1 (index finger,
    MCP flexion)"``, ``"WRJ1 (wrist, flexion / extension (WRJ1))"``; descriptive names
    (``"index_pip_flex"``, ``"right_hand_Finger_Spread"``) stay as they are."""
    meaning = describe_joints(spec).get(name)
    if meaning is None:
        return name
    if meaning.role or meaning.kind == "wrist" or _NUMBERED.fullmatch(name.lower()):
        return f"{name} ({meaning.text()})"
    return name
