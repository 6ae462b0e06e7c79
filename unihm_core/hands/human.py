"""The human hand as a 21-keypoint kinematic skeleton (MANO / MediaPipe keypoint order).

Frame of the root link ``wrist`` (right hand): +z points from the wrist to the middle-finger
knuckle (distal), +y towards the thumb side (radial), +x out of the palm (palmar). Positive
flexion curls a finger towards +x. This is the frame in which the synthetic human motions of
:mod:`unihm_core.data` are written.

Keypoints (link origins, index = MANO order)::

    0 wrist
    1 thumb_cmc   2 thumb_mcp   3 thumb_ip    4 thumb_tip
    5 index_mcp   6 index_pip   7 index_dip   8 index_tip
    9 middle_mcp 10 middle_pip 11 middle_dip 12 middle_tip
   13 ring_mcp   14 ring_pip   15 ring_dip   16 ring_tip
   17 pinky_mcp  18 pinky_pip  19 pinky_dip  20 pinky_tip

Degrees of freedom (20): per long finger an MCP abduction (about +x) and MCP, PIP, DIP flexion
(about +y); the thumb has CMC abduction and flexion, MCP and IP flexion, in a frame rotated
45 degrees towards the radial side. Segment lengths are adult averages (hand length
wrist-to-middle-tip about 19 cm); joint ranges are the usual active ranges of motion
(MCP flexion to 90 degrees, PIP to 110, DIP to 80, MCP hyperextension 20 degrees, abduction
about 20 degrees each way). ``scale`` scales every length.
"""

from __future__ import annotations

import math

import numpy as np

from unihm_core.hands.spec import HandSpec, JointSpec

# Knuckle (MCP) positions relative to the wrist [m] and phalanx lengths (proximal, middle,
# distal-to-tip) [m] of an average adult right hand.
LONG_FINGERS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "index": ((0.004, 0.024, 0.090), (0.040, 0.024, 0.022)),
    "middle": ((0.004, 0.002, 0.093), (0.044, 0.028, 0.024)),
    "ring": ((0.006, -0.019, 0.087), (0.041, 0.027, 0.023)),
    "pinky": ((0.010, -0.036, 0.076), (0.033, 0.020, 0.020)),
}
THUMB_CMC = (0.010, 0.028, 0.022)
THUMB_LENGTHS = (0.042, 0.032, 0.029)  # metacarpal, proximal phalanx, distal phalanx to tip

# Active ranges of motion [rad].
MCP_ABD = (-0.35, 0.35)
MCP_FLEX = (-0.35, 1.57)
PIP_FLEX = (0.0, 1.92)
DIP_FLEX = (-0.10, 1.40)
THUMB_CMC_ABD = (-0.45, 0.70)
THUMB_CMC_FLEX = (-0.35, 1.10)
THUMB_MCP_FLEX = (-0.20, 1.00)
THUMB_IP_FLEX = (-0.30, 1.40)

X, Y = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)


def _rev(name: str, parent: str, child: str, xyz, axis, lim, rpy=(0.0, 0.0, 0.0)) -> JointSpec:
    return JointSpec(name=name, type="revolute", parent=parent, child=child, xyz=tuple(xyz), rpy=tuple(rpy),
                     axis=axis, lower=lim[0], upper=lim[1], effort=5.0, velocity=5.0)


def human_hand_spec(scale: float = 1.0) -> HandSpec:
    """Spec of the human right hand; ``scale`` multiplies every length (1.0 = adult average)."""
    s = float(scale)
    joints: list[JointSpec] = []
    t1, t2, t3 = (s * v for v in THUMB_LENGTHS)
    joints += [
        _rev("thumb_cmc_abd", "wrist", "thumb_cmc", np.multiply(THUMB_CMC, s), X, THUMB_CMC_ABD,
             rpy=(-math.pi / 4, 0.0, 0.0)),
        _rev("thumb_cmc_flex", "thumb_cmc", "thumb_metacarpal", (0, 0, 0), Y, THUMB_CMC_FLEX),
        _rev("thumb_mcp_flex", "thumb_metacarpal", "thumb_mcp", (0, 0, t1), Y, THUMB_MCP_FLEX),
        _rev("thumb_ip_flex", "thumb_mcp", "thumb_ip", (0, 0, t2), Y, THUMB_IP_FLEX),
        JointSpec(name="thumb_tip_joint", type="fixed", parent="thumb_ip", child="thumb_tip", xyz=(0, 0, t3)),
    ]
    for f, (mcp, lengths) in LONG_FINGERS.items():
        l1, l2, l3 = (s * v for v in lengths)
        joints += [
            _rev(f"{f}_mcp_abd", "wrist", f"{f}_mcp", np.multiply(mcp, s), X, MCP_ABD),
            _rev(f"{f}_mcp_flex", f"{f}_mcp", f"{f}_proximal", (0, 0, 0), Y, MCP_FLEX),
            _rev(f"{f}_pip_flex", f"{f}_proximal", f"{f}_pip", (0, 0, l1), Y, PIP_FLEX),
            _rev(f"{f}_dip_flex", f"{f}_pip", f"{f}_dip", (0, 0, l2), Y, DIP_FLEX),
            JointSpec(name=f"{f}_tip_joint", type="fixed", parent=f"{f}_dip", child=f"{f}_tip", xyz=(0, 0, l3)),
        ]
    keypoints = ["wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip"]
    for f in LONG_FINGERS:
        keypoints += [f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip"]
    return HandSpec(
        name="human",
        display_name="Human hand (21 keypoints)",
        root_link="wrist",
        palm_link="wrist",
        link_radius=0.0085 * s,
        fingers=("thumb", "index", "middle", "ring", "pinky"),
        fingertip_links=("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip"),
        joints=tuple(joints),
        keypoint_links=tuple(keypoints),
        palm_thickness=0.026 * s,
    )
