"""One shared SAPIEN renderer for the app, created and warmed up once, used under a lock."""

from __future__ import annotations

import threading

import numpy as np

from unihm_core import RenderError

_lock = threading.Lock()
_renderer = None
_error: str | None = None


def get_renderer():
    """The shared :class:`~unihm_core.sim.render.HandRenderer`, or None when rendering is impossible.

    The reason is available from :func:`render_unavailable_reason`.
    """
    global _renderer, _error
    with _lock:
        if _renderer is None and _error is None:
            from unihm_core.sim.render import HandRenderer

            try:
                _renderer = HandRenderer(width=480, height=360)
                _renderer.warm_up()
            except RenderError as exc:
                _error = str(exc)
        return _renderer


def render_unavailable_reason() -> str | None:
    return _error


def frame_hand(renderer, tips: np.ndarray, direction=(0.55, -0.45, 0.35)) -> None:
    """Aim the camera at the fingertip centroid from ``direction``, far enough for the hand."""
    from unihm_core.sim.render import look_at

    centre = tips.mean(0)
    extent = max(float(np.linalg.norm(tips - centre, axis=1).max()), 0.05)
    d = np.asarray(direction, float)
    renderer.set_camera(look_at(centre + d / np.linalg.norm(d) * (0.25 + 3.0 * extent), centre))
