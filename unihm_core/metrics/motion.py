"""Motion-quality metrics of paper App. F: MPJPE, FPL, FOL, FID and Diversity.

All positional metrics work on 3-D positions from forward kinematics, never on joint angles
(the state ``q`` of :mod:`unihm_core.hands.model`):

* **MPJPE** (Eq. F1-F2): mean over frames and joints of ``||p_tj - g_tj||`` [mm]. The
  "joints" of a robot hand are the origins of all its links (:meth:`HandModel.link_positions`),
  of the human hand its 21 MANO-order keypoints (:meth:`HandModel.keypoints`).
* **FPL** (Eq. F3): distance between the predicted and ground-truth hand-root (wrist link)
  positions at the last frame [mm].
* **FOL** (Eq. F4-F5): rotation angle ``arccos((tr(R^T R_hat) - 1) / 2)`` between the
  predicted and ground-truth hand-root orientations at the last frame [deg].
* **FID** (Eq. F6-F8): Fréchet distance between Gaussians fitted to the motion-encoder
  features of real and generated sequences,
  ``||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``.
* **Diversity** (Eq. F9): mean pairwise Euclidean distance between the features of a set.

FID and Diversity take feature vectors; they are computed with the motion encoder of
:mod:`unihm_core.metrics.motion_encoder` (same encoder for every method). Per-sequence
metrics are averaged over sequences by the caller (Eq. F2, F3, F5).
"""

from __future__ import annotations

import warnings

import numpy as np

from unihm_core.errors import InputError


def _positions(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != 3 or not np.all(np.isfinite(a)):
        raise InputError(f"{name} must be a finite (..., 3) array of positions [m], got shape {a.shape}")
    return a


def mpjpe_mm(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error (Eq. F1) [mm].

    Args:
        pred: (T, J, 3) predicted joint positions [m].
        gt: (T, J, 3) ground-truth joint positions [m] (same joints, same frames).
    """
    p, g = _positions(pred, "pred"), _positions(gt, "gt")
    if p.shape != g.shape:
        raise InputError(f"MPJPE needs equal shapes, got pred {p.shape} and gt {g.shape}")
    return float(np.linalg.norm(p - g, axis=-1).mean() * 1000.0)


def fpl_mm(pred_root: np.ndarray, gt_root: np.ndarray) -> float:
    """Final position error (Eq. F3) [mm] of the hand root.

    Args:
        pred_root: (T, 3) or (T, 4, 4) predicted root positions / poses [m].
        gt_root: same shape, ground truth. Only the last frame is used.
    """
    p, g = np.asarray(pred_root, dtype=np.float64), np.asarray(gt_root, dtype=np.float64)
    if p.shape != g.shape:
        raise InputError(f"FPL needs equal shapes, got {p.shape} and {g.shape}")
    if p.ndim == 3 and p.shape[1:] == (4, 4):
        p, g = p[:, :3, 3], g[:, :3, 3]
    p, g = _positions(p, "pred_root"), _positions(g, "gt_root")
    return float(np.linalg.norm(p[-1] - g[-1]) * 1000.0)


def rotation_angle_deg(R_gt: np.ndarray, R_pred: np.ndarray) -> float:
    """Geodesic angle between two rotations (Eq. F4) [deg]."""
    R_gt, R_pred = np.asarray(R_gt, dtype=np.float64), np.asarray(R_pred, dtype=np.float64)
    if R_gt.shape != (3, 3) or R_pred.shape != (3, 3):
        raise InputError(f"rotation_angle_deg needs two (3, 3) matrices, got {R_gt.shape} and {R_pred.shape}")
    c = (np.trace(R_gt.T @ R_pred) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def fol_deg(pred_root: np.ndarray, gt_root: np.ndarray) -> float:
    """Final orientation error (Eq. F4) [deg] of the hand root.

    Args:
        pred_root: (T, 4, 4) or (T, 3, 3) predicted root poses / rotations.
        gt_root: same shape, ground truth. Only the last frame is used.
    """
    p, g = np.asarray(pred_root, dtype=np.float64), np.asarray(gt_root, dtype=np.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[1:] not in ((4, 4), (3, 3)):
        raise InputError(f"FOL needs two (T, 4, 4) or (T, 3, 3) arrays of equal shape, got {p.shape} and {g.shape}")
    return rotation_angle_deg(g[-1, :3, :3], p[-1, :3, :3])


def _features(z: np.ndarray, name: str, min_rows: int) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) < min_rows or not np.all(np.isfinite(z)):
        raise InputError(f"{name} must be a finite (M, d) feature array with M >= {min_rows}, got shape {z.shape}")
    return z


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))`` (Eq. F8), >= 0."""
    from scipy import linalg

    diff = np.atleast_1d(np.asarray(mu1, float) - np.asarray(mu2, float))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    # With fewer samples than feature dimensions the covariances are singular (rank M - 1);
    # sqrtm of their product is still defined, scipy only warns that it may be inaccurate.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov1 @ cov2)
        if not np.all(np.isfinite(covmean)):  # numerically failed: regularise both covariances slightly
            eps = 1e-6 * np.eye(len(diff))
            covmean = linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    covmean = np.real(covmean)
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def fid(real: np.ndarray, gen: np.ndarray) -> float:
    """FID (Eq. F6-F8) between real (M_r, d) and generated (M_g, d) features (M >= 2 each)."""
    r, g = _features(real, "real features", 2), _features(gen, "generated features", 2)
    if r.shape[1] != g.shape[1]:
        raise InputError(f"FID needs features of equal width, got {r.shape[1]} and {g.shape[1]}")
    cov_r, cov_g = np.atleast_2d(np.cov(r, rowvar=False)), np.atleast_2d(np.cov(g, rowvar=False))
    return frechet_distance(r.mean(0), cov_r, g.mean(0), cov_g)


def diversity(features: np.ndarray) -> float:
    """Mean pairwise Euclidean distance of (M, d) features, M >= 2 (Eq. F9)."""
    z = _features(features, "features", 2)
    sq = np.sum(z * z, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
    iu = np.triu_indices(len(z), k=1)
    return float(np.sqrt(d2[iu]).mean())


def joint_link_indices(hand) -> list[int]:
    """Indices into ``hand.link_names`` of the MPJPE joints: every link (robot) or the 21 keypoints (human)."""
    links = hand.spec.keypoint_links if hand.spec.keypoint_links is not None else hand.link_names
    return [list(hand.link_names).index(n) for n in links]


def hand_joint_positions(hand, q: np.ndarray) -> np.ndarray:
    """(T, J, 3) positions used by MPJPE: all link origins (robot) or the 21 keypoints (human) [m].

    ``hand`` is a :class:`~unihm_core.hands.HandModel`; ``q`` (T, D) is clamped to its limits
    first (decoded or retrieved trajectories may touch them within float error).
    """
    q = hand.clamp(np.asarray(q, dtype=np.float64))
    return hand.fk(q).link_poses[..., :3, 3][..., joint_link_indices(hand), :]


def trajectory_errors(hand, q_pred: np.ndarray, q_gt: np.ndarray) -> dict[str, float]:
    """MPJPE [mm], FPL [mm] and FOL [deg] of one predicted trajectory against the ground truth.

    Args:
        hand: :class:`~unihm_core.hands.HandModel` of both trajectories.
        q_pred, q_gt: (T, D) joint trajectories (same T).
    """
    from unihm_core.hands import q_to_wrist_pose

    q_pred, q_gt = np.asarray(q_pred, dtype=np.float64), np.asarray(q_gt, dtype=np.float64)
    if q_pred.shape != q_gt.shape:
        raise InputError(f"predicted trajectory {q_pred.shape} and ground truth {q_gt.shape} differ in shape")
    root_p, root_g = q_to_wrist_pose(q_pred[:, :6]), q_to_wrist_pose(q_gt[:, :6])
    return {"mpjpe_mm": mpjpe_mm(hand_joint_positions(hand, q_pred), hand_joint_positions(hand, q_gt)),
            "fpl_mm": fpl_mm(root_p, root_g), "fol_deg": fol_deg(root_p, root_g)}
