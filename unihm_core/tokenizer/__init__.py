"""Unified Hand-Dexterous Tokenizer: per-hand encoders/decoders around one shared codebook.

Sec. 3.2 and App. B.2 of the paper. Public API::

    from unihm_core.tokenizer import Tokenizer
    tok = Tokenizer.load()                     # checkpoints/tokenizer
    tokens = tok.encode("shadow", q, object_poses)
    q_allegro = tok.decode("allegro", tokens, object_poses)

Torch is imported only when a tokenizer is loaded or trained (attribute access below is lazy).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Tokenizer": "unihm_core.tokenizer.tokenizer",
    "TokenizerConfig": "unihm_core.tokenizer.model",
    "TrainConfig": "unihm_core.tokenizer.train",
    "train_tokenizer": "unihm_core.tokenizer.train",
    "train_and_save": "unihm_core.tokenizer.train",
    "add_hand": "unihm_core.tokenizer.train",
    "hand_features": "unihm_core.tokenizer.features",
    "features_to_q": "unihm_core.tokenizer.features",
    "Normaliser": "unihm_core.tokenizer.features",
    "quantise": "unihm_core.tokenizer.codebook",
    "vq_loss": "unihm_core.tokenizer.codebook",
    "refresh_cold_codes": "unihm_core.tokenizer.codebook",
    "usage_stats": "unihm_core.tokenizer.codebook",
    "load_hand_sequences": "unihm_core.tokenizer.data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'unihm_core.tokenizer' has no attribute {name!r}")
