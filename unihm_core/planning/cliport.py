"""The two-stream CLIPort-style planner network (paper Eq. 7; Shridhar et al., CLIPort, 2021).

Input: a top-down height/colour map (:class:`~unihm_core.planning.heightmap.Heightmap`,
5 channels: RGB, height, valid) plus two coordinate channels (x, y in [-1, 1], so the
network can tell "left" from "right"), and a sentence embedding (all-MiniLM-L6-v2,
384-D) that conditions every decoder level by FiLM (``x * (1 + gamma) + beta``).

* **Attention stream** (where to act): a small U-Net -> one logit per cell; the pick is the
  arg-max of the softmax over the map.
* **Transport stream** (where the object goes): a second U-Net, fed the map plus a Gaussian
  blob at the pick, gives a *key* feature map and a *query* feature map. The query
  features in a ``crop`` x ``crop`` window around the pick are cross-correlated with the
  key map (Transporter networks); the place is the arg-max of the result. As in
  CLIPort both streams see the language. Unlike CLIPort only one rotation is scored: the
  object's orientation over time comes from the task's trajectory rule
  (:mod:`~unihm_core.planning.trajectory`), not from the network.

Both heads are trained with a cross-entropy over all cells (``unihm train planner``).
Sizes are set by :class:`PlannerNetConfig` (defaults: ~0.5 M parameters, ~2 MB float32).
torch is imported with this module; import it lazily.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unihm_core.errors import ConfigError


@dataclass(frozen=True)
class PlannerNetConfig:
    """Network sizes.

    Attributes:
        in_channels: heightmap channels (5) — coordinate channels are added inside.
        text_dim: sentence-embedding width (384 for all-MiniLM-L6-v2).
        widths: channels per U-Net level (each level halves the resolution).
        key_dim: transport feature width per cell.
        crop: transport query window [cells] (odd).
        pick_sigma: std of the pick blob given to the transport stream [cells].
        film_hidden: width of the language MLP.
    """

    in_channels: int = 5
    text_dim: int = 384
    widths: tuple[int, ...] = (16, 24, 32, 48)
    key_dim: int = 16
    crop: int = 7
    pick_sigma: float = 2.0
    film_hidden: int = 128

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or any(w < 1 for w in self.widths):
            raise ConfigError(f"PlannerNetConfig.widths needs >= 2 positive entries, got {self.widths}")
        if self.crop < 1 or self.crop % 2 == 0:
            raise ConfigError(f"PlannerNetConfig.crop must be a positive odd number, got {self.crop}")
        if self.key_dim < 1 or self.text_dim < 1 or self.film_hidden < 1 or self.in_channels < 1:
            raise ConfigError("PlannerNetConfig: key_dim, text_dim, film_hidden and in_channels must be positive")
        if not self.pick_sigma > 0:
            raise ConfigError("PlannerNetConfig.pick_sigma must be > 0 cells")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PlannerNetConfig:
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


def _block(cin: int, cout: int, convs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(convs):
        layers += [nn.Conv2d(cin if k == 0 else cout, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class LangUNet(nn.Module):
    """U-Net whose decoder levels are FiLM-modulated by a sentence embedding."""

    def __init__(self, cin: int, cout: int, widths: tuple[int, ...], text_dim: int, film_hidden: int):
        super().__init__()
        self.enc = nn.ModuleList()
        c = cin
        for i, w in enumerate(widths):  # one conv at full resolution (the costly level), two below
            self.enc.append(_block(c, w, 1 if i == 0 else 2))
            c = w
        self.dec = nn.ModuleList()
        self.dec_widths = list(reversed(widths[:-1]))
        for j, w in enumerate(self.dec_widths):
            self.dec.append(_block(c + w, w, 1 if j == len(self.dec_widths) - 1 else 2))
            c = w
        film_dims = [widths[-1]] + self.dec_widths
        self.film = nn.Sequential(nn.Linear(text_dim, film_hidden), nn.ReLU(inplace=True),
                                  nn.Linear(film_hidden, 2 * sum(film_dims)))
        nn.init.zeros_(self.film[-1].weight)
        nn.init.zeros_(self.film[-1].bias)
        self.film_dims = film_dims
        self.head = nn.Conv2d(c, cout, 1)

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        params = torch.split(self.film(text), [2 * d for d in self.film_dims], dim=1)
        skips = []
        for i, blk in enumerate(self.enc):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = blk(x)
            skips.append(x)
        x = self._film(x, params[0])
        for j, blk in enumerate(self.dec):
            skip = skips[-2 - j]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = blk(torch.cat([x, skip], dim=1))
            x = self._film(x, params[j + 1])
        return self.head(x)

    @staticmethod
    def _film(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        gamma, beta = p.chunk(2, dim=1)
        return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


def coord_channels(b: int, h: int, w: int, device=None) -> torch.Tensor:
    """(B, 2, H, W) x (columns) and y (rows) coordinates in [-1, 1]."""
    ys = torch.linspace(-1.0, 1.0, h, device=device)
    xs = torch.linspace(-1.0, 1.0, w, device=device)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy])[None].expand(b, 2, h, w)


def pick_blob(pick: torch.Tensor, h: int, w: int, sigma: float) -> torch.Tensor:
    """(B, 1, H, W) Gaussian bump of std ``sigma`` [cells] at ``pick`` (B, 2) (row, col)."""
    rows = torch.arange(h, device=pick.device, dtype=torch.float32)
    cols = torch.arange(w, device=pick.device, dtype=torch.float32)
    dr = (rows[None, :] - pick[:, :1].float()) ** 2
    dc = (cols[None, :] - pick[:, 1:2].float()) ** 2
    return torch.exp(-(dr[:, :, None] + dc[:, None, :]) / (2 * sigma**2))[:, None]


class CLIPortNet(nn.Module):
    """Attention (pick) and transport (place) streams; see the module docstring."""

    def __init__(self, config: PlannerNetConfig | None = None):
        super().__init__()
        cfg = config or PlannerNetConfig()
        self.config = cfg
        cin = cfg.in_channels + 2
        self.attention = LangUNet(cin, 1, cfg.widths, cfg.text_dim, cfg.film_hidden)
        self.transport = LangUNet(cin + 1, 2 * cfg.key_dim, cfg.widths, cfg.text_dim, cfg.film_hidden)

    def _input(self, maps: torch.Tensor) -> torch.Tensor:
        b, _, h, w = maps.shape
        return torch.cat([maps, coord_channels(b, h, w, maps.device)], dim=1)

    def attend(self, maps: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B, H, W) pick logits for maps (B, C, H, W) and embeddings (B, E)."""
        return self.attention(self._input(maps), text)[:, 0]

    def transport_logits(self, maps: torch.Tensor, text: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
        """(B, H, W) place logits given the pick cells (B, 2) (row, col)."""
        cfg = self.config
        b, _, h, w = maps.shape
        x = torch.cat([self._input(maps), pick_blob(pick, h, w, cfg.pick_sigma)], dim=1)
        feats = self.transport(x, text)
        key, query = feats[:, :cfg.key_dim], feats[:, cfg.key_dim:]
        r = cfg.crop // 2
        padded = F.pad(query, (r, r, r, r))
        rows = pick[:, 0].long().clamp(0, h - 1)
        cols = pick[:, 1].long().clamp(0, w - 1)
        kernels = torch.stack([padded[i, :, rows[i]:rows[i] + cfg.crop, cols[i]:cols[i] + cfg.crop]
                               for i in range(b)])  # (B, D, k, k)
        out = F.conv2d(key.reshape(1, b * cfg.key_dim, h, w), kernels, padding=r, groups=b)
        return out[0] / (cfg.key_dim * cfg.crop**2) ** 0.5

    def forward(self, maps: torch.Tensor, text: torch.Tensor, pick: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick logits and place logits (transport conditioned on ``pick``), each (B, H, W)."""
        return self.attend(maps, text), self.transport_logits(maps, text, pick)
