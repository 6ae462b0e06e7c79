"""Colour under real light: white balance from the table and the objects on it, and
chroma-aware colour names (yellow in shade stays yellow, navy is blue, not black)."""

from __future__ import annotations

import numpy as np
import pytest

from perception_synth import BLUE, CX, CY, FX, FY, H, RED, W, WHITE, YELLOW, Obj, render
from unihm_core.perception import Intrinsics, perceive
from unihm_core.perception.colors import (
    WB_MAX_GAIN,
    WB_STRENGTH,
    apply_white_balance,
    dominant_color,
    linear_to_srgb,
    name_rgb,
    srgb_to_lab,
    srgb_to_linear,
    white_balance_gains,
)

#: (name, sRGB) of object colours; each a patch of 400 points with +-10 % shading
PATCHES = [("white", (205, 205, 200)), ("gray", (128, 128, 130)), ("black", (25, 25, 25)),
           ("red", (200, 30, 30)), ("yellow", (230, 200, 30)), ("blue", (30, 60, 200)), ("orange", (240, 130, 20)),
           ("green", (40, 160, 50)), ("purple", (120, 50, 160)), ("brown", (120, 80, 40))]
TABLE = (150, 115, 80)
#: linear-RGB tints of the light: bluish daylight / LED, warm tungsten
TINTS = {"bluish": (0.78, 0.97, 1.3), "warm": (1.3, 1.0, 0.75)}


def _tinted(rgb, tint, rng, n=400, shade=1.0):
    base = np.asarray(rgb, float) / 255.0
    lin = srgb_to_linear(base)[None] * np.asarray(tint)[None] * shade * rng.uniform(0.9, 1.1, (n, 1))
    return linear_to_srgb(lin)


@pytest.mark.parametrize("tint", list(TINTS))
def test_white_balance_recovers_names_under_tinted_light(tint):
    rng = np.random.default_rng(0)
    patches = [_tinted(c, TINTS[tint], rng) for _, c in PATCHES]
    table = _tinted(TABLE, TINTS[tint], rng, n=6000)
    gains = white_balance_gains(np.vstack([table] + patches))
    # the gains undo WB_STRENGTH of the tint (in log gain, up to brightness)
    expect = (np.mean(TINTS[tint]) / np.asarray(TINTS[tint])) ** WB_STRENGTH
    np.testing.assert_allclose(gains / gains.mean(), expect / expect.mean(), atol=0.04)
    named = {name: dominant_color(apply_white_balance(p, gains))[0] for (name, _), p in zip(PATCHES, patches)}
    assert named == {name: name for name, _ in PATCHES}
    # the white patch carries the cast before the correction, not after
    def chroma(p):
        lab = srgb_to_lab(np.median(p, axis=0)[None])[0]
        return float(np.hypot(lab[1], lab[2]))

    assert chroma(patches[0]) > 10 and chroma(apply_white_balance(patches[0], gains)) < 0.5 * chroma(patches[0])


def test_no_white_reference_no_correction():
    rng = np.random.default_rng(1)
    colourful = np.vstack([_tinted(c, (1.0, 1.0, 1.0), rng) for n, c in PATCHES if n in ("red", "blue", "green")])
    assert np.allclose(white_balance_gains(colourful), 1.0)
    assert np.allclose(white_balance_gains(np.zeros((10, 3))), 1.0)  # too few points
    strong = white_balance_gains(_tinted((235, 235, 235), (0.5, 1.0, 2.0), rng, n=2000) * 0 + [[0.55, 0.75, 0.97]])
    assert strong.max() <= WB_MAX_GAIN + 1e-9 and strong.min() >= 1 / WB_MAX_GAIN - 1e-9


@pytest.mark.parametrize(("rgb", "name"), [
    ((150, 130, 50), "yellow"),   # a yellow bottle in shade, not brown
    ((20, 28, 70), "blue"),       # navy, not black
    ((10, 15, 28), "blue"),       # navy in shade
    ((28, 28, 28), "black"),
    ((200, 200, 200), "white"),
    ((128, 128, 128), "gray"),
    ((110, 25, 35), "red"),       # dark red
    ((120, 80, 40), "brown"),
    ((40, 175, 175), "cyan"),
])
def test_chroma_aware_names(rgb, name):
    assert name_rgb(rgb) == name


def test_perceive_white_balances_a_tinted_frame():
    objs = [Obj("cylinder", (-0.12, 0.05), (0.035, 0.10), WHITE), Obj("box", (0.12, 0.05), (0.07, 0.05, 0.09), BLUE),
            Obj("sphere", (0.0, -0.1), (0.04,), YELLOW), Obj("cylinder", (0.0, 0.12), (0.03, 0.08), RED)]
    rgb, depth, T, _ = render(objs, noise=0.001, seed=2)
    tint = np.asarray(TINTS["bluish"])
    tinted = (255 * linear_to_srgb(srgb_to_linear(rgb / 255.0) * tint)).round().astype(np.uint8)
    intr = Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H)
    scene = perceive(tinted, depth, intr, extrinsics=T)
    plain = perceive(rgb, depth, intr, extrinsics=T)
    assert len(scene.instances) == len(plain.instances) == 4
    expect = (tint.mean() / tint) ** WB_STRENGTH
    np.testing.assert_allclose(np.asarray(scene.white_balance) / np.mean(scene.white_balance),
                               expect / expect.mean(), atol=0.06)
    assert np.allclose(plain.white_balance, 1.0, atol=0.06)  # an untinted frame is left alone
    # the same names as under neutral light (the shaded white cylinder is mostly grey in both)
    assert [i.color for i in scene.instances] == [i.color for i in plain.instances]
    assert {"blue", "red", "yellow"} <= {i.color for i in scene.instances}
    for a, b in zip(scene.instances, plain.instances):
        assert abs(a.color_fractions["white"] - b.color_fractions["white"]) < 0.1
    assert scene.summary()["white_balance_gains"] == [round(g, 4) for g in scene.white_balance]
