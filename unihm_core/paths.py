"""Package-relative paths, in one place.

``UNIHM_ROOT`` relocates the data-carrying folders (assets, checkpoints) when the package is
installed somewhere read-only; by default they sit next to the ``unihm_core`` package in the
repository checkout. ``UNIHM_OUTPUT_DIR`` relocates the per-session output folders.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = Path(os.environ.get("UNIHM_ROOT", PACKAGE_DIR.parent)).resolve()
ASSETS_DIR = REPO_ROOT / "assets"
HAND_ASSETS_DIR = ASSETS_DIR / "hands"
EXAMPLES_DIR = ASSETS_DIR / "examples"
CHECKPOINTS_DIR = REPO_ROOT / "checkpoints"
HAND_SPECS_DIR = PACKAGE_DIR / "hands" / "specs"
OUTPUT_DIR = Path(os.environ.get("UNIHM_OUTPUT_DIR", REPO_ROOT / "outputs")).resolve()


def hand_urdf_path(name: str) -> Path:
    """Path of the generated right-hand URDF of hand ``name``."""
    return HAND_ASSETS_DIR / name / f"{name}_right.urdf"
