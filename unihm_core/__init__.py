"""UniHM core: hands, perception, planning, tokenizer, VLM, refinement, simulation, export.

The public API is re-exported here. Heavy backends (pinocchio, SAPIEN, open3d, torch) are
imported only when the functions that need them run.
"""

from unihm_core.errors import (
    CheckpointError,
    ConfigError,
    InputError,
    InternalError,
    JointLimitError,
    RenderError,
    UniHMError,
    UnknownHandError,
)
from unihm_core.hands import HAND_NAMES, HandModel, available_hands, load_hand

__version__ = "0.1.0"

# Heavier parts are exported lazily (PEP 562) so `import unihm_core` stays light.
_LAZY = {
    "Pipeline": "unihm_core.pipeline", "GenerateOptions": "unihm_core.pipeline",
    "GenerationResult": "unihm_core.pipeline",
    "perceive": "unihm_core.perception", "ground": "unihm_core.perception", "Scene": "unihm_core.perception",
    "Intrinsics": "unihm_core.perception", "mask_overlay": "unihm_core.perception",
    "Planner": "unihm_core.planning", "plan": "unihm_core.planning", "object_trajectory": "unihm_core.planning",
    "Tokenizer": "unihm_core.tokenizer", "DexHandVLM": "unihm_core.vlm",
    "refine": "unihm_core.refine", "RefineConfig": "unihm_core.refine",
    "physical_metrics": "unihm_core.metrics",
    "TrajectoryExport": "unihm_core.export", "write_export": "unihm_core.export", "read_export": "unihm_core.export",
    "retarget_sequence": "unihm_core.hands.retarget",
    "SyntheticDataset": "unihm_core.data.dataset", "build_dataset": "unihm_core.data.dataset",
}

__all__ = [
    "HAND_NAMES", "CheckpointError", "ConfigError", "HandModel", "InputError", "InternalError", "JointLimitError",
    "RenderError", "UniHMError", "UnknownHandError", "available_hands", "load_hand", "__version__", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unihm_core' has no attribute {name!r}")
