"""Hand-state features the tokenizer learns on, and their per-dimension normalisation.

A frame of hand ``h`` is described, for learning, *relative to the manipulated object*
(the canonical frame recommended in DESIGN.md): the wrist (root-link) pose is expressed in
the object frame at the same time step, ``T_rel(t) = inv(T_obj(t)) @ T_wrist(t)``, so that the
object trajectory carries the hand along and tokens describe hand-object relations. One
feature row is::

    x = [p_rel (3) [m],  r6 (6) = first two columns of R_rel, column-major,  finger joints [rad]]

so ``F_h = 9 + finger_dof(h)``. The 6-D rotation (Zhou et al. 2019) is continuous, unlike
the Euler angles of the state ``q`` (see :mod:`unihm_core.hands.model`). The inverse map
orthonormalises the two columns (Gram-Schmidt), multiplies by the object pose, converts
back to ``Rx Ry Rz`` angles and unwraps them over time so a decoded trajectory has no
2*pi jumps.

Chunks: the tokenizer maps ``L`` consecutive frames to one token. A sequence whose length
is not a multiple of ``L`` is padded at the end by repeating its last frame
(:func:`pad_to_multiple`); decoders return the padded length and callers crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError

WRIST_FEATURES = 9  # 3 position + 6 rotation


def feature_dim(finger_dof: int) -> int:
    """Number of features per frame of a hand with ``finger_dof`` actuated finger joints."""
    return WRIST_FEATURES + int(finger_dof)


def _check_inputs(q: np.ndarray, object_poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(q, dtype=np.float64)
    object_poses = np.asarray(object_poses, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] < 6:
        raise InputError(f"expected a hand trajectory q of shape (T, D) with D >= 6, got {q.shape}")
    if object_poses.shape != (q.shape[0], 4, 4):
        raise InputError(f"expected object poses of shape ({q.shape[0]}, 4, 4) (one per frame of q), "
                         f"got {object_poses.shape}")
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(object_poses))):
        raise InputError("hand trajectory or object poses contain NaN or inf")
    return q, object_poses


def rot6d_from_matrix(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation -> ``(..., 6)``: first column then second column."""
    return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)


def matrix_from_rot6d(r6: np.ndarray) -> np.ndarray:
    """``(..., 6)`` -> ``(..., 3, 3)`` rotation by Gram-Schmidt on the two columns."""
    a, b = r6[..., 0:3], r6[..., 3:6]
    c1 = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)
    b = b - np.sum(c1 * b, axis=-1, keepdims=True) * c1
    c2 = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-9)
    c3 = np.cross(c1, c2)
    return np.stack([c1, c2, c3], axis=-1)


def hand_features(q: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
    """Object-frame features of a hand trajectory.

    Args:
        q: ``(T, D)`` hand states (world frame wrist, see :mod:`unihm_core.hands.model`).
        object_poses: ``(T, 4, 4)`` object-to-world poses.

    Returns:
        ``(T, 9 + D - 6)`` features (module docstring), float32.
    """
    from unihm_core.hands import q_to_wrist_pose

    q, object_poses = _check_inputs(q, object_poses)
    T_rel = np.linalg.inv(object_poses) @ q_to_wrist_pose(q[:, :6])
    feats = np.concatenate([T_rel[:, :3, 3], rot6d_from_matrix(T_rel[:, :3, :3]), q[:, 6:]], axis=1)
    return feats.astype(np.float32)


def features_to_q(x: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hand_features`: ``(T, F)`` features + ``(T, 4, 4)`` object poses -> ``(T, D)``.

    The Euler angles are unwrapped over time (continuous trajectory); joint limits are not
    applied here (see :meth:`unihm_core.tokenizer.Tokenizer.decode`).
    """
    from unihm_core.hands import matrix_to_euler_xyz

    x = np.asarray(x, dtype=np.float64)
    object_poses = np.asarray(object_poses, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < WRIST_FEATURES or object_poses.shape != (x.shape[0], 4, 4):
        raise InputError(f"features {x.shape} and object poses {object_poses.shape} do not match "
                         "(expected (T, F>=9) and (T, 4, 4))")
    T_rel = np.zeros((x.shape[0], 4, 4))
    T_rel[:, :3, :3] = matrix_from_rot6d(x[:, 3:9])
    T_rel[:, :3, 3] = x[:, :3]
    T_rel[:, 3, 3] = 1.0
    T_world = object_poses @ T_rel
    euler = np.unwrap(matrix_to_euler_xyz(T_world[:, :3, :3]), axis=0)
    return np.concatenate([T_world[:, :3, 3], euler, x[:, WRIST_FEATURES:]], axis=1)


def pad_to_multiple(a: np.ndarray, L: int) -> np.ndarray:
    """Pad ``a`` (T, ...) along time to a multiple of ``L`` by repeating its last frame."""
    if len(a) == 0:
        raise InputError("cannot tokenise an empty trajectory (T = 0)")
    pad = (-len(a)) % L
    if pad == 0:
        return a
    return np.concatenate([a, np.repeat(a[-1:], pad, axis=0)], axis=0)


@dataclass(frozen=True)
class Normaliser:
    """Per-dimension affine normalisation ``(x - mean) / std`` of one hand's features.

    Attributes:
        mean, std: ``(F,)`` statistics over the training frames (std floored at ``1e-3``).
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise InputError(f"Normaliser: mean {self.mean.shape} and std {self.std.shape} must be equal 1-D shapes")
        if np.any(self.std <= 0):
            raise InputError("Normaliser: std must be positive")

    @classmethod
    def fit(cls, x: np.ndarray, floor: float = 1e-3) -> Normaliser:
        """Statistics of ``x`` (N, F)."""
        x = np.asarray(x, dtype=np.float64)
        return cls(mean=x.mean(0).astype(np.float32), std=np.maximum(x.std(0), floor).astype(np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) * self.std + self.mean).astype(np.float64)
