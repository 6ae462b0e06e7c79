"""Loads the core :class:`~unihm_core.pipeline.Pipeline` once per process, on first use."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_pipeline = None


def get_pipeline():
    """The shared pipeline; raises :class:`~unihm_core.CheckpointError` when checkpoints are missing."""
    global _pipeline
    with _lock:
        if _pipeline is None:
            from unihm_core.pipeline import Pipeline

            _pipeline = Pipeline.load()
        return _pipeline
