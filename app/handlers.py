"""The app's catch-all: every event handler is wrapped by :func:`user_errors`.

A :class:`~unihm_core.errors.UniHMError` becomes a ``gr.Error`` with its message (what was
wrong, what to do); a ``gr.Error`` passes unchanged; anything else is written to the log
(:mod:`unihm_core.logs`) and shown as "internal error, please report it (reference …)" —
never a traceback, a server path or an exception class name. Generator handlers (streamed
progress) are wrapped the same way.
"""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from unihm_core.errors import InternalError, UniHMError
from unihm_core.logs import internal_error_message, log_exception


def _as_gr_error(exc: BaseException, where: str) -> gr.Error:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, UniHMError) and not isinstance(exc, InternalError):
        return gr.Error(str(exc), print_exception=False)
    if isinstance(exc, InternalError):  # already logged by the pipeline
        return gr.Error(str(exc), print_exception=False)
    return gr.Error(internal_error_message(log_exception(f"app handler {where}", exc)), print_exception=False)


def user_errors(fn):
    """Wrap a Gradio handler (plain or generator) so every failure is a clean ``gr.Error``."""
    where = getattr(fn, "__name__", "handler")
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise _as_gr_error(exc, where) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise _as_gr_error(exc, where) from None

    return wrapper
