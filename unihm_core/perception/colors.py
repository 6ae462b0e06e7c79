"""Colour names for point colours: nearest named prototype in CIE Lab.

Each name has a few sRGB prototypes (a bright, a shaded and sometimes a light variant),
because object colours under indoor light span a range of brightness. Every point is
given the name of its nearest prototype (CIE76 distance in Lab, chroma-weighted so that
saturated colours are not swallowed by grey), and an object's colour is the name held
by most of its points; the full distribution is kept for grounding ("the red box"
also matches a box that is 40 % red with a white label).

Names are chroma-aware (:func:`lch_distance`): hue decides among colourful prototypes,
lightness and chroma among the neutral ones, so shade and exposure do not turn a yellow
bottle brown or a navy cup black. Before naming, perception white-balances the colours of
the table and the objects on it (:func:`white_balance_gains`: the brightest near-neutral
surfaces give the light's colour), so a bluish or warm light does not rename them.

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
    "red": ((200, 30, 30), (150, 20, 25), (230, 60, 50), (110, 15, 20), (130, 35, 50)),
    "orange": ((240, 130, 20), (205, 95, 25), (250, 160, 70)),
    "yellow": ((230, 200, 30), (245, 225, 90), (185, 160, 25), (150, 130, 50)),  # the last: yellow in shade
    "green": ((40, 160, 50), (30, 100, 40), (120, 190, 60), (20, 70, 30)),
    "cyan": ((40, 175, 175), (90, 200, 190), (25, 120, 125)),
    "blue": ((30, 60, 200), (20, 30, 110), (80, 120, 220), (20, 25, 70), (10, 15, 28)),  # the last: navy in shade
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
    return np.asarray(names, dtype=np.int8)[lch_distance(glab, plab).argmin(axis=1)]


#: Weights of lightness, chroma and hue differences in the colour-name distance.
LCH_WEIGHTS = (0.5, 1.0, 1.5)


def lch_distance(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """(N, M) chroma-aware distance between (N, 3) and (M, 3) Lab colours.

    Hue counts most (its arc ``2 sqrt(C1 C2) sin(dh / 2)``, which vanishes for greys), then
    chroma, then lightness (:data:`LCH_WEIGHTS`): shading and exposure change lightness and
    chroma, not hue, so a mustard bottle in shadow stays yellow and a navy cup stays blue
    while a chroma-less dark surface is black and a light one white or grey.
    """
    a, b = lab_a[:, None, :], lab_b[None, :, :]
    ca, cb = np.hypot(a[..., 1], a[..., 2]), np.hypot(b[..., 1], b[..., 2])
    dh = np.arctan2(a[..., 2], a[..., 1]) - np.arctan2(b[..., 2], b[..., 1])
    arc = 2.0 * np.sqrt(ca * cb) * np.abs(np.sin(dh / 2.0))
    wl, wc, wh = LCH_WEIGHTS
    return (wl * (a[..., 0] - b[..., 0])) ** 2 + (wc * (ca - cb)) ** 2 + (wh * arc) ** 2


# ------------------------------------------------------------------ white balance
#: The brightest fraction of the near-neutral pixels that estimates the light's colour.
WB_BRIGHT_FRACTION = 0.03
#: Near-neutral: saturation (max - min) / max of the sRGB values at most this (a tint of the
#: light leaves a white surface at about 0.2; a yellow or red object is far above).
WB_MAX_SATURATION = 0.35
#: The reference must be a light surface (CIE L* at least this): a mid-grey table under a
#: tint is no white reference (a brown table under blue light looks grey).
WB_MIN_LIGHTNESS = 62.0
#: No correction when the reference is more colourful than this (C*ab).
WB_MAX_CHROMA = 25.0
#: Per-channel gains are clipped to [1 / WB_MAX_GAIN, WB_MAX_GAIN].
WB_MAX_GAIN = 1.35
#: Fraction of the estimated cast that is removed (in log gain): the brightest near-neutral
#: surface is not always white (a bluish plate, a cream label), so the correction is partial.
WB_STRENGTH = 0.6


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def white_balance_gains(colors: np.ndarray) -> np.ndarray:
    """(3,) linear-RGB gains that make the light neutral, from (N, 3) sRGB colours in [0, 1]
    of the table and the objects on it (not the room behind, which has other light).

    The light's colour is that of the brightest :data:`WB_BRIGHT_FRACTION` of the unclipped
    near-neutral pixels (white plates, cups, labels, a light table top: a "white patch" on
    the work area). When there is no light near-neutral surface (L* < :data:`WB_MIN_LIGHTNESS`
    or C* > :data:`WB_MAX_CHROMA`), the frame holds no white reference and the gains stay 1.
    A cast is a property of the light, so the gains keep the mean brightness; only
    :data:`WB_STRENGTH` of it is removed.
    """
    c = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    c = c[c.max(axis=1) < 0.98]
    if len(c) < 200:
        return np.ones(3)
    mx = np.maximum(c.max(axis=1), 1e-6)
    neutral = c[(mx - c.min(axis=1)) / mx <= WB_MAX_SATURATION]
    if len(neutral) < 30:
        return np.ones(3)
    lum = neutral @ np.array([0.2126, 0.7152, 0.0722])
    k = max(30, int(WB_BRIGHT_FRACTION * len(neutral)))
    ref = np.median(neutral[np.argsort(lum)[-k:]], axis=0)
    lab = srgb_to_lab(ref[None])[0]
    if np.hypot(lab[1], lab[2]) > WB_MAX_CHROMA or lab[0] < WB_MIN_LIGHTNESS:
        return np.ones(3)
    lin = np.maximum(srgb_to_linear(ref), 1e-4)
    return np.clip((lin.mean() / lin) ** WB_STRENGTH, 1.0 / WB_MAX_GAIN, WB_MAX_GAIN)


def apply_white_balance(colors: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB colours in [0, 1] with the linear-RGB ``gains`` applied."""
    if np.allclose(gains, 1.0):
        return np.asarray(colors)
    return linear_to_srgb(srgb_to_linear(colors) * np.asarray(gains)[None, :])


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
