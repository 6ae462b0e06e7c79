"""Colour names for point colours: nearest named prototype in CIE Lab.

Each name has a few sRGB prototypes (a bright, a shaded and sometimes a light variant),
because object colours under indoor light span a range of brightness. Every point is
given the name of its nearest prototype (CIE76 distance in Lab, chroma-weighted so that
saturated colours are not swallowed by grey), and an object's colour is the name held
by most of its points; the full distribution is kept for grounding ("the red box"
also matches a box that is 40 % red with a white label).

A 32-level-per-channel lookup table, built once on first use, makes naming 300k points
a gather.
"""

from __future__ import annotations

import numpy as np

#: Colour names, in a fixed order (index = name id).
COLOR_NAMES: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink",
    "brown", "black", "white", "gray",
)

_PROTOTYPES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((200, 30, 30), (150, 20, 25), (230, 60, 50), (110, 15, 20)),
    "orange": ((240, 130, 20), (205, 95, 25), (250, 160, 70)),
    "yellow": ((230, 200, 30), (245, 225, 90), (185, 160, 25)),
    "green": ((40, 160, 50), (30, 100, 40), (120, 190, 60), (20, 70, 30)),
    "cyan": ((40, 175, 175), (90, 200, 190), (25, 120, 125)),
    "blue": ((30, 60, 200), (20, 30, 110), (80, 120, 220), (20, 25, 70)),
    "purple": ((120, 50, 160), (80, 30, 100), (160, 110, 200)),
    "pink": ((240, 130, 180), (220, 80, 140), (250, 185, 205)),
    "brown": ((120, 80, 40), (90, 60, 35), (150, 110, 70), (170, 130, 90)),
    "black": ((20, 20, 20), (45, 45, 50)),
    "white": ((245, 245, 245), (215, 215, 220), (200, 200, 190)),
    "gray": ((128, 128, 128), (90, 90, 95), (165, 165, 170)),
}

_LUT_BITS = 5
_lut: np.ndarray | None = None


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert (N, 3) sRGB in [0, 1] to (N, 3) CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64)
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ M.T / np.array([0.95047, 1.0, 1.08883])
    eps = 216 / 24389
    f = np.where(xyz > eps, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return np.stack([L, a, b], axis=1)


def _build_lut() -> np.ndarray:
    names, protos = [], []
    for i, name in enumerate(COLOR_NAMES):
        for p in _PROTOTYPES[name]:
            names.append(i)
            protos.append(p)
    plab = srgb_to_lab(np.asarray(protos) / 255.0)
    levels = (np.arange(2**_LUT_BITS) + 0.5) / 2**_LUT_BITS
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    glab = srgb_to_lab(grid)
    # chroma differences count 1.5x lightness differences: shading changes L, not hue
    w = np.array([1.0, 1.5, 1.5])
    d = (((glab[:, None, :] - plab[None, :, :]) * w) ** 2).sum(-1)
    return np.asarray(names, dtype=np.int8)[d.argmin(axis=1)]


def color_ids(colors: np.ndarray) -> np.ndarray:
    """(N,) colour-name index (into :data:`COLOR_NAMES`) of (N, 3) colours in [0, 1]."""
    global _lut
    if _lut is None:
        _lut = _build_lut()
    q = np.clip((np.asarray(colors) * 2**_LUT_BITS).astype(np.int64), 0, 2**_LUT_BITS - 1)
    return _lut[(q[:, 0] << (2 * _LUT_BITS)) | (q[:, 1] << _LUT_BITS) | q[:, 2]].astype(np.int64)


def color_distribution(colors: np.ndarray) -> dict[str, float]:
    """Fraction of the (N, 3) colours in [0, 1] named by each colour name (sums to 1)."""
    ids = color_ids(colors)
    counts = np.bincount(ids, minlength=len(COLOR_NAMES)).astype(np.float64)
    total = max(counts.sum(), 1.0)
    return {name: float(counts[i] / total) for i, name in enumerate(COLOR_NAMES)}


def dominant_color(colors: np.ndarray) -> tuple[str, dict[str, float]]:
    """The colour name held by most points, and the full distribution."""
    dist = color_distribution(colors)
    return max(dist, key=dist.__getitem__), dist


def name_rgb(rgb: tuple[int, int, int]) -> str:
    """Colour name of one sRGB uint8 triple."""
    return COLOR_NAMES[int(color_ids(np.asarray([rgb], dtype=np.float64) / 255.0)[0])]
