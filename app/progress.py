"""Progress that tells the truth: every stage of a run, frame by frame, with elapsed and remaining time.

A :class:`RunProgress` knows the run's stages and how long each is expected to take
(:data:`EXPECTED_S`, measured on 2 cores). It reports ``(fraction, message)`` to a callback
(``gr.Progress`` in the app), where the fraction weights each stage by its expected duration, so
that a 5 s video render is not one jump from 95 % to 100 %. Messages read

    step 9/11: rendering video (frame 12/32) · 8.4 s elapsed · about 4 s left

The remaining time is the expected time of what is left, scaled by the run's pace so far (a
machine twice as slow as expected sees twice the estimate). When a run finishes, each stage's
measured duration updates the expectation (exponential average, :data:`LEARNING_RATE`), so the
estimates adapt to the machine the app runs on. :meth:`RunProgress.summary` is the line shown
after the run: the per-stage times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

# [s] expected stage durations for a 64-frame plan on 2 cores (a first guess; updated by every run)
EXPECTED_S: dict[str, float] = {
    "waiting for the warm-up": 0.5,
    "perception": 1.0, "grounding": 0.5, "planning": 1.0, "vlm": 1.5, "decoding": 0.1, "refinement": 3.0,
    "metrics": 0.1, "physics": 1.0, "rendering video": 5.0, "rendering the simulated replay": 2.5,
    "3-D view and plots": 1.0, "export": 0.3,
}
DEFAULT_EXPECTED_S = 1.0  # [s] for a stage not listed above
LEARNING_RATE = 0.5  # weight of the newest measurement in the expected durations
PIPELINE_STAGES = ("perception", "grounding", "planning", "vlm", "decoding", "refinement", "metrics", "physics")
_learn_lock = threading.Lock()


def generate_stages(render: bool) -> list[str]:
    """The stages of one Generate request, in order."""
    video = ["rendering video", "rendering the simulated replay"] if render else []
    return [*PIPELINE_STAGES, *video, "3-D view and plots", "export"]


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


class RunProgress:
    """Stage-by-stage progress of one run, reported to ``report(fraction, message)``."""

    def __init__(self, stages: Iterable[str], report: Callable[[float, str], object] | None = None,
                 expected: dict[str, float] | None = None, clock: Callable[[], float] = time.perf_counter,
                 learn: bool = True):
        self.stages = list(stages)
        self.learn = learn  # update EXPECTED_S when the run finishes
        self.report = report
        self.expected = dict(EXPECTED_S if expected is None else expected)
        self.clock = clock
        self.t0 = clock()
        self.current: str | None = None
        self.sub = (0, 0)  # (done, total) within the current stage, e.g. video frames
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}  # finished stages

    def _exp(self, name: str) -> float:
        return max(float(self.expected.get(name, DEFAULT_EXPECTED_S)), 1e-3)

    def _close_current(self) -> None:
        if self.current is not None and self.current not in self.seconds:
            self.seconds[self.current] = self.clock() - self.started[self.current]

    def stage(self, name: str) -> None:
        """Enter stage ``name`` (a stage not in the list is inserted after the current one)."""
        if name == self.current:
            return
        self._close_current()
        if name not in self.stages:
            # after the current stage, or first when none started (e.g. waiting for the warm-up)
            at = self.stages.index(self.current) + 1 if self.current in self.stages else 0
            self.stages.insert(at, name)
        # stages skipped on the way (e.g. refinement switched off) count as done in no time
        for s in self.stages[: self.stages.index(name)]:
            self.seconds.setdefault(s, 0.0)
        self.current, self.sub = name, (0, 0)
        self.started[name] = self.clock()
        self._emit()

    def frame(self, done: int, total: int) -> None:
        """``done`` of ``total`` items (frames) of the current stage are finished."""
        self.sub = (int(done), int(total))
        self._emit()

    def pipeline_callback(self, stage: str, fraction: float) -> None:
        """The core pipeline's ``progress(stage, fraction)`` callback."""
        self.stage(stage)

    # ------------------------------------------------------------------------------ numbers
    def fraction(self) -> float:
        """Done part of the run, each stage weighted by its expected duration."""
        total = sum(self._exp(s) for s in self.stages)
        return min(self._expected_done() / total, 1.0) if total > 0 else 0.0

    def _expected_done(self) -> float:
        done = sum(self._exp(s) for s in self.stages if s in self.seconds and s != self.current)
        if self.current is not None:
            k, n = self.sub
            done += self._exp(self.current) * (k / n if n else 0.0)
        return done

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def remaining(self) -> float:
        """Expected seconds left: the expected time of what is left times the pace so far."""
        total = sum(self._exp(s) for s in self.stages)
        done = self._expected_done()
        elapsed = self.elapsed()
        pace = elapsed / done if done > 0.5 else 1.0  # too little done to know the pace
        pace = min(max(pace, 0.25), 10.0)
        left = (total - done) * pace
        if self.current is not None:  # the current stage has at least its own rest to go
            k, n = self.sub
            spent = self.clock() - self.started[self.current]
            left = max(left, self._exp(self.current) * pace * (1 - (k / n if n else 0.0)) - (0 if n else spent))
        return max(left, 0.0)

    def message(self) -> str:
        if self.current is None:
            return "starting"
        n = self.stages.index(self.current) + 1
        k, total = self.sub
        frames = f" (frame {k}/{total})" if total else ""
        return (f"step {n}/{len(self.stages)}: {self.current}{frames} · {_seconds(self.elapsed())} elapsed · "
                f"about {_seconds(self.remaining())} left")

    def _emit(self) -> None:
        if self.report is not None:
            self.report(self.fraction(), self.message())

    # ------------------------------------------------------------------------------ the end
    def finish(self) -> str:
        """Close the run; update the expected durations (when ``learn``); return :meth:`summary`."""
        self._close_current()
        self.current = None
        if self.learn:
            with _learn_lock:
                for name, s in self.seconds.items():
                    if s > 0:  # a skipped stage says nothing about its duration
                        old = EXPECTED_S.get(name, DEFAULT_EXPECTED_S)
                        EXPECTED_S[name] = (1 - LEARNING_RATE) * old + LEARNING_RATE * s
        return self.summary()

    def summary(self) -> str:
        """"Done in 9.8 s: perception 1.0 s · grounding 0.4 s · …" (stages that ran)."""
        parts = [f"{n} {_seconds(self.seconds[n])}" for n in self.stages if self.seconds.get(n, 0) > 0]
        return f"✅ Done in {_seconds(self.elapsed())}: " + " · ".join(parts)


def gradio_reporter(progress) -> Callable[[float, str], None]:
    """A ``report`` for :class:`RunProgress` that drives a ``gr.Progress``."""
    return lambda fraction, message: progress(fraction, desc=message)
