"""Hand kinematics on pinocchio: forward kinematics, fingertip Jacobians, limits.

State convention (all hands alike), ``q`` of shape ``(D,)`` or ``(B, D)``::

    q = [tx, ty, tz,  rx, ry, rz,  finger joints...]

``t`` is the position [m] of the hand's root link in the world, the rotation is
``R = Rx(rx) @ Ry(ry) @ Rz(rz)`` [rad] (the dex-retargeting dummy-joint chain, see
:mod:`unihm_core.hands.urdf`), then the actuated finger joints in URDF order. Mimic joints are
not in the state: :meth:`HandModel.expand` maps a state to pinocchio's full configuration
(``q_full = A q + b``), and Jacobians are chained through ``A``.

Joint limits: :meth:`HandModel.fk` and friends *reject* a configuration outside the limits
(by more than 1e-6) with :class:`~unihm_core.errors.JointLimitError`; call
:meth:`HandModel.clamp` first to project onto the limits explicitly. Mimic joints are
expanded from their ratio even where the result exceeds the mimic joint's own nominal
range, as in the robots' URDFs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from unihm_core.errors import JointLimitError
from unihm_core.hands.spec import HandSpec
from unihm_core.hands.urdf import WRIST_JOINT_NAMES, urdf_string

LIMIT_TOL = 1e-6


@dataclass(frozen=True)
class FKResult:
    """Forward kinematics of one or a batch of configurations.

    Attributes:
        link_poses: ``(..., L, 4, 4)`` world poses of ``HandModel.link_names``.
        fingertips: ``(..., F, 3)`` fingertip positions [m] in ``fingertip_links`` order.
    """

    link_poses: np.ndarray
    fingertips: np.ndarray


def euler_xyz_to_matrix(r: np.ndarray) -> np.ndarray:
    """``Rx(r0) @ Ry(r1) @ Rz(r2)`` for ``r`` of shape ``(..., 3)`` -> ``(..., 3, 3)``."""
    r = np.asarray(r, float)
    c, s = np.cos(r), np.sin(r)
    one, zero = np.ones_like(c[..., 0]), np.zeros_like(c[..., 0])
    rx = np.stack([one, zero, zero, zero, c[..., 0], -s[..., 0], zero, s[..., 0], c[..., 0]], -1)
    ry = np.stack([c[..., 1], zero, s[..., 1], zero, one, zero, -s[..., 1], zero, c[..., 1]], -1)
    rz = np.stack([c[..., 2], -s[..., 2], zero, s[..., 2], c[..., 2], zero, zero, zero, one], -1)
    shape = r.shape[:-1] + (3, 3)
    return rx.reshape(shape) @ ry.reshape(shape) @ rz.reshape(shape)


def matrix_to_euler_xyz(R: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_xyz_to_matrix` (``ry`` in [-pi/2, pi/2]).

    From ``R = Rx(a) Ry(b) Rz(c)``: ``R02 = sin b``, ``(R12, R22) = cos b (-sin a, cos a)``,
    ``(R01, R00) = cos b (-sin c, cos c)``. At ``b = +-pi/2`` only ``a +- c`` is determined;
    then ``c = 0`` and ``a = atan2(R21, R11)``.
    """
    R = np.asarray(R, float)
    b = np.arcsin(np.clip(R[..., 0, 2], -1.0, 1.0))
    a = np.arctan2(-R[..., 1, 2], R[..., 2, 2])
    c = np.arctan2(-R[..., 0, 1], R[..., 0, 0])
    lock = np.hypot(R[..., 0, 0], R[..., 0, 1]) < 1e-9
    a = np.where(lock, np.arctan2(R[..., 2, 1], R[..., 1, 1]), a)
    c = np.where(lock, 0.0, c)
    return np.stack([a, b, c], axis=-1)


def wrist_pose_to_q(T: np.ndarray) -> np.ndarray:
    """6 wrist coordinates ``[t, r]`` of a ``(..., 4, 4)`` root-link pose."""
    T = np.asarray(T, float)
    return np.concatenate([T[..., :3, 3], matrix_to_euler_xyz(T[..., :3, :3])], -1)


def q_to_wrist_pose(q_wrist: np.ndarray) -> np.ndarray:
    """``(..., 4, 4)`` root-link pose from the 6 wrist coordinates."""
    q_wrist = np.asarray(q_wrist, float)
    T = np.zeros(q_wrist.shape[:-1] + (4, 4))
    T[..., :3, :3] = euler_xyz_to_matrix(q_wrist[..., 3:6])
    T[..., :3, 3] = q_wrist[..., :3]
    T[..., 3, 3] = 1.0
    return T


class HandModel:
    """Kinematic model of one hand with a floating wrist (see the module docstring).

    Attributes:
        spec: the :class:`HandSpec` it was built from.
        joint_names: ``(D,)`` names of the state coordinates (6 wrist + fingers).
        finger_joint_names: the actuated finger joints.
        lower, upper: ``(D,)`` limits [m or rad].
        fingertip_links: link names of the fingertips.
        link_names: every link of the hand (not the 6 wrist dummies).
    """

    def __init__(self, spec: HandSpec):
        import pinocchio as pin  # noqa: PLC0415

        self._pin = pin
        self.spec = spec
        self.name = spec.name
        self.model = pin.buildModelFromXML(urdf_string(spec, floating=True))
        self.data = self.model.createData()
        finger = spec.actuated_joints
        self.finger_joint_names: tuple[str, ...] = tuple(j.name for j in finger)
        self.joint_names: tuple[str, ...] = WRIST_JOINT_NAMES + self.finger_joint_names
        self.dof = len(self.joint_names)
        self.n_wrist = 6
        pin_lower = self.model.lowerPositionLimit
        pin_upper = self.model.upperPositionLimit
        # Expansion q_full = A q + b (mimic joints follow their source joint).
        nq = self.model.nq
        A = np.zeros((nq, self.dof))
        b = np.zeros(nq)
        state_index = {n: i for i, n in enumerate(self.joint_names)}
        lower, upper = np.zeros(self.dof), np.zeros(self.dof)
        by_name = {j.name: j for j in spec.joints}
        for jid in range(1, self.model.njoints):
            jname = self.model.names[jid]
            iq = self.model.joints[jid].idx_q
            if self.model.joints[jid].nq != 1:
                raise JointLimitError(f"hand {spec.name!r}: joint {jname!r} is not a 1-DoF joint")
            js = by_name.get(jname)
            if js is not None and js.mimic is not None:
                A[iq, state_index[js.mimic.joint]] = js.mimic.multiplier
                b[iq] = js.mimic.offset
            else:
                k = state_index[jname]
                A[iq, k] = 1.0
                lower[k], upper[k] = pin_lower[iq], pin_upper[iq]
        self._A, self._b = A, b
        self.lower, self.upper = lower, upper
        self.fingertip_links: tuple[str, ...] = spec.fingertip_links
        self.link_names: tuple[str, ...] = spec.link_names
        self._link_fids = [self.model.getFrameId(n) for n in self.link_names]
        self._tip_fids = [self.model.getFrameId(n) for n in self.fingertip_links]
        self._tip_link_index = [self.link_names.index(n) for n in self.fingertip_links]

    def __repr__(self) -> str:
        return f"HandModel({self.name!r}, dof={self.dof}, fingertips={len(self.fingertip_links)})"

    # ------------------------------------------------------------------ state helpers
    @property
    def finger_dof(self) -> int:
        return self.dof - self.n_wrist

    @cached_property
    def mimic_map(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)`` with ``q_full = A @ q + b`` in pinocchio's joint order."""
        return self._A.copy(), self._b.copy()

    def expand(self, q: np.ndarray) -> np.ndarray:
        """Pinocchio configuration ``(..., nq)`` of state ``q`` ``(..., D)`` (mimic joints filled in)."""
        return np.asarray(q, float) @ self._A.T + self._b

    def clamp(self, q: np.ndarray) -> np.ndarray:
        """Project ``q`` onto the joint limits."""
        return np.clip(q, self.lower, self.upper)

    def within_limits(self, q: np.ndarray, tol: float = LIMIT_TOL) -> np.ndarray:
        """Boolean (per configuration) whether every coordinate is within its limits."""
        q = np.asarray(q, float)
        return np.all((q >= self.lower - tol) & (q <= self.upper + tol), axis=-1)

    def check(self, q: np.ndarray) -> np.ndarray:
        """Validate shape, finiteness and limits of ``q``; return it as a float array."""
        q = np.asarray(q, dtype=float)
        if q.shape[-1:] != (self.dof,):
            raise JointLimitError(f"{self.name}: expected configurations with {self.dof} values "
                                  f"({', '.join(self.joint_names[:8])}, ...), got shape {q.shape}")
        if not np.all(np.isfinite(q)):
            raise JointLimitError(f"{self.name}: configuration contains NaN or inf")
        bad = ~((q >= self.lower - LIMIT_TOL) & (q <= self.upper + LIMIT_TOL))
        if np.any(bad):
            k = int(np.argwhere(bad)[0][-1])
            v = q.reshape(-1, self.dof)[np.any(bad.reshape(-1, self.dof), axis=1)][0, k]
            raise JointLimitError(f"{self.name}: joint {self.joint_label(k)!r} = {v:.4f} is outside "
                                  f"[{self.lower[k]:.4f}, {self.upper[k]:.4f}]; call HandModel.clamp(q) first")
        return q

    def zero(self) -> np.ndarray:
        """A neutral state: wrist at the origin, fingers at zero clipped into their limits."""
        return self.clamp(np.zeros(self.dof))

    def random(self, rng: np.random.Generator, n: int | None = None, wrist_scale: float = 0.2) -> np.ndarray:
        """Uniform random finger joints within limits; wrist position in a ``wrist_scale`` cube
        and wrist angles in [-pi, pi]. Shape ``(D,)`` or ``(n, D)``."""
        shape = (self.dof,) if n is None else (n, self.dof)
        q = rng.uniform(self.lower, self.upper, size=shape)
        q[..., :3] = rng.uniform(-wrist_scale, wrist_scale, size=shape[:-1] + (3,))
        q[..., 3:6] = rng.uniform(-np.pi, np.pi, size=shape[:-1] + (3,))
        return q

    # ------------------------------------------------------------------ kinematics
    def _forward(self, q1: np.ndarray) -> None:
        pin = self._pin
        pin.forwardKinematics(self.model, self.data, self.expand(q1))
        pin.updateFramePlacements(self.model, self.data)

    def fk(self, q: np.ndarray) -> FKResult:
        """World poses of every link and fingertip positions for ``q`` ``(D,)`` or ``(B, D)``."""
        q = self.check(q)
        flat = q.reshape(-1, self.dof)
        poses = np.empty((len(flat), len(self.link_names), 4, 4))
        for i, qi in enumerate(flat):
            self._forward(qi)
            for k, fid in enumerate(self._link_fids):
                poses[i, k] = self.data.oMf[fid].homogeneous
        poses = poses.reshape(q.shape[:-1] + poses.shape[1:])
        return FKResult(link_poses=poses, fingertips=poses[..., self._tip_link_index, :, :][..., :3, 3])

    def fingertip_positions(self, q: np.ndarray) -> np.ndarray:
        """``(..., F, 3)`` fingertip positions [m]."""
        q = self.check(q)
        flat = q.reshape(-1, self.dof)
        out = np.empty((len(flat), len(self._tip_fids), 3))
        for i, qi in enumerate(flat):
            self._forward(qi)
            for k, fid in enumerate(self._tip_fids):
                out[i, k] = self.data.oMf[fid].translation
        return out.reshape(q.shape[:-1] + out.shape[1:])

    def link_positions(self, q: np.ndarray, links: tuple[str, ...] | None = None) -> np.ndarray:
        """``(..., L, 3)`` origins of ``links`` (default: all links)."""
        poses = self.fk(q).link_poses[..., :3, 3]
        if links is None:
            return poses
        return poses[..., [self.link_names.index(n) for n in links], :]

    def keypoints(self, q: np.ndarray) -> np.ndarray:
        """``(..., 21, 3)`` MANO-order keypoints (human hand only)."""
        if self.spec.keypoint_links is None:
            raise JointLimitError(f"{self.name} has no keypoint links; only the human hand does")
        return self.link_positions(q, self.spec.keypoint_links)

    def fingertip_jacobians(self, q: np.ndarray, unchecked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Fingertip positions ``(F, 3)`` and position Jacobians ``(F, 3, D)`` w.r.t. the state.

        ``unchecked=True`` skips validation (hot loops that clamp themselves).
        """
        pin = self._pin
        q = np.asarray(q, float) if unchecked else self.check(q)
        qf = self.expand(q)
        pin.computeJointJacobians(self.model, self.data, qf)
        pin.updateFramePlacements(self.model, self.data)
        F = len(self._tip_fids)
        pos = np.empty((F, 3))
        jac_full = np.empty((F, 3, self.model.nv))
        for k, fid in enumerate(self._tip_fids):
            pos[k] = self.data.oMf[fid].translation
            jac_full[k] = pin.getFrameJacobian(self.model, self.data, fid, pin.LOCAL_WORLD_ALIGNED)[:3]
        return pos, jac_full @ self._A

    def frame_jacobians(self, q: np.ndarray, links: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`fingertip_jacobians` for arbitrary links: ``(L, 3)``, ``(L, 3, D)``."""
        pin = self._pin
        qf = self.expand(self.check(q))
        pin.computeJointJacobians(self.model, self.data, qf)
        pin.updateFramePlacements(self.model, self.data)
        fids = [self.model.getFrameId(n) for n in links]
        pos = np.stack([self.data.oMf[f].translation for f in fids])
        jac = np.stack([pin.getFrameJacobian(self.model, self.data, f, pin.LOCAL_WORLD_ALIGNED)[:3] for f in fids])
        return pos, jac @ self._A

    def joint_label(self, i: int) -> str:
        """State coordinate ``i``'s name with what it moves where the name does not say it
        (LEAP ``"1 (index finger, MCP flexion)"``, Shadow ``"WRJ1 (wrist, ...)"``; see
        :mod:`unihm_core.hands.joint_names`)."""
        from unihm_core.hands.joint_names import joint_label  # noqa: PLC0415

        name = self.joint_names[i]
        return f"{name} (floating wrist)" if i < 6 else joint_label(self.spec, name)

    def joint_table(self) -> list[dict]:
        """One row per state coordinate: name, kind ("floating wrist", "wrist" for the hand's own
        wrist joints such as Shadow's WRJ1/WRJ2, or "finger"), meaning, lower, upper, unit."""
        from unihm_core.hands.joint_names import describe_joints  # noqa: PLC0415

        meanings = describe_joints(self.spec)
        rows = []
        for i, n in enumerate(self.joint_names):
            prismatic = i < 3 or (i >= 6 and self.model.joints[self.model.getJointId(n)].shortname().endswith(
                ("PX", "PY", "PZ", "PrismaticUnaligned")))
            m = meanings.get(n) if i >= 6 else None
            rows.append({"joint": n, "kind": "floating wrist" if i < 6 else (m.kind if m else "finger"),
                         "meaning": "floating wrist (position and orientation)" if i < 6 else (m.text() if m else ""),
                         "lower": float(self.lower[i]), "upper": float(self.upper[i]),
                         "unit": "m" if prismatic else "rad"})
        return rows
