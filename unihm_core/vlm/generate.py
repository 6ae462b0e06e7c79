"""Sampling hand tokens from the DexHand VLM (paper Eq. 9; decoding by D_h afterwards).

Every hand slot's input at inference is ``embed([MASK]) + TrajectoryEncoder(chunk i)``
(the final stage of the masking curriculum, Eq. 10), so the inputs of all slots are known
before sampling starts and a sampled token is never fed back. Four strategies compute the
same restricted logits (equal up to float rounding):

* ``"cache"`` — the prefix once, then one hand slot per step reusing the decoder's keys and
  values (static buffers, :mod:`unihm_core.vlm.kv_decode`); the default, in the shape of
  autoregressive decoding.
* ``"hf_cache"`` — the same through ``transformers``' own forward and ``DynamicCache``
  (~4x slower per step on a CPU; kept as the reference for ``"cache"``).
* ``"full"`` — recompute the whole sequence up to slot i at every step (no cache; the
  reference the cache is tested against).
* ``"parallel"`` — one pass over the full sequence (fastest; valid because inputs never
  depend on samples).

Sampling per slot, in slot order, with one ``torch.Generator`` seeded by ``seed``:
temperature 0 takes the argmax; otherwise logits / temperature, then top-k (keep the k
largest), then top-p (keep the smallest set of most likely codes whose probability reaches
p), then a multinomial draw. Logits outside the codebook rows are never scored (restricted
decoding, see :mod:`unihm_core.vlm.vocab`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from unihm_core.errors import ConfigError

STRATEGIES = ("cache", "hf_cache", "full", "parallel")


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside top-k / the top-p nucleus to -inf. ``logits``: (B, K)."""
    out = logits.clone()
    if top_k and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p < 1.0:
        sorted_l, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_l, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs      # mass of strictly more likely codes
        drop_sorted = before >= top_p                     # the most likely code is always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def sample_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float,
                  generator: torch.Generator) -> torch.Tensor:
    """(B,) code indices drawn from (B, K) logits."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits / temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def _check(temperature: float, top_k: int, top_p: float, strategy: str) -> None:
    if not np.isfinite(temperature) or temperature < 0:
        raise ConfigError(f"temperature={temperature}: must be >= 0 (0 = argmax)")
    if top_k < 0:
        raise ConfigError(f"top_k={top_k}: must be >= 0 (0 = no limit)")
    if not 0 < top_p <= 1:
        raise ConfigError(f"top_p={top_p}: must be in (0, 1]")
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy={strategy!r}: choose one of {STRATEGIES}")


@dataclass(frozen=True)
class TokenSample:
    """The hand tokens sampled for one request, with what the model predicted at each slot.

    The probabilities are the model's own distribution over the codebook at every slot: the
    softmax of the restricted logits at temperature 1, before temperature, top-k and top-p
    reshape it for sampling (so they show what the model believes, whatever the sampling
    settings). ``N`` slots, ``k`` alternatives kept.

    Attributes:
        tokens: ``(N,)`` sampled codebook indices (identical to :func:`generate_tokens`').
        top_codes: ``(N, k)`` the k most likely codebook indices per slot, most likely first.
        top_probs: ``(N, k)`` their probabilities.
        chosen_prob: ``(N,)`` the model's probability of the sampled code.
        entropy: ``(N,)`` entropy of the slot's distribution [nats] (0 = certain; ln K = uniform).
    """

    tokens: np.ndarray
    top_codes: np.ndarray
    top_probs: np.ndarray
    chosen_prob: np.ndarray
    entropy: np.ndarray

    @property
    def rank(self) -> np.ndarray:
        """``(N,)`` rank of the sampled code among the kept alternatives (0 = most likely; k = not kept)."""
        hit = self.top_codes == self.tokens[:, None]
        return np.where(hit.any(1), hit.argmax(1), self.top_codes.shape[1])


@torch.no_grad()
def generate_tokens(model, examples: list, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                    seed: int = 0, strategy: str = "cache") -> list[np.ndarray]:
    """Sample hand tokens for a batch of :class:`~unihm_core.vlm.model.VLMExample`.

    Returns one (N_b,) int64 array of codebook indices per example (N_b = its chunk count).
    """
    return [s.tokens for s in sample_tokens(model, examples, temperature=temperature, top_k=top_k, top_p=top_p,
                                             seed=seed, strategy=strategy, keep=0)]


@torch.no_grad()
def sample_tokens(model, examples: list, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                  seed: int = 0, strategy: str = "cache", keep: int = 5) -> list[TokenSample]:
    """:func:`generate_tokens` that also keeps each slot's ``keep`` most likely codes and their
    probabilities (:class:`TokenSample`). Reading the logits draws nothing from the sampling
    generator, so the tokens are the same as :func:`generate_tokens`' for the same arguments."""
    _check(temperature, top_k, top_p, strategy)
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    batch = model.collate(examples, mask_rate=1.0)
    emb = model.embed(batch)
    S0 = model.prefix_len
    N = batch.traj.shape[1]
    decoder = model.qwen.model
    out = torch.empty((len(examples), N), dtype=torch.int64)
    k = min(int(keep), int(model.config.codebook_size)) if keep else 0
    top_codes = torch.zeros((len(examples), N, k), dtype=torch.int64)
    top_probs = torch.zeros((len(examples), N, k))
    chosen = torch.zeros((len(examples), N))
    entropy = torch.zeros((len(examples), N))

    def pick(i: int, logits: torch.Tensor) -> None:
        out[:, i] = sample_logits(logits, temperature, top_k, top_p, gen)
        if k:
            logp = torch.log_softmax(logits.float(), dim=-1)
            p = logp.exp()
            top = torch.topk(p, k, dim=-1)
            top_codes[:, i], top_probs[:, i] = top.indices, top.values
            chosen[:, i] = p.gather(-1, out[:, i:i + 1])[:, 0]
            entropy[:, i] = -(p * logp.clamp_min(-1e30)).sum(-1)

    if strategy == "parallel":
        logits = model.hand_logits(decoder(inputs_embeds=emb, use_cache=False).last_hidden_state[:, S0:])
        for i in range(N):
            pick(i, logits[:, i])
    elif strategy == "cache":
        from unihm_core.vlm.kv_decode import StaticKVDecoder

        kv = StaticKVDecoder(decoder, len(examples), S0 + N)
        kv.prefill(emb[:, :S0])
        for i in range(N):
            h = kv.step(emb[:, S0 + i:S0 + i + 1])
            pick(i, model.hand_logits(h))
    elif strategy == "hf_cache":
        res = decoder(inputs_embeds=emb[:, :S0], use_cache=True)
        cache = res.cache
        for i in range(N):
            res = decoder(inputs_embeds=emb[:, S0 + i:S0 + i + 1], cache=cache, use_cache=True)
            cache = res.cache
            pick(i, model.hand_logits(res.last_hidden_state[:, -1]))
    else:
        for i in range(N):
            h = decoder(inputs_embeds=emb[:, :S0 + i + 1], use_cache=False).last_hidden_state[:, -1]
            pick(i, model.hand_logits(h))
    model.train(was_training)
    samples = []
    for b, e in enumerate(examples):
        n = len(e.traj)
        samples.append(TokenSample(tokens=out[b, :n].numpy(), top_codes=top_codes[b, :n].numpy(),
                                   top_probs=top_probs[b, :n].numpy().astype(np.float64),
                                   chosen_prob=chosen[b, :n].numpy().astype(np.float64),
                                   entropy=entropy[b, :n].numpy().astype(np.float64)))
    return samples
