"""Compile the refinement ahead of time: every numba function both energies call, on a tiny problem.

The compiled functions are cached on disk (numba ``cache=True``), so only a machine's first call
pays (about 50 s here); the app calls :func:`warm_up` at start-up so that no request does. This sits
above every other module of the package (it runs :func:`unihm_core.refine.solver.refine`), which
keeps :mod:`unihm_core.refine.compiled` free of imports from the modules that use it.
"""

from __future__ import annotations

import numpy as np

from unihm_core.refine.config import RefineConfig
from unihm_core.refine.solver import refine
from unihm_core.refine.synthetic import sphere_cloud


def warm_up() -> None:
    """Run Algorithm 1 (compiled) and the whole-hand refinement once on a tiny problem."""
    from unihm_core.hands import load_hand  # noqa: PLC0415

    hand = load_hand("panda_gripper")
    pts, nrm = sphere_cloud(0.03, 64, np.random.default_rng(0))
    q = np.repeat(hand.zero()[None], 3, 0)
    poses = np.repeat(np.eye(4)[None], 3, 0)
    poses[2, 2, 3] = 0.01  # the object moves: the contact schedule's nearest-point test is compiled too
    for energy in ("paper", "whole_hand"):
        refine(hand, q, pts, poses, normals=nrm, config=RefineConfig(energy=energy))  # (banded.py compiles here)
