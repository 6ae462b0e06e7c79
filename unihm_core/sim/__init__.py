"""SAPIEN adapter: Vulkan device selection, offscreen rendering, the execution check.

Nothing here imports SAPIEN at package import time; call :func:`import_sapien` (or the
rendering functions) to load it, which first selects a Vulkan driver.
"""

from unihm_core.sim.vulkan import import_sapien, select_vulkan_icd

__all__ = ["import_sapien", "select_vulkan_icd"]
