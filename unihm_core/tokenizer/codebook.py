"""The shared codebook Z: nearest-code quantisation, VQ loss and cold-code refresh.

* :func:`quantise` — Eq. 1 / B4: ``c = argmin_k ||z_e - e_k||^2``, ``z_q = e_c`` (B5), returned
  with the straight-through estimator ``z_e + sg[z_q - z_e]`` so the reconstruction gradient
  reaches the encoder unchanged.
* :func:`vq_loss` — Eq. 5 / B8: ``||sg[z_e] - z_q||^2 + beta ||z_e - sg[z_q]||^2``. Squared
  norms are averaged over elements (batch, tokens and latent dimensions), a constant rescaling
  of the per-vector norm that keeps the loss independent of batch size; the reconstruction
  term (Eq. 4) is averaged the same way, so the balance of the terms is as in the paper.
* :func:`refresh_cold_codes` — B9–B11: codes used fewer than ``tau_c`` times in an epoch are
  cold; at a refresh epoch, k-means with ``R = |cold|`` centroids over a buffer of recent
  encoder outputs gives the replacements; every other code is left exactly as it was.
* :func:`usage_stats` — counts, perplexity ``exp(H(p))`` and dead codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError


def quantise(z_e, codebook):
    """Nearest-code quantisation with a straight-through gradient (Eq. 1–2).

    Args:
        z_e: ``(..., d_z)`` encoder outputs (torch tensor).
        codebook: ``(K, d_z)`` code vectors (torch tensor).

    Returns:
        ``(z_q_st, indices, z_q)``: the straight-through quantised vectors (forward value =
        ``z_q``, gradient w.r.t. ``z_e`` = identity), ``(...)`` int64 code indices, and the
        plain ``z_q = e_c`` (carries the gradient to the codebook).
    """
    import torch

    flat = z_e.reshape(-1, z_e.shape[-1])
    d = (flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ codebook.t() + codebook.pow(2).sum(1)[None, :])
    idx = torch.argmin(d, dim=1)
    z_q = codebook[idx].reshape(z_e.shape)
    z_q_st = z_e + (z_q - z_e).detach()
    return z_q_st, idx.reshape(z_e.shape[:-1]), z_q


def vq_loss(z_e, z_q, beta: float = 0.25):
    """Eq. 5: codebook term ``||sg[z_e] - z_q||^2`` + ``beta`` * commitment ``||z_e - sg[z_q]||^2``.

    Returns ``(total, codebook_term, commitment_term)`` (element means, module docstring).
    """
    codebook_term = (z_e.detach() - z_q).pow(2).mean()
    commitment_term = (z_e - z_q.detach()).pow(2).mean()
    return codebook_term + beta * commitment_term, codebook_term, commitment_term


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding. ``x`` (N, d) -> ``(k, d)`` centroids.

    With fewer points than ``k`` the centroids are points drawn with replacement plus a small
    jitter (1e-3 of the data spread), so every requested centroid exists.
    """
    x = np.asarray(x, dtype=np.float64)
    if k < 1:
        raise InputError("kmeans: k must be at least 1")
    n = len(x)
    if n == 0:
        raise InputError("kmeans: empty buffer of encoder outputs")
    if n <= k:
        pick = rng.integers(0, n, size=k)
        spread = float(x.std()) + 1e-6
        return x[pick] + rng.normal(0.0, 1e-3 * spread, size=(k, x.shape[1]))
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    d2 = np.sum((x - centres[0]) ** 2, axis=1)
    for i in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        centres[i] = x[rng.choice(n, p=p)]
        d2 = np.minimum(d2, np.sum((x - centres[i]) ** 2, axis=1))
    x2 = np.sum(x * x, axis=1)[:, None]
    for _ in range(iters):
        assign = np.argmin(x2 - 2.0 * x @ centres.T + np.sum(centres * centres, axis=1)[None, :], axis=1)
        counts = np.bincount(assign, minlength=k)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, x)
        moved = counts > 0
        new = centres.copy()
        new[moved] = sums[moved] / counts[moved, None]
        if np.allclose(new, centres):
            break
        centres = new
    return centres


def refresh_cold_codes(codebook: np.ndarray, counts: np.ndarray, buffer: np.ndarray, tau_c: float,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Replace the cold codes by k-means centroids of the buffer (B10–B11).

    Args:
        codebook: ``(K, d_z)`` current codes.
        counts: ``(K,)`` usage counts ``n_k`` of the epoch (B9).
        buffer: ``(N, d_z)`` encoder outputs collected since the previous refresh.
        tau_c: cold threshold; code k is cold when ``n_k < tau_c`` (B10).
        rng: randomness of the k-means seeding.

    Returns:
        ``(new_codebook, cold_indices)``: a copy in which exactly the cold rows changed
        (``e_k <- mu_pi(k)``, with ``pi`` the identity order of the cold set), and the cold set.
    """
    codebook = np.asarray(codebook)
    counts = np.asarray(counts)
    if counts.shape != (codebook.shape[0],):
        raise InputError(f"refresh_cold_codes: counts {counts.shape} do not match codebook {codebook.shape}")
    cold = np.flatnonzero(counts < tau_c)
    new = codebook.copy()
    if len(cold):
        new[cold] = kmeans(buffer, len(cold), rng).astype(codebook.dtype)
    return new, cold


@dataclass(frozen=True)
class UsageStats:
    """Code usage over a set of tokens.

    Attributes:
        counts: ``(K,)`` number of tokens per code.
        used: codes used at least once.
        dead: codes never used (``K - used``).
        perplexity: ``exp(-sum p_k log p_k)`` of the empirical usage (``K`` = uniform use).
    """

    counts: np.ndarray
    used: int
    dead: int
    perplexity: float

    def as_dict(self) -> dict:
        return {"used": self.used, "dead": self.dead, "perplexity": round(self.perplexity, 2),
                "tokens": int(self.counts.sum())}


def usage_stats(indices: np.ndarray, K: int) -> UsageStats:
    """Usage statistics of code ``indices`` (any shape) in a codebook of size ``K``."""
    counts = np.bincount(np.asarray(indices).ravel().astype(np.int64), minlength=K)
    total = counts.sum()
    p = counts[counts > 0] / max(total, 1)
    perplexity = float(np.exp(-np.sum(p * np.log(p)))) if total else 0.0
    used = int(np.count_nonzero(counts))
    return UsageStats(counts=counts, used=used, dead=K - used, perplexity=perplexity)
