"""Physics-guided dynamic refinement (paper Sec. 3.4, App. B.3, Algorithm 1).

``refine(hand, q_gen, surface, object_poses)`` turns a generated joint trajectory into one
whose scheduled fingertips touch the object surface, that does not penetrate it, and that
moves smoothly, by minimising per frame the contact energy (Eq. 11-13) plus the generative
(Eq. 14) and temporal (Eq. 15) priors with Levenberg-Marquardt (Eq. 17-18).
"""

from unihm_core.refine.config import RefineConfig
from unihm_core.refine.contact import ContactTerms, contact_terms
from unihm_core.refine.kernel import kernel, kernel_and_derivatives
from unihm_core.refine.normals import estimate_normals, mesh_normals_at, orient_outward, sample_mesh_surface
from unihm_core.refine.priors import PriorWeights, history, prior_energies, prior_gradient, prior_weights
from unihm_core.refine.schedule import ContactPhase, ContactSchedule, contact_schedule, moving_frames
from unihm_core.refine.solver import CONVERGED, HIT_CAP, STALLED, RefineResult, refine
from unihm_core.refine.surface import ObjectSurface

__all__ = [
    "CONVERGED", "HIT_CAP", "STALLED", "ContactPhase", "ContactSchedule", "ContactTerms", "ObjectSurface",
    "PriorWeights", "RefineConfig", "RefineResult", "contact_schedule", "contact_terms", "estimate_normals",
    "history", "kernel", "kernel_and_derivatives", "mesh_normals_at", "moving_frames", "orient_outward",
    "prior_energies", "prior_gradient", "prior_weights", "refine", "sample_mesh_surface",
]
