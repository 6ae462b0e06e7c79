"""Named hand poses (open, power grasp, pinch) defined once for every hand.

Each finger joint is classified from the kinematic tree: it belongs to the finger whose
fingertip link it moves, and it is a *spread* joint when its range is (nearly) symmetric
about zero (abduction/adduction, thumb rotation), otherwise a *flexion* joint. A preset gives
a closure in [0, 1] per finger; flexion joints move from ``max(lower, 0)`` towards ``upper``
by that fraction, spread joints stay at the middle of their range. This is approximate for
hands whose thumbs rotate (their first joint is treated like flexion when it is one-sided),
which is what the presets are for: a quick look, not grasp synthesis.
"""

from __future__ import annotations

import numpy as np

from unihm_core.hands.model import HandModel

PRESETS: dict[str, dict[str, float]] = {
    "open": {"thumb": 0.0, "other": 0.0},
    "power grasp": {"thumb": 0.55, "other": 0.75},
    "pinch": {"thumb": 0.5, "index": 0.5, "left": 0.6, "right": 0.6, "other": 0.1},
}


def joint_fingers(hand: HandModel) -> dict[str, str]:
    """Finger name of every actuated finger joint (``"palm"`` when it moves several fingers)."""
    spec = hand.spec
    parent_joint = {j.child: j for j in spec.joints}
    owner: dict[str, set[str]] = {}
    for finger, tip in zip(spec.fingers, spec.fingertip_links):
        link = tip
        while link in parent_joint:
            j = parent_joint[link]
            src = j.mimic.joint if j.mimic is not None else j.name
            owner.setdefault(src, set()).add(finger)
            link = j.parent
    return {n: (next(iter(owner[n])) if len(owner.get(n, ())) == 1 else "palm") for n in hand.finger_joint_names}


def is_spread_joint(lower: float, upper: float) -> bool:
    """True for a joint whose range is roughly symmetric about zero (abduction-like)."""
    return lower < 0 < upper and min(-lower, upper) / max(-lower, upper) > 0.6


def _opens_hand(hand: HandModel, i: int) -> bool:
    """True when increasing coordinate ``i`` spreads the fingertips apart (at the open pose)."""
    q = hand.zero()
    step = 0.1 * (hand.upper[i] - hand.lower[i])
    q_lo, q_hi = q.copy(), q.copy()
    q_hi[i] = min(q[i] + step, hand.upper[i])
    q_lo[i] = max(q_hi[i] - step, hand.lower[i])

    def spread(x: np.ndarray) -> float:
        tips = hand.fingertip_positions(x)
        return float(np.linalg.norm(tips - tips.mean(0), axis=1).sum())

    return len(hand.fingertip_links) == 2 and spread(q_hi) > spread(q_lo)


def preset_pose(hand: HandModel, name: str, wrist: np.ndarray | None = None) -> np.ndarray:
    """State ``(D,)`` of preset ``name`` (see :data:`PRESETS`) with the given 6 wrist values."""
    if name not in PRESETS:
        raise KeyError(f"unknown pose preset {name!r}; choose one of {sorted(PRESETS)}")
    closure = PRESETS[name]
    q = hand.zero()
    if wrist is not None:
        q[:6] = wrist
    fingers = joint_fingers(hand)
    for i, jn in enumerate(hand.finger_joint_names, start=6):
        lo, hi = hand.lower[i], hand.upper[i]
        if is_spread_joint(lo, hi):
            q[i] = 0.0 if lo < 0 < hi else (lo + hi) / 2
            continue
        c = closure.get(fingers[jn], closure["other"])
        if _opens_hand(hand, i):  # e.g. a parallel gripper's finger joint is its opening width
            q[i] = hi - c * (hi - lo)
            continue
        start = max(lo, 0.0) if lo <= 0 <= hi else lo
        q[i] = start + c * (hi - start)
    return hand.clamp(q)
