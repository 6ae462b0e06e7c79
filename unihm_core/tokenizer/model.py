"""Per-hand encoders E_h / decoders D_h around one shared codebook (Sec. 3.2, App. B.2).

Both variants of Table B1 map a window of ``T`` frames (``T`` a multiple of the chunk
length ``L``) of normalised features ``(B, T, F_h)`` to ``T / L`` latent vectors
``(B, T/L, d_z)`` — one per chunk of ``L`` frames, each quantised to one code of the shared
codebook — and back:

Reconstruction term (Eq. 4) on normalised features, weighted so the wrist (9 features) and
the fingers share the loss equally (:func:`rec_weights`).

* ``mlp``: every chunk independently: flatten ``L x F_h`` -> MLP -> ``d_z`` and back. A
  token depends on its own ``L`` frames only.
* ``conv``: 1-D convolutions over time: an input convolution, residual blocks, ``log2 L``
  stride-2 downsampling convolutions (encoder) / nearest-neighbour upsampling + convolution
  (decoder). Token ``i`` still stands for frames ``[iL, (i+1)L)``, but its encoder sees a few
  neighbouring frames and the decoder smooths across neighbouring tokens (receptive field
  in :attr:`TokenizerConfig.receptive_field`), so decoded trajectories have no seams at
  chunk boundaries. Padding is zeros (in normalised units: the mean pose); ``replicate`` padding was 7x slower on CPU.

The module holds no data-dependent state besides weights; feature normalisation lives in
:class:`unihm_core.tokenizer.features.Normaliser` and is saved next to the weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from unihm_core.errors import ConfigError
from unihm_core.tokenizer.codebook import quantise, vq_loss
from unihm_core.tokenizer.features import WRIST_FEATURES

ARCHS = ("conv", "mlp")


@dataclass(frozen=True)
class TokenizerConfig:
    """Architecture and loss constants of the multi-hand VQ-VAE.

    Attributes:
        arch: ``conv`` (1D-Conv) or ``mlp`` (Table B1 variants).
        chunk_len: frames per token ``L`` (a power of two for ``conv``).
        codebook_size: number of codes ``K``.
        code_dim: latent / code dimension ``d_z``.
        hidden: hidden width (channels for ``conv``, units for ``mlp``).
        depth: residual blocks per stage (``conv``) or hidden layers (``mlp``).
        beta: commitment weight of Eq. 5 (paper: 0.25).
        window: training window length in frames (a multiple of ``chunk_len``).
    """

    arch: str = "mlp"
    chunk_len: int = 4
    codebook_size: int = 512
    code_dim: int = 32
    hidden: int = 256
    depth: int = 1
    beta: float = 0.25
    window: int = 32

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"TokenizerConfig.arch must be one of {ARCHS}, got {self.arch!r}")
        if self.chunk_len < 1 or self.codebook_size < 2 or self.code_dim < 1 or self.hidden < 1 or self.depth < 0:
            raise ConfigError("TokenizerConfig: chunk_len >= 1, codebook_size >= 2, code_dim, hidden >= 1, depth >= 0")
        if self.arch == "conv" and self.chunk_len & (self.chunk_len - 1):
            raise ConfigError(f"TokenizerConfig.chunk_len must be a power of two for arch 'conv', got {self.chunk_len}")
        if self.window % self.chunk_len or self.window < self.chunk_len:
            raise ConfigError(f"TokenizerConfig.window ({self.window}) must be a positive multiple of "
                              f"chunk_len ({self.chunk_len})")
        if self.beta <= 0:
            raise ConfigError("TokenizerConfig.beta must be positive")

    @property
    def n_down(self) -> int:
        return self.chunk_len.bit_length() - 1

    def as_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Conv1d:
    pad = dilation * (k - 1) // 2 if stride == 1 else (k - stride) // 2
    return nn.Conv1d(cin, cout, k, stride=stride, padding=pad, dilation=dilation, padding_mode="zeros")


class ResBlock(nn.Module):
    """``x + conv1x1(relu(conv3(relu(x))))`` with a dilated 3-tap convolution."""

    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.c1 = _conv(ch, ch, 3, dilation=dilation)
        self.c2 = nn.Conv1d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(torch.relu(self.c1(torch.relu(x))))


def _res_stack(ch: int, depth: int) -> list[nn.Module]:
    return [ResBlock(ch, 3 ** (i % 2)) for i in range(depth)]


class ConvEncoder(nn.Module):
    """1D-Conv E_h: (B, T, F) -> (B, T/L, d_z)."""

    def __init__(self, feat: int, cfg: TokenizerConfig):
        super().__init__()
        h = cfg.hidden
        layers: list[nn.Module] = [_conv(feat, h), nn.ReLU(), *_res_stack(h, cfg.depth)]
        for _ in range(cfg.n_down):
            layers += [_conv(h, h, 4, stride=2), nn.ReLU(), *_res_stack(h, cfg.depth)]
        layers += [_conv(h, cfg.code_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2)).transpose(1, 2)


class ConvDecoder(nn.Module):
    """1D-Conv D_h: (B, N, d_z) -> (B, N L, F)."""

    def __init__(self, feat: int, cfg: TokenizerConfig):
        super().__init__()
        h = cfg.hidden
        layers: list[nn.Module] = [_conv(cfg.code_dim, h), nn.ReLU(), *_res_stack(h, cfg.depth)]
        for _ in range(cfg.n_down):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(h, h), nn.ReLU(),
                       *_res_stack(h, cfg.depth)]
        layers += [nn.ReLU(), _conv(h, feat)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.transpose(1, 2)).transpose(1, 2)


def _mlp(din: int, dout: int, cfg: TokenizerConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = din
    for _ in range(cfg.depth + 1):
        layers += [nn.Linear(d, cfg.hidden), nn.ReLU()]
        d = cfg.hidden
    layers.append(nn.Linear(d, dout))
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """MLP E_h, one chunk at a time: (B, T, F) -> (B, T/L, d_z)."""

    def __init__(self, feat: int, cfg: TokenizerConfig):
        super().__init__()
        self.L = cfg.chunk_len
        self.net = _mlp(feat * cfg.chunk_len, cfg.code_dim, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, F = x.shape
        return self.net(x.reshape(B, T // self.L, self.L * F))


class MLPDecoder(nn.Module):
    """MLP D_h, one token at a time: (B, N, d_z) -> (B, N L, F)."""

    def __init__(self, feat: int, cfg: TokenizerConfig):
        super().__init__()
        self.L, self.F = cfg.chunk_len, feat
        self.net = _mlp(cfg.code_dim, feat * cfg.chunk_len, cfg)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        B, N, _ = z.shape
        return self.net(z).reshape(B, N * self.L, self.F)


def rec_weights(feat: int) -> torch.Tensor:
    """``(F,)`` weights of the reconstruction term: the 9 wrist features and the finger joints
    each carry half of the loss (mean weight 1), so hands with many finger joints do not
    learn their fingers at the expense of the wrist."""
    w = torch.empty(feat)
    n_f = feat - WRIST_FEATURES
    w[:WRIST_FEATURES] = 0.5 * feat / WRIST_FEATURES if n_f else 1.0
    if n_f:
        w[WRIST_FEATURES:] = 0.5 * feat / n_f
    return w


class MultiHandVQ(nn.Module):
    """Encoders and decoders per hand (``ModuleDict`` keyed by hand name) + the shared codebook."""

    def __init__(self, cfg: TokenizerConfig, feature_dims: dict[str, int]):
        super().__init__()
        self.cfg = cfg
        self.encoders = nn.ModuleDict()
        self.decoders = nn.ModuleDict()
        self.codebook = nn.Parameter(torch.randn(cfg.codebook_size, cfg.code_dim) * 0.1)
        for hand, f in feature_dims.items():
            self.add_hand(hand, f)

    @property
    def hands(self) -> tuple[str, ...]:
        return tuple(self.encoders.keys())

    def add_hand(self, hand: str, feat: int) -> None:
        """Create E_h and D_h for a hand with ``feat`` features per frame."""
        enc, dec = (ConvEncoder, ConvDecoder) if self.cfg.arch == "conv" else (MLPEncoder, MLPDecoder)
        self.encoders[hand] = enc(feat, self.cfg)
        self.decoders[hand] = dec(feat, self.cfg)
        self.register_buffer(f"rec_weight_{hand}", rec_weights(feat))

    def encode(self, hand: str, x: torch.Tensor) -> torch.Tensor:
        """``z_e = E_h(x)``: (B, T, F) -> (B, T/L, d_z) (Eq. B3)."""
        return self.encoders[hand](x)

    def decode(self, hand: str, z: torch.Tensor) -> torch.Tensor:
        """``x_hat = D_h(z)``: (B, N, d_z) -> (B, N L, F) (Eq. 2 / B6)."""
        return self.decoders[hand](z)

    def forward(self, hand: str, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode, quantise (straight-through), decode; tensors and the Eq. 4–5 loss terms."""
        z_e = self.encode(hand, x)
        z_st, idx, z_q = quantise(z_e, self.codebook)
        x_hat = self.decode(hand, z_st)
        rec = ((x_hat - x).pow(2) * getattr(self, f"rec_weight_{hand}")).mean()
        vq, cb, commit = vq_loss(z_e, z_q, self.cfg.beta)
        return {"x_hat": x_hat, "z_e": z_e, "z_q": z_q, "idx": idx, "rec": rec, "vq": vq,
                "codebook_term": cb, "commitment_term": commit}
