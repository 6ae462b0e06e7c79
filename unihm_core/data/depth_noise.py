"""Depth-sensor noise model for synthetic RGB-D frames (pure numpy, seeded).

Turns a perfect depth image [m] into what an active-stereo / structured-light sensor such
as an Intel RealSense D435 or a Kinect returns, as uint16 millimetres with 0 = missing.
Effects, in the order applied (all probabilities per pixel, all from one ``seed``):

1. **Axial noise** growing with depth, Gaussian with
   ``sigma(z) = sigma_base + sigma_quad * (z - z_ref)**2`` [m]
   (defaults 0.001 m, 0.0019 m^-1, 0.4 m: the quadratic model Nguyen, Izadi & Lovell (2012)
   fitted for the Kinect; about 1 mm at 0.5 m and 2.2 mm at 1.2 m). The noise is drawn on
   a half-resolution grid and upsampled, because stereo matching windows correlate
   neighbouring pixels.
2. **Range limits**: depth below ``min_range`` or above ``max_range`` is missing.
3. **Edges**: pixels whose 3x3 neighbourhood spans a depth jump larger than
   ``edge_abs + edge_rel * z`` are dropped with probability ``edge_drop_prob``.
4. **Occlusion shadow** of stereo/projector baseline ``baseline`` [m]: a background pixel
   is missing where a nearer surface to its right, seen from the second viewpoint, covers
   it, i.e. where ``disparity(u + k) - disparity(u) > k`` for some k in 1..``max_shadow_px``
   with ``disparity = fx * baseline / z``. Needs ``fx``; skipped when ``fx`` is None.
5. **Dark surfaces** absorb the projected pattern: pixels whose colour luminance (sRGB
   in [0, 1]) is below ``dark_threshold`` are dropped with probability ``dark_drop_prob``.
   Needs ``color``; skipped when it is None.
6. **Speckle dropout**: seeds with rate ``speckle_rate`` grown into blobs of radius
   1..``speckle_max_radius`` px.
7. **Quantisation** to 1 mm (round to nearest), output uint16 millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import ConfigError, InputError


@dataclass(frozen=True)
class DepthNoiseConfig:
    """Parameters of :func:`apply_depth_noise` (lengths [m], probabilities in [0, 1])."""

    sigma_base: float = 0.001
    sigma_quad: float = 0.0019
    z_ref: float = 0.4
    min_range: float = 0.2
    max_range: float = 4.0
    edge_abs: float = 0.01
    edge_rel: float = 0.02
    edge_drop_prob: float = 0.8
    baseline: float = 0.05
    max_shadow_px: int = 24
    dark_threshold: float = 0.1
    dark_drop_prob: float = 0.7
    speckle_rate: float = 0.0003
    speckle_max_radius: int = 2
    quantum: float = 0.001

    def __post_init__(self) -> None:
        for name in ("sigma_base", "sigma_quad", "min_range", "edge_abs", "edge_rel", "baseline", "quantum"):
            if getattr(self, name) < 0:
                raise ConfigError(f"DepthNoiseConfig.{name} must be >= 0")
        for name in ("edge_drop_prob", "dark_drop_prob", "speckle_rate", "dark_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"DepthNoiseConfig.{name} must lie in [0, 1]")
        if not self.min_range < self.max_range:
            raise ConfigError("DepthNoiseConfig needs min_range < max_range")
        if self.quantum <= 0:
            raise ConfigError("DepthNoiseConfig.quantum must be positive (0.001 for millimetres)")


def depth_sigma(z: np.ndarray | float, config: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Axial noise standard deviation at depth ``z`` [m]: sigma_base + sigma_quad (z - z_ref)^2."""
    z = np.asarray(z, dtype=float)
    return config.sigma_base + config.sigma_quad * (z - config.z_ref) ** 2


def depth_edges(depth: np.ndarray, config: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """(H, W) bool: pixels whose 3x3 neighbourhood spans a depth discontinuity (see step 3)."""
    d = np.asarray(depth, dtype=float)
    valid = d > 0
    big = np.where(valid, d, np.inf)
    small = np.where(valid, d, 0.0)
    pad_max = np.pad(small, 1, mode="edge")
    pad_min = np.pad(big, 1, mode="edge")
    h, w = d.shape
    mx = np.max([pad_max[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    mn = np.min([pad_min[i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=0)
    jump = mx - np.where(np.isfinite(mn), mn, mx)
    # a valid pixel next to a missing one is an edge too
    hole = ~np.isfinite(mn) | (np.min([np.pad(valid, 1, mode="edge")[i:i + h, j:j + w]
                                       for i in range(3) for j in range(3)], axis=0) == 0)
    return valid & ((jump > config.edge_abs + config.edge_rel * d) | hole)


def _shadow(depth: np.ndarray, fx: float, config: DepthNoiseConfig) -> np.ndarray:
    valid = depth > 0
    disp = np.where(valid, fx * config.baseline / np.where(valid, depth, 1.0), 0.0)
    shadow = np.zeros(depth.shape, dtype=bool)
    for k in range(1, config.max_shadow_px + 1):
        right = np.zeros_like(disp)
        right[:, :-k] = disp[:, k:]
        shadow |= (right - disp) > k
    return shadow & valid


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    out = mask.copy()
    h, w = mask.shape
    pad = np.pad(mask, radius)
    for i in range(-radius, radius + 1):
        for j in range(-radius, radius + 1):
            if i * i + j * j <= radius * radius:
                out |= pad[radius + i:radius + i + h, radius + j:radius + j + w]
    return out


def apply_depth_noise(depth: np.ndarray, seed: int, fx: float | None = None, color: np.ndarray | None = None,
                      config: DepthNoiseConfig = DepthNoiseConfig()) -> np.ndarray:
    """Simulate a depth sensor (see the module docstring for the model).

    Args:
        depth: (H, W) float depth along the optical axis [m]; 0 = no return.
        seed: noise seed (the same seed gives the same output).
        fx: focal length [px] for the occlusion-shadow step (skipped when None).
        color: (H, W, 3) uint8 or float sRGB image for the dark-surface step (skipped when None).
        config: model parameters.

    Returns:
        (H, W) uint16 depth in millimetres (quantum ``config.quantum``), 0 = missing.
    """
    d = np.asarray(depth, dtype=np.float64)
    if d.ndim != 2:
        raise InputError(f"depth must be a (H, W) array in metres, got shape {d.shape}")
    if color is not None and np.asarray(color).shape[:2] != d.shape:
        raise InputError(f"color {np.asarray(color).shape} and depth {d.shape} must have the same size")
    rng = np.random.default_rng(seed)
    h, w = d.shape
    valid = d > 0
    # 1. axial noise, correlated over 2x2 pixels
    g = rng.normal(size=((h + 1) // 2, (w + 1) // 2))
    g = np.repeat(np.repeat(g, 2, axis=0), 2, axis=1)[:h, :w]
    fine = rng.normal(size=(h, w))
    noisy = d + depth_sigma(d, config) * (0.8 * g + 0.6 * fine)
    drop = ~valid | (d < config.min_range) | (d > config.max_range)
    # 3. edges
    edges = depth_edges(d, config)
    drop |= edges & (rng.random((h, w)) < config.edge_drop_prob)
    # 4. occlusion shadow
    if fx is not None:
        drop |= _shadow(d, float(fx), config)
    # 5. dark surfaces
    if color is not None:
        c = np.asarray(color, dtype=np.float64)
        if c.max() > 1.0:
            c = c / 255.0
        lum = 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]
        drop |= (lum < config.dark_threshold) & (rng.random((h, w)) < config.dark_drop_prob)
    # 6. speckles
    seeds = rng.random((h, w)) < config.speckle_rate
    for r in range(1, config.speckle_max_radius + 1):
        drop |= _dilate(seeds & (rng.random((h, w)) < 1.0 / config.speckle_max_radius), r)
    # 7. quantisation
    mm = np.round(noisy / config.quantum) * (config.quantum * 1000.0)
    out = np.clip(np.round(mm), 0, 65535).astype(np.uint16)
    out[drop] = 0
    return out


__all__ = ["DepthNoiseConfig", "apply_depth_noise", "depth_edges", "depth_sigma"]
