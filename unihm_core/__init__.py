"""UniHM core: hands, perception, planning, tokenizer, VLM, refinement, simulation, export.

The public API is re-exported here. Heavy backends (pinocchio, SAPIEN, open3d, torch) are
imported only when the functions that need them run.
"""

from unihm_core.errors import (
    CheckpointError,
    ConfigError,
    InputError,
    JointLimitError,
    RenderError,
    UniHMError,
    UnknownHandError,
)
from unihm_core.hands import HAND_NAMES, HandModel, available_hands, load_hand

__version__ = "0.1.0"

__all__ = [
    "HAND_NAMES", "CheckpointError", "ConfigError", "HandModel", "InputError", "JointLimitError",
    "RenderError", "UniHMError", "UnknownHandError", "available_hands", "load_hand", "__version__",
]
