"""Hand models vs the public robot descriptions, and kinematics cost.

Writes the ``hands`` section of docs/RESULTS.md:

1. For every robot hand: the maximum fingertip distance between this project's model and
   the public URDF (dex-urdf) over 100 random configurations within the joint limits, root
   link at the identity. The public URDFs are NOT part of this project; point
   ``UNIHM_DEX_URDF`` (default ``../shared/reference/dex-urdf``) at a checkout of them. Without
   them this part is skipped and the previous table is kept.
2. FK (fingertips) and FK + fingertip Jacobians per call [µs], median of 2,000 calls.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402
from unihm_core.hands import HAND_NAMES, ROBOT_HAND_NAMES, load_hand  # noqa: E402

PUBLIC = {
    "shadow": "shadow_hand/shadow_hand_right.urdf",
    "allegro": "allegro_hand/allegro_hand_right.urdf",
    "schunk_svh": "schunk_hand/schunk_svh_hand_right.urdf",
    "leap": "leap_hand/leap_hand_right.urdf",
    "ability": "ability_hand/ability_hand_right.urdf",
    "inspire": "inspire_hand/inspire_hand_right.urdf",
    "panda_gripper": "panda_gripper/panda_gripper_glb.urdf",
}
# Links compared per hand: the fingertip links; the Panda's public model has no tip links,
# so its finger links (which carry this project's tip links rigidly) are compared.
COMPARE_LINKS = {"panda_gripper": ("panda_leftfinger", "panda_rightfinger")}


def agreement(root: Path, n: int = 100, seed: int = 0) -> list[list]:
    import pinocchio as pin

    rows = []
    for name in ROBOT_HAND_NAMES:
        hand = load_hand(name)
        ref = pin.buildModelFromUrdf(str(root / "robots" / "hands" / PUBLIC[name]))
        ref_data = ref.createData()
        links = COMPARE_LINKS.get(name, hand.fingertip_links)
        rng = np.random.default_rng(seed)
        worst = 0.0
        for _ in range(n):
            q = hand.random(rng)
            q[:6] = 0.0  # root link at the identity
            ours = hand.link_positions(q, links)
            full = hand.expand(q)
            qref = pin.neutral(ref)
            for jid in range(1, ref.njoints):
                jname = ref.names[jid]
                pid = hand.model.getJointId(jname)
                qref[ref.joints[jid].idx_q] = full[hand.model.joints[pid].idx_q]
            pin.framesForwardKinematics(ref, ref_data, qref)
            # Express the public model's links in the frame of our root link (the public Shadow
            # model has an extra fixed "world" link above it).
            root_inv = ref_data.oMf[ref.getFrameId(hand.spec.root_link)].inverse()
            theirs = np.stack([(root_inv * ref_data.oMf[ref.getFrameId(link)]).translation for link in links])
            worst = max(worst, float(np.linalg.norm(ours - theirs, axis=1).max()))
        rows.append([name, len(links), f"{worst * 1000:.4f}", "yes" if worst <= 0.010 else "NO"])
    return rows


def timing(calls: int = 2000) -> list[list]:
    rows = []
    for name in HAND_NAMES:
        hand = load_hand(name)
        q = hand.random(np.random.default_rng(1))
        samples_fk, samples_jac = [], []
        for _ in range(calls):
            t = time.perf_counter()
            hand.fingertip_positions(q)
            samples_fk.append(time.perf_counter() - t)
            t = time.perf_counter()
            hand.fingertip_jacobians(q, unchecked=True)
            samples_jac.append(time.perf_counter() - t)
        rows.append([name, hand.dof, len(hand.fingertip_links), f"{np.median(samples_fk) * 1e6:.1f}",
                     f"{np.median(samples_jac) * 1e6:.1f}"])
    return rows


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    root = Path(os.environ.get("UNIHM_DEX_URDF", Path(__file__).resolve().parents[2] / "shared/reference/dex-urdf"))
    parts = ["### Hand models\n"]
    if (root / "robots").exists():
        parts.append("Maximum fingertip distance between this project's hand models and the public URDFs "
                     "(dex-urdf), 100 random configurations within the limits, root link at the identity "
                     "(target <= 10 mm). The Panda row compares the finger links (the public model has no "
                     "tip links).\n")
        parts.append(table(["hand", "links compared", "max distance [mm]", "<= 10 mm"], agreement(root)))
    else:
        parts.append(f"(public URDFs not found at {root}; agreement table not regenerated)")
    parts.append("\n\nKinematics cost per call, median of 2,000 calls, one thread (pinocchio; state includes "
                 "the 6-DoF floating wrist):\n")
    parts.append(table(["hand", "DoF", "fingertips", "FK [µs]", "FK + fingertip Jacobians [µs]"], timing()))
    write_section("hands", "\n".join(parts))
    print("\n".join(parts))


if __name__ == "__main__":
    main()
