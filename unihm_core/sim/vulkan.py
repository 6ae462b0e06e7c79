"""Vulkan driver selection for SAPIEN, and the one place that imports it.

SAPIEN 3 renders through Vulkan. On a machine without an NVIDIA GPU the only usable device
is Mesa's software rasteriser *lavapipe*, and only Mesa >= 24.3 works with SAPIEN 3.0.3
(older Mesa fails with "failed to find a rendering device"). :func:`select_vulkan_icd`
points the Vulkan loader at the lavapipe ICD when no NVIDIA driver is present, unless the
user already chose one through ``VK_ICD_FILENAMES``. :func:`import_sapien` does that, imports
SAPIEN, creates a render system once to prove a device exists, and turns the failure into
a :class:`~unihm_core.errors.RenderError` that names the fix.
"""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path
from types import ModuleType

from unihm_core.errors import RenderError

ICD_DIRS = ("/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d")

VULKAN_FIX = (
    "Install Mesa's Vulkan drivers >= 24.3: on Debian 13 `apt-get install mesa-vulkan-drivers "
    "libvulkan1`; on Debian 12 add bookworm-backports and run `apt-get install -t "
    "bookworm-backports mesa-vulkan-drivers` (or run `make setup` as root, which does this)."
)


def nvidia_present() -> bool:
    """True when an NVIDIA kernel driver is loaded (its Vulkan ICD is then preferred)."""
    return Path("/proc/driver/nvidia/version").exists()


def find_lavapipe_icd() -> str | None:
    """Path of Mesa's lavapipe ICD manifest, or None when it is not installed."""
    for d in ICD_DIRS:
        hits = sorted(glob.glob(os.path.join(d, "lvp_icd*.json")))
        if hits:
            return hits[0]
    return None


def select_vulkan_icd() -> str | None:
    """Set ``VK_ICD_FILENAMES`` to lavapipe when no NVIDIA GPU exists; return the ICD used.

    A value the user already set is kept. Returns None when the loader is left to choose
    (NVIDIA present) or when no lavapipe manifest exists.
    """
    if os.environ.get("VK_ICD_FILENAMES"):
        return os.environ["VK_ICD_FILENAMES"]
    if nvidia_present():
        return None
    icd = find_lavapipe_icd()
    if icd is not None:
        os.environ["VK_ICD_FILENAMES"] = icd
    return icd


@functools.lru_cache(maxsize=1)
def import_sapien() -> ModuleType:
    """Import SAPIEN with a working Vulkan device, or raise :class:`RenderError`."""
    icd = select_vulkan_icd()
    try:
        import sapien  # noqa: PLC0415  (heavy, imported on demand)
    except ImportError as exc:  # pragma: no cover - requirements pin sapien
        raise RenderError(f"SAPIEN is not installed ({exc}). Run `make setup`.") from exc
    try:
        sapien.render.RenderSystem()  # creating one probes the Vulkan device
    except RuntimeError as exc:
        where = f"ICD {icd}" if icd else "the default Vulkan loader"
        raise RenderError(f"No usable Vulkan device for SAPIEN via {where} ({exc}). {VULKAN_FIX}") from exc
    return sapien
