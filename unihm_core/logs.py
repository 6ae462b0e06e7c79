"""The internal-error log: where unexpected exceptions go instead of the user's screen.

Every entry point (the CLI's ``main``, :meth:`unihm_core.pipeline.Pipeline.generate` and
``rerefine``, the app's handlers) catches what is not a :class:`~unihm_core.errors.UniHMError`,
writes its traceback here under a short reference and shows the user one line: "internal
error, please report it (reference XXXXXXXX)". The log is ``$UNIHM_LOG_DIR/unihm.log``, or
``<temp dir>/unihm-logs/unihm.log`` without that variable. Writing the log never raises.
"""

from __future__ import annotations

import datetime
import os
import secrets
import tempfile
import threading
import traceback
from pathlib import Path

_lock = threading.Lock()


def log_path() -> Path:
    """The log file (its folder is created on the first entry)."""
    root = os.environ.get("UNIHM_LOG_DIR") or os.path.join(tempfile.gettempdir(), "unihm-logs")
    return Path(root) / "unihm.log"


def log_exception(where: str, exc: BaseException) -> str:
    """Append ``exc``'s traceback to the log under a fresh reference; returns the reference."""
    ref = secrets.token_hex(4)
    try:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        path = log_path()
        with _lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
                f.write(f"=== {stamp} reference {ref} in {where} (pid {os.getpid()})\n{tb}\n")
    except Exception:  # a full disk must not turn one error into two
        pass
    return ref


def internal_error_message(ref: str, where: str = "") -> str:
    """The one line a user sees for an unexpected exception (no path, no class name)."""
    stage = f" in the {where} stage" if where else ""
    return f"internal error{stage}, please report it (reference {ref})"
