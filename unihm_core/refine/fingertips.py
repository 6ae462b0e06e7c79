"""Fingertip positions and world Jacobians for the solver's inner loop.

Same quantities as :meth:`unihm_core.hands.HandModel.fingertip_jacobians` (positions
``(F, 3)`` [m] and ``ds/dq`` ``(F, 3, D)`` in the world frame, mimic joints chained in through
``q_full = A q + b``), computed with fewer pinocchio calls: one ``computeJointJacobians``
(which also runs forward kinematics) and one frame update per fingertip. It shares the hand
model's pinocchio data, so it is exactly as thread-safe as the hand (not at all: use one
model per thread, :func:`unihm_core.hands.new_hand_model`).
"""

from __future__ import annotations

import numpy as np


class FingertipKinematics:
    """Callable ``q (D,) -> (positions (F, 3), jacobians (F, 3, D))``, no validation."""

    def __init__(self, hand):
        import pinocchio as pin  # noqa: PLC0415

        self._model, self._data = hand.model, hand.data
        self._A, self._b = hand.mimic_map
        self._identity = self._A.shape[0] == self._A.shape[1] and np.array_equal(self._A, np.eye(len(self._A)))
        self._fids = [hand.model.getFrameId(n) for n in hand.fingertip_links]
        self._cjj = pin.computeJointJacobians
        self._ufp = pin.updateFramePlacement
        self._gfj = pin.getFrameJacobian
        self._lwa = pin.LOCAL_WORLD_ALIGNED

    def __call__(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, d = self._model, self._data
        self._cjj(m, d, q + self._b if self._identity else self._A @ q + self._b)
        ufp, gfj, lwa = self._ufp, self._gfj, self._lwa
        pos = np.array([ufp(m, d, f).translation for f in self._fids])
        jac = np.array([gfj(m, d, f, lwa) for f in self._fids])[:, :3]  # linear rows of the 6 x nq Jacobians
        return pos, (jac if self._identity else jac @ self._A)
