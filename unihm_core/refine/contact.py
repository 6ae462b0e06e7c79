"""Contact residuals and their Jacobian rows (paper Eq. 11, 13; B15, B18, B19).

For fingertip ``i`` at world position ``s_i(q)`` with world-frame position Jacobian
``J_s,i = ds_i/dq`` ``(3, D)`` and the object pose ``T_tar(t) = [R | t]``:

* object-frame position ``x_i = T_tar^-1 s_i = R^T (s_i - t)``, Jacobian ``J_x,i = R^T J_s,i``;
* nearest neighbour ``(p_i, n_i)`` in the object cloud (frozen within an inner iteration);
* signed point-to-plane distance ``d_i = n_i^T (x_i - p_i)`` (Eq. 11), gradient
  ``dd_i/dq = n_i^T J_x,i = (R n_i)^T J_s,i`` (B19, left);
* residual ``r_i = sqrt(2 lambda_c f(d_i)) >= 0`` (Eq. 13), so ``E_contact = 0.5 ||r||^2 =
  lambda_c sum_i f(d_i)``, and Jacobian row
  ``dr_i/dq = sqrt(2 lambda_c) f'(d_i) / (2 sqrt(f(d_i)) + eps^2) * dd_i/dq`` (B19, right).

Near ``d = 0`` f is quadratic, so ``r_i = sqrt(lambda_c alpha) |d_i|`` and the Gauss-Newton
step on it is the exact Newton step of the quadratic from either side; at ``d = 0`` exactly the
row is zero (``f' = 0``), and ``eps`` keeps it finite.

``attract[i] = False`` (no contact scheduled for fingertip i at this frame) uses the
penetration-only kernel: zero outside, f inside.

``contact_model = "euclidean"`` is the comparison of Fig. B2: ``g_i = ||x_i - p_i||`` (point to
point, unsigned) through the ``|x|`` curve of Fig. B1, ``E = lambda_c alpha sum_i g_i``, residual
``sqrt(2 lambda_c alpha g_i)``; a fingertip without scheduled contact is penalised only when the
nearest point's normal says it is inside.

:class:`ContactEnergy` is the solver's evaluator (one per refinement run, constants bound once);
:func:`contact_terms` is the same evaluation as a plain function.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from unihm_core.refine.config import RefineConfig
from unihm_core.refine.kernel import kernel_scalar
from unihm_core.refine.surface import ObjectSurface


class ContactTerms(NamedTuple):
    """Contact quantities of one frame at one configuration (``F`` fingertips, ``D`` DoF).

    Attributes:
        d: ``(F,)`` signed point-to-plane distances [m] (Eq. 11).
        r: ``(F,)`` residuals (Eq. 13).
        J: ``(F, D)`` residual Jacobian rows (B19), correspondences frozen.
        energy: ``(F,)`` per-fingertip contact energy ``0.5 r_i^2 = lambda_c f(d_i)``.
        index: ``(F,)`` nearest-neighbour indices into the surface points.
        total: ``sum(energy)``, E_contact (Eq. 13).
    """

    d: np.ndarray
    r: np.ndarray
    J: np.ndarray
    energy: np.ndarray
    index: np.ndarray
    total: float


class ContactEnergy:
    """Eq. 11/13/B19 for one surface and configuration, constants bound once.

    ``energy.at(pose, attract)`` binds one frame's object pose ``(4, 4)`` (object to world) and
    contact mask ``attract`` ``(F,)`` (contact scheduled: full kernel; else penetration only)
    and returns ``evaluate(s, Js) -> ContactTerms`` for fingertips ``s`` ``(F, 3)`` [m, world]
    with Jacobians ``Js`` ``(F, 3, D)``; ``energy(s, Js, pose, attract)`` does both at once.
    No state changes between calls (safe to share between threads).
    """

    def __init__(self, surface: ObjectSurface, config: RefineConfig):
        self.surface = surface
        self.config = config

    def __call__(self, s: np.ndarray, Js: np.ndarray, pose: np.ndarray, attract: np.ndarray) -> ContactTerms:
        return self.at(pose, attract)(s, Js)

    def at(self, pose: np.ndarray, attract: np.ndarray) -> Callable[[np.ndarray, np.ndarray], ContactTerms]:
        """The evaluation for one frame (see the class docstring); the solver's inner loop."""
        R = np.array(pose[:3, :3], dtype=float)
        R_T = R.T
        # world -> object frame in homogeneous form with a -1 in place of the 1: x_h = s M + v =
        # [R^T (s - t), -1], so that the point-to-plane distance is one dot with the plane row
        # [n_j, n_j . p_j] (surface.planes)
        M = np.hstack([R, np.zeros((3, 1))])
        v = np.append(-pose[:3, 3] @ R, -1.0)
        att = [bool(a) for a in np.asarray(attract)]
        query, planes, points = self.surface.tree.query, self.surface.planes, self.surface.points
        add_reduce = np.add.reduce
        cfg = self.config
        lc, alpha, k, eps2 = cfg.lambda_c, cfg.alpha, cfg.k, cfg.eps**2
        s2 = math.sqrt(2.0 * lc)
        kernel_model = cfg.contact_model == "kernel"

        def evaluate(s: np.ndarray, Js: np.ndarray) -> ContactTerms:
            xh = s @ M + v
            x = xh[:, :3]  # rows: x_i = R^T (s_i - t), object frame
            idx = query(x)[1]  # nearest neighbours (p_i, n_i), fresh at every evaluation
            plane = planes[idx]
            n = plane[:, :3]
            d = add_reduce(plane * xh, 1)  # Eq. 11: n_i . (x_i - p_i) = [n_i, n_i . p_i] . [x_i, -1]
            rl, cl, el = [], [], []
            if kernel_model:
                dirs = n  # dd/dx in the object frame
                for di, ai in zip(d.tolist(), att):
                    f, f1 = kernel_scalar(di, alpha, k, ai)  # Eq. 12
                    sf = math.sqrt(f)
                    rl.append(s2 * sf)  # Eq. 13: r_i = sqrt(2 lambda_c f(d_i))
                    cl.append(s2 * f1 / (2.0 * sf + eps2))  # B19: dr_i/dd_i
                    el.append(lc * f)
            else:
                diff = x - points[idx]
                g = np.sqrt(np.einsum("ij,ij->i", diff, diff))
                dirs = diff / np.maximum(g, 1e-15)[:, None]  # dg/dx in the object frame
                for gi, di, ai in zip(g.tolist(), d.tolist(), att):
                    if ai or di < 0.0:
                        f = alpha * gi
                        sf = math.sqrt(f)
                        rl.append(s2 * sf)
                        cl.append(s2 * alpha / (2.0 * sf + eps2))
                        el.append(lc * f)
                    else:
                        rl.append(0.0)
                        cl.append(0.0)
                        el.append(0.0)
            # dr_i/dq = c_i * dirs_i^T R^T J_s,i: scale and rotate the (F, 3) directions, then one
            # batched (1, 3) x (3, D) product per fingertip
            w = (np.array(cl)[:, None] * dirs) @ R_T
            J = (w[:, None, :] @ Js)[:, 0, :]
            return ContactTerms(d, np.array(rl), J, np.array(el), idx, sum(el))

        return evaluate


def contact_terms(s: np.ndarray, Js: np.ndarray, pose: np.ndarray, surface: ObjectSurface,
                  attract: np.ndarray, config: RefineConfig) -> ContactTerms:
    """Evaluate Eq. 11/13/B19 for fingertips ``s`` ``(F, 3)`` [m, world] with Jacobians
    ``Js`` ``(F, 3, D)`` against ``surface`` posed at ``pose`` ``(4, 4)`` (object to world).

    ``attract`` ``(F,)`` bool: contact scheduled (full kernel) or not (penetration only).
    For many evaluations build one :class:`ContactEnergy` and call it instead.
    """
    return ContactEnergy(surface, config)(s, Js, pose, attract)
