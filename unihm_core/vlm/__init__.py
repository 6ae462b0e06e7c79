"""DexHand VLM: a Qwen3 decoder that turns instruction, object points, object trajectory and
initial hand pose into hand tokens of the shared codebook (paper Sec. 3.3, Eq. 9-10, App. C).

Modules: :mod:`~unihm_core.vlm.config` (VLMConfig, TrainConfig), :mod:`~unihm_core.vlm.vocab`
(token-id layout, text tokenizers), :mod:`~unihm_core.vlm.pointnet` (App. C.2),
:mod:`~unihm_core.vlm.conditioning` (sentence / point-cloud / trajectory projections, App. C.3),
:mod:`~unihm_core.vlm.model` (DexHandVLM and its sequence layout), :mod:`~unihm_core.vlm.masking`
(curriculum, Eq. 10), :mod:`~unihm_core.vlm.train`, :mod:`~unihm_core.vlm.generate`.

Torch and transformers are imported only when the model classes are first used::

    from unihm_core.vlm import DexHandVLM
    vlm = DexHandVLM.load()                       # checkpoints/vlm
    tokens = vlm.generate("allegro", "pick up the mug", obj_points, object_poses, q0, seed=0)
    sample = vlm.sample("allegro", "pick up the mug", obj_points, object_poses, q0, seed=0)  # + top-k per slot
    q, tokens = vlm.generate_trajectory("allegro", "pick up the mug", obj_points, object_poses, q0)
"""

from __future__ import annotations

from unihm_core.vlm.config import VLM_HANDS, TrainConfig, VLMConfig
from unihm_core.vlm.masking import mask_rate
from unihm_core.vlm.vocab import SPECIAL_TOKENS, VocabLayout

_LAZY = {
    "DexHandVLM": "unihm_core.vlm.model",
    "VLMExample": "unihm_core.vlm.model",
    "generate_tokens": "unihm_core.vlm.generate",
    "sample_tokens": "unihm_core.vlm.generate",
    "TokenSample": "unihm_core.vlm.generate",
    "train_vlm": "unihm_core.vlm.train",
}

__all__ = ["SPECIAL_TOKENS", "VLM_HANDS", "DexHandVLM", "TrainConfig", "VLMConfig", "VLMExample", "VocabLayout",
           "generate_tokens", "mask_rate", "sample_tokens", "TokenSample", "train_vlm"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'unihm_core.vlm' has no attribute {name!r}")
