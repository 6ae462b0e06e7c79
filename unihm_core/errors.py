"""Error hierarchy of UniHM.

Every error raised on purpose derives from :class:`UniHMError`. Messages say what was wrong
and what to do about it, because they are shown to users verbatim (CLI one-liners, app
pop-ups). Callers that only want "a user-facing problem" catch ``UniHMError``.
"""

from __future__ import annotations


class UniHMError(Exception):
    """Base class of every error UniHM raises deliberately."""


class ConfigError(UniHMError, ValueError):
    """A configuration value or file is invalid."""


class UnknownHandError(UniHMError, KeyError):
    """A hand name is not registered."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else "unknown hand"


class JointLimitError(UniHMError, ValueError):
    """A joint configuration lies outside the hand's joint limits."""


class InputError(UniHMError, ValueError):
    """User-supplied data (image, depth, intrinsics, instruction) is unusable."""


class RenderError(UniHMError, RuntimeError):
    """The renderer could not start or render (e.g. no Vulkan device)."""


class CheckpointError(UniHMError, RuntimeError):
    """A checkpoint is missing or does not match the code that loads it."""


class InternalError(UniHMError, RuntimeError):
    """An unexpected exception, caught at an entry point: its traceback is in the log
    (:mod:`unihm_core.logs`) under ``reference``; the original is chained as ``__cause__``."""

    def __init__(self, message: str, reference: str = ""):
        super().__init__(message)
        self.reference = reference
