"""Selecting objects in the Generate tab: a click on the colour image or on the instance
overlay picks the object under it (Point-SAM's role, paper Eq. 8), and a refused or
ambiguous instruction keeps the numbered overlay and the instance list beside the image.

A Gradio handler that raises ``gr.Error`` cannot update its outputs, so the Generate
handler leaves the view of a refusal in :data:`REFUSALS` (per session, bounded) and a
``.failure`` event shows it. Handlers here only format; the core does the work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import gradio as gr
import numpy as np

#: Sessions whose last refusal view is kept (oldest dropped first).
MAX_KEPT = 64


class RefusalStore:
    """Last refusal view per session: (overlay image, instance rows, markdown)."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self._views: OrderedDict[str, tuple] = OrderedDict()
        self._lock = threading.Lock()
        self.max_kept = max_kept

    def put(self, session: str | None, view: tuple) -> None:
        with self._lock:
            self._views[session or ""] = view
            self._views.move_to_end(session or "")
            while len(self._views) > self.max_kept:
                self._views.popitem(last=False)

    def pop(self, session: str | None) -> tuple | None:
        with self._lock:
            return self._views.pop(session or "", None)


REFUSALS = RefusalStore()


def instance_rows(scene, scores: np.ndarray | None = None) -> list[list[Any]]:
    """One row per instance: number, description with its likeliest categories, score."""
    from unihm_core.perception.categories import get_category

    rows = []
    for inst in scene.instances:
        likely = ", ".join(f"{get_category(t).label} {p:.2f}" for t, p in inst.categories[:2])
        desc = inst.description + (f" (looks like: {likely})" if likely else "")
        score = "" if scores is None or len(scores) != len(scene.instances) else round(float(scores[inst.index]), 3)
        rows.append([inst.index, desc, score])
    return rows


def refusal_view(exc: Exception, scene) -> tuple[np.ndarray, list[list[Any]], str]:
    """(overlay, instance rows, markdown) for an instruction the grounding refused.

    An :class:`~unihm_core.perception.grounding.AmbiguityError` draws its candidates in
    yellow; any refusal numbers every instance so that the user can say "#2" or click.
    """
    from unihm_core.perception import mask_overlay

    candidates = list(getattr(exc, "candidates", []) or [])
    overlay = mask_overlay(scene, candidates=candidates)
    rows = instance_rows(scene, getattr(exc, "scores", None))
    head = ("**Ambiguous — please choose** (candidates outlined in yellow)" if candidates
            else "**The instruction was not carried out**")
    text = (f"{head}\n\n{exc}\n\nClick on the object in the colour image or in this overlay, or name it by "
            "its number (e.g. `pick up #1`), then press Generate again.")
    return overlay, rows, text


def remember_refusal(request, exc: Exception) -> None:
    """Keep the refusal view of ``exc`` for this session when perception had run."""
    scene = getattr(exc, "scene", None)
    if scene is None or not getattr(scene, "instances", None):
        return
    REFUSALS.put(getattr(request, "session_hash", None), refusal_view(exc, scene))


def show_refusal(request: gr.Request):
    """``.failure`` handler: the kept view of this session's refusal (nothing changes without one)."""
    view = REFUSALS.pop(getattr(request, "session_hash", None))
    if view is None:
        return gr.update(), gr.update(), gr.update()
    return view


def select_point(evt: gr.SelectData):
    """``.select`` handler of the colour image and the overlay: the clicked pixel (u, v)."""
    index = getattr(evt, "index", None)
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        return None, "Click on an object in the image to select it."
    u, v = float(index[0]), float(index[1])
    return (u, v), (f"**Selected:** the object at pixel ({u:.0f}, {v:.0f}). Press Generate; the instruction "
                    "still says what to do (e.g. *put it into the bowl*), or leave it empty to pick it up.")


def clear_selection():
    return None, ""
