"""Retargeting of human 21-keypoint motion to any hand with dex-retargeting.

Robot hands use dex-retargeting's shipped *offline* configurations (position retargeting of
fingertips and middle phalanges, free 6-DoF wrist) with only ``urdf_path`` replaced by this
project's generated URDF: the joint and link names are the public models', so the shipped
link lists apply unchanged. ``kind="vector"`` uses the shipped teleop (vector) configuration
instead, with the wrist set from the human hand frame (vector retargeting has no position
objective for the wrist). The human hand retargets onto its own skeleton with all 20
non-wrist keypoints as position targets.

Warm start: the first frame's wrist is initialised analytically by aligning the hand's
canonical frame (wrist -> knuckles = +z, towards the thumb = +y, out of the palm = +x, derived
from the model at zero pose) with the same frame measured on the human keypoints, and the
knuckle centroids. Later frames start from the previous solution. Joint limits are enforced
by the optimiser (SLSQP bounds); results are clamped to the limits once more at 1e-6.

Input keypoints are in MANO / MediaPipe order, world frame, metres, shape ``(T, 21, 3)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from unihm_core.errors import InputError
from unihm_core.hands.model import HandModel, matrix_to_euler_xyz, q_to_wrist_pose, wrist_pose_to_q
from unihm_core.hands.registry import load_hand, urdf_path

# Per hand, the file stem of dex-retargeting's shipped configuration.
DEX_CONFIG_STEMS = {
    "shadow": "shadow_hand_right",
    "allegro": "allegro_hand_right",
    "schunk_svh": "schunk_svh_hand_right",
    "leap": "leap_hand_right",
    "ability": "ability_hand_right",
    "inspire": "inspire_hand_right",
    "panda_gripper": "panda_gripper",
}
# The shipped Panda configuration puts the finger links' *origins* (the base of each finger,
# ~5 cm behind the pads) on the human thumb and index tips, which leaves the gripper's real
# tips 3-6 cm away from a grasped object; this project targets the tip links instead.
TIP_TARGET_LINKS = {"panda_gripper": ("panda_leftfinger_tip", "panda_rightfinger_tip")}
# Keypoint indices (MANO order) of the knuckles used for the hand frame.
WARMUP_SOLVES = 8
FTOL_ABS = 1e-6
WRIST, INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP = 0, 5, 9, 13, 17


@dataclass(frozen=True)
class RetargetResult:
    """``q`` ``(T, D)`` in the hand's state order, ``joint_names`` ``(D,)``, and the mean
    fingertip position error per frame ``tip_error`` ``(T,)`` [m] against the human tips."""

    hand: str
    q: np.ndarray
    joint_names: tuple[str, ...]
    tip_error: np.ndarray


def shipped_config(hand: str, kind: str = "position") -> dict:
    """dex-retargeting's shipped configuration for ``hand`` as a dict (urdf_path replaced)."""
    import dex_retargeting

    if hand not in DEX_CONFIG_STEMS:
        raise InputError(f"no dex-retargeting configuration for hand {hand!r}")
    folder = "offline" if kind == "position" else "teleop"
    path = Path(dex_retargeting.__file__).parent / "configs" / folder / f"{DEX_CONFIG_STEMS[hand]}.yml"
    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)["retargeting"]
    cfg["urdf_path"] = str(urdf_path(hand))
    if hand in TIP_TARGET_LINKS:
        cfg["target_link_names"] = list(TIP_TARGET_LINKS[hand])
    return cfg


def human_config() -> dict:
    """Position retargeting of the 20 non-wrist keypoints onto the human skeleton."""
    hand = load_hand("human")
    return {
        "type": "position",
        "urdf_path": str(urdf_path("human")),
        "target_joint_names": None,
        "target_link_names": list(hand.spec.keypoint_links[1:]),
        "target_link_human_indices": list(range(1, 21)),
        "add_dummy_free_joint": True,
        "low_pass_alpha": 1,
    }


def build_retargeting(hand: str, kind: str = "position"):
    """A fresh dex-retargeting ``SeqRetargeting`` for ``hand`` (``position`` or ``vector``)."""
    from dex_retargeting.retargeting_config import RetargetingConfig

    cfg = human_config() if hand == "human" else shipped_config(hand, kind)
    cfg["low_pass_alpha"] = 1  # no filtering: the sequences are offline and already smooth
    retargeting = RetargetingConfig.from_dict(cfg).build()
    # The shipped stopping rule (|delta loss| < 1e-5 on a Huber loss averaged over
    # coordinates) can stop a centimetre short; 1e-6 halves the fingertip error at about
    # 6 ms per frame (1e-7: 8 ms, no further gain), measured on a synthetic grasp.
    retargeting.optimizer.opt.set_ftol_abs(FTOL_ABS)
    if retargeting.optimizer.retargeting_type == "POSITION":
        opt = retargeting.optimizer
        opt.get_objective_function = functools.partial(position_objective, opt)
    return retargeting


def position_objective(optimizer, target_pos: np.ndarray, fixed_qpos: np.ndarray, last_qpos: np.ndarray):
    """dex-retargeting's position objective (``PositionOptimizer.get_objective_function``)
    with the Huber loss and its gradient written out in numpy instead of torch autograd.

    Same value and gradient (tested to 1e-12 against the original): the mean over the
    ``(n, 3)`` coordinates of SmoothL1(body - target, beta = huber_delta), and its gradient
    through the links' world Jacobians, plus ``2 norm_delta (x - last_qpos)`` in the gradient
    only (as in the original). Building a torch graph for 3n numbers per evaluation took
    about half of the retargeting time (~16 evaluations per frame); the link Jacobians come from
    one joint-Jacobian pass instead of one full pass per link.
    """
    import pinocchio as pin

    opt = optimizer
    model, data, links = opt.robot.model, opt.robot.data, list(opt.target_link_indices)
    qpos = np.zeros(opt.num_joints)
    qpos[opt.idx_pin2fixed] = fixed_qpos
    target = np.asarray(target_pos, dtype=float)
    beta = float(opt.huber_loss.beta)
    last = np.asarray(last_qpos, dtype=float)

    def objective(x: np.ndarray, grad: np.ndarray) -> float:
        qpos[opt.idx_pin2target] = x
        if opt.adaptor is not None:
            qpos[:] = opt.adaptor.forward_qpos(qpos)[:]
        if grad.size > 0:  # joint Jacobians once (forward kinematics included) for every link
            pin.computeJointJacobians(model, data, qpos)
        else:
            pin.forwardKinematics(model, data, qpos)
        body = np.stack([pin.updateFramePlacement(model, data, i).translation for i in links])
        diff = body - target
        small = np.abs(diff) < beta
        value = float(np.where(small, 0.5 * diff**2 / beta, np.abs(diff) - 0.5 * beta).mean())
        if grad.size > 0:
            g = np.where(small, diff / beta, np.sign(diff)) / diff.size  # (n, 3)
            # world-aligned linear Jacobians = R @ (local linear Jacobian), as in the original
            jac = np.stack([pin.getFrameJacobian(model, data, i, pin.LOCAL_WORLD_ALIGNED)[:3] for i in links])
            jac = opt.adaptor.backward_jacobian(jac) if opt.adaptor is not None else jac[..., opt.idx_pin2target]
            grad[:] = np.einsum("nk,nkd->d", g, jac) + 2 * opt.norm_delta * (x - last)
        return value

    return objective


@functools.lru_cache(maxsize=None)
def _cached_retargeting(hand: str, kind: str):
    """One retargeting object per hand and kind per process (building one costs ~0.1-1 s)."""
    return build_retargeting(hand, kind)


def human_hand_frame(kp: np.ndarray) -> np.ndarray:
    """4x4 canonical frame of a human hand from its ``(21, 3)`` keypoints (origin at the wrist)."""
    z = kp[[INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP]].mean(0) - kp[WRIST]
    z /= np.linalg.norm(z)
    y = kp[INDEX_MCP] - kp[PINKY_MCP]
    y -= z * (y @ z)
    y /= np.linalg.norm(y)
    T = np.eye(4)
    T[:3, :3] = np.stack([np.cross(y, z), y, z], axis=1)
    T[:3, 3] = kp[WRIST]
    return T


def knuckles(model: HandModel, q: np.ndarray | None = None) -> np.ndarray:
    """``(F, 3)`` position of the first moving joint of each finger chain (its knuckle)."""
    spec = model.spec
    parent_joint = {j.child: j for j in spec.joints}
    links = []
    for tip in spec.fingertip_links:
        link, base = tip, tip
        while link in parent_joint and link != spec.palm_link:
            j = parent_joint[link]
            if j.type != "fixed":
                base = j.child
            link = j.parent
            if link in {x.child for x in spec.joints if x.type == "fixed" and x.parent == spec.palm_link} | {spec.palm_link}:
                break
        links.append(base)
    return model.link_positions(model.zero() if q is None else q, tuple(links))


@functools.lru_cache(maxsize=None)
def canonical_frame(hand: str) -> tuple[np.ndarray, np.ndarray]:
    """Rotation of the canonical hand frame in the root frame, and the knuckle centroid.

    Derived from the model with the wrist at identity and fingers at zero (straight): +z
    from the non-thumb knuckles' centroid towards their fingertips' centroid (the finger
    direction; robust where the knuckles sit at the root, as on the Allegro hand), +y from
    the last finger's knuckle towards the index finger's (for a two-finger gripper: +z from
    the root towards the fingertips, +y from the right to the left fingertip).
    """
    model = load_hand(hand)
    tips = model.fingertip_positions(model.zero())
    if len(model.fingertip_links) == 2:
        centroid, y, z = tips.mean(0), tips[0] - tips[1], tips.mean(0)
    else:
        k = knuckles(model)
        centroid, y, z = k[1:].mean(0), k[1] - k[-1], tips[1:].mean(0) - k[1:].mean(0)
    z = z / np.linalg.norm(z)
    y = y - z * (y @ z)
    y /= np.linalg.norm(y)
    return np.stack([np.cross(y, z), y, z], axis=1), centroid


def initial_wrist(hand: str, kp: np.ndarray) -> np.ndarray:
    """6 wrist coordinates placing ``hand``'s canonical frame on the human hand frame."""
    H = human_hand_frame(kp)
    R_c, centroid = canonical_frame(hand)
    R_root = H[:3, :3] @ R_c.T
    human_knuckles = kp[[INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP]].mean(0)
    T = np.eye(4)
    T[:3, :3] = R_root
    T[:3, 3] = human_knuckles - R_root @ centroid
    return wrist_pose_to_q(T)


def _validate(keypoints: np.ndarray) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 3 or kp.shape[1:] != (21, 3):
        raise InputError(f"expected human keypoints of shape (T, 21, 3), got {kp.shape}")
    if len(kp) == 0 or not np.all(np.isfinite(kp)):
        raise InputError("human keypoints are empty or contain NaN/inf")
    return kp


def nearest_euler(R: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """The Rx Ry Rz angles of rotation ``R`` ``(3, 3)`` nearest to the angles ``prev`` ``(3,)``.

    Each rotation has two angle triples (``(a, b, c)`` and ``(a + pi, pi - b, c + pi)``) and
    every angle is defined modulo 2 pi; the equivalent triple closest to ``prev`` is returned,
    so a hand turning past +-pi does not jump by 2 pi.
    """
    a, b, c = matrix_to_euler_xyz(R)
    best = None
    for cand in (np.array([a, b, c]), np.array([a + np.pi, np.pi - b, c + np.pi])):
        cand = cand + 2 * np.pi * np.round((prev - cand) / (2 * np.pi))
        if best is None or np.abs(cand - prev).sum() < np.abs(best - prev).sum():
            best = cand
    return best


def retarget_sequence(keypoints: np.ndarray, hand: str | HandModel, kind: str = "position",
                      object_poses: np.ndarray | None = None) -> RetargetResult:
    """Retarget a ``(T, 21, 3)`` human keypoint sequence to ``hand``; see the module docstring.

    With ``object_poses`` ``(T, 4, 4)`` (world poses of the manipulated body) each frame's
    solve starts from — and is regularised towards — the previous solution *moved with the
    object* (``T_obj(t) T_obj(t-1)^-1 T_wrist(t-1)``) instead of the previous solution itself.
    The optimiser's pull towards its starting point otherwise makes the wrist lag behind a
    carried object (measured on the synthetic data: Shadow palm drifting a median 11 mm and
    up to 10 cm relative to the object it carries). Solving in the object's frame instead
    avoids the lag too, but maps the wrist's Euler angles through the Ry = +-pi/2
    singularity far more often (per-frame jumps of ~1 rad).
    """
    kp = _validate(keypoints)
    P = None
    if object_poses is not None:
        P = np.asarray(object_poses, dtype=float)
        if P.shape != (len(kp), 4, 4) or not np.all(np.isfinite(P)):
            raise InputError(f"object_poses must be finite with shape ({len(kp)}, 4, 4), got {P.shape}")
        motion = P[1:] @ np.linalg.inv(P[:-1])  # (T-1, 4, 4): the object's motion t-1 -> t
    model = hand if isinstance(hand, HandModel) else load_hand(hand)
    retargeting = _cached_retargeting(model.name, kind)
    retargeting.reset()
    optimizer = retargeting.optimizer
    names = list(retargeting.joint_names)
    pick = np.array([names.index(n) for n in model.joint_names])
    wrist0 = initial_wrist(model.name, kp[0])
    for k, jn in enumerate(optimizer.target_joint_names[:6]):
        if jn.startswith("dummy_"):
            retargeting.last_qpos[k] = wrist0[k]
    indices = np.asarray(optimizer.target_link_human_indices)
    out = np.empty((len(kp), model.dof))
    dummies = [k for k, jn in enumerate(optimizer.target_joint_names[:6]) if jn.startswith("dummy_")]
    for t, frame in enumerate(kp):
        if P is not None and t > 0 and len(dummies) == 6 and not np.allclose(motion[t - 1], np.eye(4)):
            moved = motion[t - 1] @ q_to_wrist_pose(out[t - 1, :6])
            retargeting.last_qpos[dummies[:3]] = moved[:3, 3]
            retargeting.last_qpos[dummies[3:]] = nearest_euler(moved[:3, :3], out[t - 1, 3:6])
        if optimizer.retargeting_type == "POSITION":
            ref = frame[indices]
        else:
            ref = frame[indices[1]] - frame[indices[0]]
            full = retargeting.get_qpos()
            full[:6] = initial_wrist(model.name, frame)
            retargeting.set_qpos(full)
        # The optimiser regularises towards the previous solution, so the first frame
        # (which starts from the middle of the joint ranges) is solved several times.
        for _ in range(WARMUP_SOLVES if t == 0 else 1):
            full = retargeting.retarget(ref)
        out[t] = full[pick]
        if optimizer.retargeting_type != "POSITION":
            out[t, :6] = initial_wrist(model.name, frame)
    q = model.clamp(out)
    tips = model.fingertip_positions(q)
    human_tip_index = [4, 8, 12, 16, 20] if len(model.fingertip_links) == 5 else [4, 8, 12, 16][: len(model.fingertip_links)]
    err = np.linalg.norm(tips - kp[:, human_tip_index], axis=-1).mean(-1)
    return RetargetResult(hand=model.name, q=q, joint_names=model.joint_names, tip_error=err)
