"""Serving the app with its limits, and a clean shutdown.

:func:`serve` sets the bounded queue (:mod:`app.limits`), launches with monitoring off,
sharing off unless asked, no extra served paths and no Python errors shown to users
(:class:`gr.Error` messages still are), and blocks until the server stops.

Shutdown: SIGTERM (what ``kill``, systemd and container runtimes send) is handled like Ctrl-C,
so Gradio closes the server and deletes its upload cache (``delete_cache``); then every
session's output folder is removed (:func:`app.session.remove_all_sessions`), because the
sessions they belong to end with the process. Without this, a terminated server left every
API client's last runs and all uploads on disk.
"""

from __future__ import annotations

import signal

import gradio as gr

from app.limits import HEAVY_CONCURRENCY, MAX_FILE_SIZE, QUEUE_MAX_SIZE
from app.session import remove_all_sessions


def launch_kwargs(host: str, port: int, share: bool = False) -> dict:
    """Keyword arguments of ``Blocks.launch`` for the app."""
    from app.scene3d import frames_js

    return dict(server_name=host, server_port=port, share=bool(share), max_file_size=MAX_FILE_SIZE,
                enable_monitoring=False, allowed_paths=[], show_error=False, js=frames_js())


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # Gradio's main-thread loop closes the server on it


def serve(demo: gr.Blocks, host: str, port: int, share: bool = False) -> None:
    """Queue, launch and block; on Ctrl-C or SIGTERM close Gradio and remove session folders."""
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=HEAVY_CONCURRENCY)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        demo.launch(**launch_kwargs(host, port, share))  # blocks until interrupted
    finally:
        signal.signal(signal.SIGTERM, previous)
        demo.close()
        remove_all_sessions()
