"""Progressive masking curriculum of the hand-token context (paper Eq. 10, App. C.4).

During training the input slot of hand token i carries, besides trajectory chunk i, the
*context* token: the ground-truth hand token i-1 (for i = 0 the token E_h(q0) of the initial
pose). Eq. 10, ``Q_masked = M * E(Q) + (1 - M) * T_mask``, replaces each context token by the
one learnable [MASK] embedding (the [MASK] row of the embedding table) with probability
``rate``; :func:`mask_rate` gives that rate from the fraction of training done,
``progress = epoch / epochs`` (epoch counted from 0):

* ``progress <= 0.2``: 0 (all ground-truth context),
* ``0.2 < progress < 0.8``: ``(progress - 0.2) / 0.6`` (linear, 0.5 at progress 0.5),
* ``progress >= 0.8``: 1 (every context slot is [MASK]: full generation).

Inference uses the final stage: every hand-token context slot is [MASK].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from unihm_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

START = 0.2
END = 0.8


def mask_rate(epoch: int, epochs: int) -> float:
    """Masking rate for ``epoch`` (0-based) of ``epochs``; see the module docstring."""
    if epochs < 1 or epoch < 0:
        raise ConfigError(f"mask_rate: need epochs >= 1 and epoch >= 0, got epoch={epoch}, epochs={epochs}")
    progress = epoch / epochs
    if progress <= START:
        return 0.0
    if progress >= END:
        return 1.0
    return (progress - START) / (END - START)


def sample_mask(shape: tuple[int, ...], rate: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean tensor, True where the context is replaced by [MASK] (probability ``rate``)."""
    import torch

    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"sample_mask: rate {rate} outside [0, 1]")
    if rate >= 1.0:
        return torch.ones(shape, dtype=torch.bool)
    if rate <= 0.0:
        return torch.zeros(shape, dtype=torch.bool)
    return torch.rand(shape, generator=generator) < rate
