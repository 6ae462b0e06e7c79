"""The one array type the compiled functions take (numba compiles a version per argument type)."""

from __future__ import annotations

import numpy as np


def _plain(x, dtype=float) -> np.ndarray:
    """``x`` as a C-contiguous, writable array of ``dtype`` (copied only when it is not one).

    numba compiles one version of a function per argument type, and the type includes the
    layout and the read-only flag: handing every call the same kind of array keeps it to the
    one version that :func:`unihm_core.refine.warmup.warm_up` compiled ahead of time."""
    return np.require(x, dtype, ["C", "W"])
