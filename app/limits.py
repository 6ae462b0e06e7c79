"""Server limits of the app, shared by ``app.py`` (launch) and the tests that probe them.

* :data:`MAX_FILE_SIZE`: largest upload; Gradio answers a bigger one with HTTP 413.
* :data:`QUEUE_MAX_SIZE`: requests waiting in the queue; the next one is told the queue is
  full instead of waiting without bound.
* :data:`HEAVY_CONCURRENCY`: heavy events (generate, re-refine, physics, cross-hand) run one
  at a time; they share the ``"heavy"`` concurrency group.

The per-request time limits are :data:`app.generate_tab.GENERATE_TIME_LIMIT_S` and, for all
hands of the cross-hand tab together, :data:`app.crosshand_tab.CROSSHAND_TIME_LIMIT_S`
(checked between stages and between hands, since a running Gradio function cannot be
cancelled; hands not reached are listed in the tab's note).
"""

from __future__ import annotations

MAX_FILE_SIZE = 20 * 1024 * 1024  # [bytes] (20 MiB; a 640x480 16-bit depth PNG is < 1 MiB)
QUEUE_MAX_SIZE = 16
HEAVY_CONCURRENCY = 1
