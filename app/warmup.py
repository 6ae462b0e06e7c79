"""Warm-ups after the page is up: renderers, models and the compiled refinement in the background.

Serving first and warming up afterwards makes the page answer in seconds instead of half a
minute. The warm-up runs its steps one after the other in a daemon thread, started by the first
page load (:meth:`WarmUp.start` is idempotent) or by a timer a few seconds after launch, so that
the server's own start is not slowed by it. The page shows :meth:`WarmUp.markdown` (polled by a
``gr.Timer`` that turns itself off when everything is ready); the heavy handlers call
:meth:`WarmUp.wait` before they start, which returns at once when no warm-up was started (tests
that call handlers directly) or when it is done, and otherwise waits with a progress message.

A failing step does not stop the others: its message is shown, and the handler that needs it
reports the problem itself when it runs (for example "Rendering unavailable").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"


class WarmUp:
    """Named steps run once, in order, in one background thread; states readable at any time."""

    def __init__(self, steps: list[tuple[str, Callable[[], object]]]):
        self.steps = list(steps)
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self.state: dict[str, str] = {name: WAITING for name, _ in self.steps}
        self.seconds: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.started_at: float | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def start(self) -> bool:
        """Start the background thread (once); True when this call started it."""
        with self._lock:
            if self._thread is not None:
                return False
            self.started_at = time.perf_counter()
            self._thread = threading.Thread(target=self._run, name="unihm-warmup", daemon=True)
            self._thread.start()
            return True

    def start_later(self, delay_s: float) -> threading.Timer:
        """Start after ``delay_s`` unless a page load started it before (daemon timer)."""
        timer = threading.Timer(delay_s, self.start)
        timer.daemon = True
        timer.start()
        return timer

    def _run(self) -> None:
        try:
            for name, fn in self.steps:
                self.state[name] = RUNNING
                t = time.perf_counter()
                try:
                    fn()
                except Exception as exc:  # noqa: BLE001 - shown to the user; the handler reports it again
                    self.errors[name] = str(exc) or type(exc).__name__
                    self.state[name] = FAILED
                else:
                    self.state[name] = DONE
                self.seconds[name] = time.perf_counter() - t
        finally:
            self._finished.set()

    def wait(self, progress: Callable[[float, str], object] | None = None, poll_s: float = 0.5,
             timeout_s: float | None = None) -> bool:
        """Block until the warm-up is done (at once when it was never started); report
        ``progress(fraction, message)`` while waiting. False when ``timeout_s`` ran out."""
        if not self.started:
            return True
        t0 = time.perf_counter()
        while not self._finished.wait(poll_s):
            if progress is not None:
                done = sum(s in (DONE, FAILED) for s in self.state.values())
                running = [n for n, s in self.state.items() if s == RUNNING]
                progress(done / max(len(self.steps), 1),
                         f"waiting for the start-up warm-up ({', '.join(running) or 'starting'}), "
                         f"{done}/{len(self.steps)} steps done")
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                return False
        return True

    def markdown(self) -> str:
        """One line: "⏳ Warming up …" with each step's state, or "✅ Ready" (with failures, if any)."""
        if self.finished:
            total = sum(self.seconds.values())
            line = f"✅ Ready (start-up warm-up took {total:.0f} s)."
            if self.errors:
                line += " " + " ".join(f"⚠️ {n}: {e}" for n, e in self.errors.items())
            return line
        marks = {WAITING: "waiting", RUNNING: "running…", DONE: "✓", FAILED: "✗"}
        parts = [f"{name} {marks[self.state[name]]}" for name, _ in self.steps]
        return ("⏳ **Warming up** (compiling and loading once, after the page is up; a Generate started "
                "now waits for it): " + ", ".join(parts))


def _renderer() -> None:
    from app.rendering import get_renderer, render_unavailable_reason

    if get_renderer() is None:
        raise RuntimeError(f"rendering unavailable: {render_unavailable_reason()}")


def _video() -> None:
    from app.generate_tab import video_renderer

    if video_renderer() is None:
        raise RuntimeError("the video renderer is unavailable (no Vulkan device)")


def _refinement() -> None:
    from unihm_core.refine.warmup import warm_up

    warm_up()


def _models() -> None:
    from app.pipeline_provider import get_pipeline

    get_pipeline()


def default_steps() -> list[tuple[str, Callable[[], object]]]:
    """The app's warm-ups: the models first (Generate needs them), then compiled refinement and renderers."""
    return [("models", _models), ("refinement (numba)", _refinement), ("renderer", _renderer),
            ("video renderer", _video)]


WARMUP = WarmUp(default_steps())
