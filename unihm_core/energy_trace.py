"""The refinement's energies of one generation, frame by frame (what the Energy tab plots and
``report.json`` stores under ``energies``).

:class:`EnergyTrace` is built from a :class:`~unihm_core.refine.RefineResult` once, by
:meth:`EnergyTrace.from_refine_result`; callers read named arrays instead of picking keys out
of nested dicts. ``T`` frames, ``F`` fingertips.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Per-frame terms of the refined trajectory in plotting order; the last five exist only with the
#: whole-hand energy (link penetration, table, clearance, grip, hold), see
#: :data:`unihm_core.refine.whole_hand.TERMS`.
TERM_ORDER = ("contact_total", "gen", "vel", "acc", "penetration", "table", "clearance", "grip", "hold")


@dataclass(frozen=True)
class EnergyTrace:
    """Per-frame energies of a refinement.

    Attributes:
        fingertip_links: ``(F,)`` fingertip link names (columns of the contact arrays).
        contact_raw: ``(T, F)`` contact energy of the generated (raw) trajectory: the
            refinement's contact term evaluated before it moved anything.
        contact_refined: ``(T, F)`` the same at the refined trajectory.
        total_raw: ``(T,)`` total energy E_t at the start of each frame's refinement.
        terms: refined per-frame terms, name -> ``(T,)`` (``total``, ``initial_total`` and the
            names of :data:`TERM_ORDER` that the energy used).
        schedule: ``(T, F)`` bool, where contact was scheduled (attraction on).
        status: ``(T,)`` the solver's per-frame status ("converged", "stalled", "hit_cap").
    """

    fingertip_links: tuple[str, ...]
    contact_raw: np.ndarray
    contact_refined: np.ndarray
    total_raw: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)
    schedule: np.ndarray | None = None
    status: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(self.contact_refined.shape[0])

    def plotted_terms(self) -> list[tuple[str, np.ndarray]]:
        """``(name, (T,) values)`` of the refined terms present, in :data:`TERM_ORDER`."""
        return [(k, self.terms[k]) for k in TERM_ORDER if k in self.terms]

    @classmethod
    def from_refine_result(cls, r) -> EnergyTrace:
        """The trace of a :class:`~unihm_core.refine.RefineResult` (Algorithm 1 or whole-hand)."""
        from unihm_core.refine import kernel

        mask = np.asarray(r.schedule.mask, bool)
        if r.whole_hand is not None:  # the whole-hand energy's fingertip terms at the generated trajectory
            raw_contact = np.asarray(r.whole_hand["initial_contact"], float)
        else:  # Algorithm 1: attraction only where contact is scheduled
            d, c = r.initial_distances, r.config
            raw_contact = c.lambda_c * np.where(mask, kernel(d, c.alpha, c.k), kernel(d, c.alpha, c.k, attract=False))
        terms = {k: np.asarray(v, float) for k, v in r.energies.items() if k != "contact"}
        return cls(fingertip_links=tuple(r.fingertip_links), contact_raw=np.asarray(raw_contact, float),
                   contact_refined=np.asarray(r.energies["contact"], float),
                   total_raw=np.asarray(r.energies["initial_total"], float), terms=terms, schedule=mask,
                   status=tuple(str(s) for s in r.status))

    def to_dict(self) -> dict:
        """The JSON layout of ``report.json``'s ``energies`` (see docs/EXPORT.md)."""
        refined = {"contact": self.contact_refined.round(8).tolist()}
        refined.update({k: np.asarray(v).round(8).tolist() for k, v in self.terms.items()})
        return {"refined": refined,
                "raw": {"contact": self.contact_raw.round(8).tolist(),
                        "contact_total": self.contact_raw.sum(1).round(8).tolist(),
                        "total": self.total_raw.round(8).tolist()},
                "fingertip_links": list(self.fingertip_links),
                "schedule": None if self.schedule is None else np.asarray(self.schedule, bool).tolist(),
                "status": list(self.status)}
