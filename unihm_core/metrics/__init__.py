"""Metrics: physical plausibility (penetration, contact distance, jerk) and motion quality."""

from unihm_core.metrics.physical import fingertip_signed_distances, physical_metrics

__all__ = ["fingertip_signed_distances", "physical_metrics"]
