"""Metrics: physical plausibility (penetration, contact distance, jerk) and motion quality (App. F).

:mod:`~unihm_core.metrics.motion` (MPJPE, FPL, FOL, FID, Diversity; numpy only) is imported
here; the torch-based motion encoder and the retrieval baseline load on first use::

    from unihm_core.metrics import MotionEncoder, RetrievalBaseline
"""

from unihm_core.metrics.motion import (
    diversity,
    fid,
    fol_deg,
    fpl_mm,
    frechet_distance,
    hand_joint_positions,
    mpjpe_mm,
    rotation_angle_deg,
    trajectory_errors,
)
from unihm_core.metrics.physical import fingertip_signed_distances, physical_metrics

_LAZY = {
    "MotionEncoder": "unihm_core.metrics.motion_encoder",
    "MotionEncoderConfig": "unihm_core.metrics.motion_encoder",
    "train_motion_encoder": "unihm_core.metrics.motion_encoder",
    "RetrievalBaseline": "unihm_core.metrics.baselines",
    "carry_motion": "unihm_core.metrics.baselines",
}

__all__ = ["MotionEncoder", "MotionEncoderConfig", "RetrievalBaseline", "carry_motion", "diversity", "fid",
           "fingertip_signed_distances", "fol_deg", "fpl_mm", "frechet_distance", "hand_joint_positions", "mpjpe_mm",
           "physical_metrics", "rotation_angle_deg", "train_motion_encoder", "trajectory_errors"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unihm_core.metrics' has no attribute {name!r}")
