"""Configuration of the physics-guided refinement (paper Sec. 3.4, App. B.3, Algorithm 1).

Weights of the priors are given per coordinate group of the hand state
``[tx, ty, tz, rx, ry, rz, fingers...]`` as ``(translation [1/m^2], rotation [1/rad^2],
finger [1/rad^2])`` and turned into diagonal positive-definite matrices ``W_gen``, ``W_vel``,
``W_acc`` by :func:`unihm_core.refine.priors.prior_weights`; full matrices can be passed to
:func:`unihm_core.refine.solver.refine` instead. Energies are dimensionless: the contact term is
``lambda_c * f(d)`` with ``d`` in metres (Eq. 13), the priors ``0.5 * dq^T W dq`` (Eq. 14/15).

Default magnitudes, for orientation: a 1 cm wrist offset from the generated pose costs
``0.5 * 100 * 0.01^2 = 0.005``, as does 0.1 rad of wrist rotation or 0.32 rad of one finger
joint, while 1 cm of hovering in a contact frame costs ``1000 * 0.5 * 0.01^2 = 0.05``: contact
wins by an order of magnitude, so scheduled fingertips reach the surface to within a fraction
of a millimetre, and the priors decide *how* the hand gets there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from unihm_core.errors import ConfigError

ContactModel = Literal["kernel", "euclidean"]
Energy = Literal["whole_hand", "paper"]


def _group(name: str, value) -> tuple[float, float, float]:
    """A weight given as one number or three (translation, rotation, finger)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value, value)
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"RefineConfig.{name}={value!r}: give one number or three "
                          "(translation, rotation, finger).") from None
    if len(out) != 3 or not all(math.isfinite(v) and v > 0 for v in out):
        raise ConfigError(f"RefineConfig.{name}={value!r}: need three finite positive weights "
                          "(translation [1/m^2], rotation [1/rad^2], finger [1/rad^2]); the priors "
                          "must be positive definite (Eq. 14/15).")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class RefineConfig:
    """Weights, kernel shape, LM damping, stopping rules and contact-schedule rule.

    Attributes:
        lambda_c: contact strength lambda_c > 0 (Eq. 13).
        alpha: outside scale of the kernel f (Eq. 12), > 0.
        k: inside steepness of the kernel f [1/m], > 0 (see :mod:`unihm_core.refine.kernel`).
        eps: the small epsilon of B19 (denominator ``2 sqrt(f) + eps^2``), > 0.
        w_gen, w_vel, w_acc: diagonal of W_gen (Eq. 14), W_vel, W_acc (Eq. 15) per group
            (translation [1/m^2], rotation [1/rad^2], finger [1/rad^2]); one number means all.
        lambda0: initial LM damping lambda (Eq. 17), >= 0.
        lambda_up, lambda_down: damping factor after a rejected (> 1) / accepted (< 1) step.
        lambda_max: damping beyond which a frame stops as "stalled" (no decrease possible).
        max_iters: iteration cap per frame (linear solves, accepted or not).
        step_tol: converged when the projected step's largest coordinate is below this
            [m or rad].
        energy_rtol: converged when an accepted step lowers E_t by less than
            ``energy_rtol * E_t + energy_atol``.
        energy_atol: absolute energy tolerance (see above).
        restart_from_previous: for ``t >= 1`` run the LM iteration a second time from the
            previous refined frame ``q_{t-1}^opt`` and keep whichever end has the lower E_t.
            Algorithm 1 starts only from ``q_t^gen`` (line 3; ``False`` reproduces it); the
            nearest-neighbour energy has local minima (a fingertip can leave a box through one
            face or another) and jumps where correspondences switch, and a single damped start
            lands in the worse one often enough to cost up to 10 % of the total energy against
            a trust-region solver (docs/RESULTS.md, refine section). About twice the solves.
        contact_model: "kernel" (the paper: point-to-plane distance through f, Eq. 11-13) or
            "euclidean" (the Fig. B2 comparison: ``lambda_c * alpha * ||x - p||``, the
            plain distance to the nearest point, the |x| curve of Fig. B1).
        motion_trans_tol: object pose change per frame above which it moves [m].
        motion_rot_tol: same for the rotation angle [rad].
        lead_in, lead_out: frames of scheduled contact before the object starts / after it
            stops moving.
        contact_radius: a fingertip takes part in a contact phase when it lies within this
            distance [m] of the object surface at the phase's first moving frame.
        energy: ``"whole_hand"`` (the default: every link against object and table, grip,
            approach clearance and hold, one Gauss-Newton problem over the trajectory,
            :mod:`unihm_core.refine.whole_hand`) or ``"paper"`` (Algorithm 1 as printed: fingertip
            contact and the priors, frame by frame; the Table 4 ablation).
        w_touch: whole-hand contact weight [1/m^2]: a scheduled fingertip's surface onto the object.
        w_penetration: every link sphere's penetration into the object [1/m^2].
        w_table: every link sphere's penetration into the table z = 0 [1/m^2].
        w_clearance, clearance: clearance weight [1/m^2] and margin [m] every link keeps from the
            object outside the contact windows (shrinking to zero over the close phase, where the
            scheduled fingertips close with it, growing back over the release).
        w_grip: weight of the net wrench of unit squeezing forces at grasp frames (unitless).
        w_hold: a scheduled fingertip's displacement over the object between frames [1/m^2].
        wh_smoothing: the whole-hand problem's ``W_vel`` and ``W_acc`` are these times the paper's.
        wh_max_iters: Levenberg-Marquardt iterations of the whole-hand problem.
        wh_lambda0: its initial damping (relative to the matrix diagonal).
    """

    lambda_c: float = 1000.0
    alpha: float = 1.0
    k: float = 100.0
    eps: float = 1e-4
    w_gen: tuple[float, float, float] | float = (100.0, 1.0, 0.1)
    w_vel: tuple[float, float, float] | float = (5.0, 0.05, 0.005)
    w_acc: tuple[float, float, float] | float = (20.0, 0.2, 0.02)
    lambda0: float = 0.1
    lambda_up: float = 30.0
    lambda_down: float = 0.5
    lambda_max: float = 1e8
    max_iters: int = 30
    step_tol: float = 1e-5
    energy_rtol: float = 1e-3
    energy_atol: float = 1e-12
    restart_from_previous: bool = True
    contact_model: ContactModel = "kernel"
    motion_trans_tol: float = 5e-4
    motion_rot_tol: float = 5e-3
    lead_in: int = 6
    lead_out: int = 6
    contact_radius: float = 0.03
    energy: Energy = "whole_hand"
    w_touch: float = 1.0e4
    w_penetration: float = 1.0e5
    w_table: float = 1.0e5
    w_clearance: float = 1.0e4
    clearance: float = 0.015
    w_grip: float = 1.0
    w_hold: float = 1.0e4
    wh_smoothing: float = 10.0
    wh_max_iters: int = 30
    wh_lambda0: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("w_gen", "w_vel", "w_acc"):
            object.__setattr__(self, name, _group(name, getattr(self, name)))
        positive = ("lambda_c", "alpha", "k", "eps", "lambda_max", "step_tol", "motion_trans_tol",
                    "motion_rot_tol", "contact_radius", "wh_lambda0", "wh_smoothing")
        nonneg = ("lambda0", "energy_rtol", "energy_atol", "w_touch", "w_penetration", "w_table", "w_clearance",
                  "clearance", "w_grip", "w_hold")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in positive + nonneg + ("lambda_up", "lambda_down"):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ConfigError(f"RefineConfig.{f.name}={v!r} must be a finite number.")
                object.__setattr__(self, f.name, float(v))
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"RefineConfig.{name}={getattr(self, name)!r} must be > 0.")
        for name in nonneg:
            if getattr(self, name) < 0:
                raise ConfigError(f"RefineConfig.{name}={getattr(self, name)!r} must be >= 0.")
        if self.lambda_up <= 1.0:
            raise ConfigError(f"RefineConfig.lambda_up={self.lambda_up} must be > 1 (damping grows "
                              "after a rejected step).")
        if not 0.0 < self.lambda_down < 1.0:
            raise ConfigError(f"RefineConfig.lambda_down={self.lambda_down} must lie in (0, 1).")
        if self.lambda_max <= self.lambda0:
            raise ConfigError(f"RefineConfig.lambda_max={self.lambda_max} must exceed lambda0={self.lambda0}.")
        for name in ("max_iters", "lead_in", "lead_out", "wh_max_iters"):
            v = getattr(self, name)
            least = 1 if name in ("max_iters", "wh_max_iters") else 0
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ConfigError(f"RefineConfig.{name}={v!r} must be an integer >= {least}.")
        if self.energy not in ("whole_hand", "paper"):
            raise ConfigError(f"RefineConfig.energy={self.energy!r}: choose 'whole_hand' (every link, grip, "
                              "clearance; the default) or 'paper' (Algorithm 1 as printed).")
        if not isinstance(self.restart_from_previous, bool):
            raise ConfigError(f"RefineConfig.restart_from_previous={self.restart_from_previous!r} must be "
                              "True or False.")
        if self.contact_model not in ("kernel", "euclidean"):
            raise ConfigError(f"RefineConfig.contact_model={self.contact_model!r}: choose 'kernel' "
                              "(the paper's Eq. 11-13) or 'euclidean' (the Fig. B2 comparison).")

    @classmethod
    def from_dict(cls, d: dict) -> RefineConfig:
        """Build from a mapping (e.g. parsed YAML); unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"RefineConfig: unknown keys {unknown}; known: {sorted(names)}.")
        return cls(**d)
