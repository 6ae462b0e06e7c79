"""Inspection helpers for the app: a mask overlay image and an instance table.

Pure numpy + Pillow (for the id labels); no plotting library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unihm_core.perception.scene import Scene

#: Distinct tints for instance masks (RGB).
PALETTE = np.array(
    [(31, 119, 180), (44, 160, 44), (148, 103, 189), (140, 86, 75), (227, 119, 194),
     (188, 189, 34), (23, 190, 207), (127, 127, 127), (255, 187, 120), (152, 223, 138)],
    dtype=np.float64,
)
HIGHLIGHT = np.array((255, 40, 40), dtype=np.float64)
CANDIDATE = np.array((255, 215, 0), dtype=np.float64)


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import binary_erosion

    return mask & ~binary_erosion(mask, iterations=width, border_value=0)


def mask_overlay(
    scene: Scene,
    *,
    target: int | None = None,
    place: int | None = None,
    candidates: list[int] | tuple[int, ...] = (),
    alpha: float = 0.45,
    labels: bool = True,
) -> np.ndarray:
    """The colour image with every instance mask tinted and numbered.

    Args:
        scene: perception result.
        target: instance drawn in red with a thick outline (the grounded target).
        place: instance drawn with a white outline (the place target), optional.
        candidates: instances drawn with a thick yellow outline and a yellow number (the
            near-tied candidates of an ambiguous instruction).
        alpha: tint opacity.
        labels: draw "#i" at each instance's bounding-box corner.

    Returns:
        (H, W, 3) uint8 image.
    """
    img = scene.rgb.astype(np.float64).copy()
    for inst in scene.instances:
        m = inst.mask
        tint = HIGHLIGHT if inst.index == target else PALETTE[inst.index % len(PALETTE)]
        a = min(1.0, alpha * 1.4) if inst.index == target else alpha
        img[m] = (1 - a) * img[m] + a * tint
        edge = _outline(m, 3 if inst.index == target else 1)
        img[edge] = HIGHLIGHT if inst.index == target else tint
        if inst.index == place:
            img[_outline(m, 2)] = (255, 255, 255)
        if inst.index in candidates:
            img[_outline(m, 4)] = CANDIDATE
    out = np.clip(img, 0, 255).astype(np.uint8)
    if labels and scene.instances:
        from PIL import Image, ImageDraw

        pil = Image.fromarray(out)
        draw = ImageDraw.Draw(pil)
        for inst in scene.instances:
            u0, v0 = inst.bbox[0], max(0, inst.bbox[1] - 12)
            text = f"#{inst.index}"
            box = draw.textbbox((u0, v0), text)
            draw.rectangle(box, fill=(0, 0, 0))
            lead = inst.index == target or inst.index in candidates
            draw.text((u0, v0), text, fill=(255, 255, 0) if lead else (255, 255, 255))
        out = np.asarray(pil, dtype=np.uint8)
    return out


def instance_table(scene: Scene, scores: np.ndarray | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per instance (index, description, attributes, score).

    Args:
        scene: perception result.
        scores: optional (N,) grounding scores to include.
    """
    rows = []
    for inst in scene.instances:
        row = inst.summary()
        row["extent_cm"] = [round(100 * float(x), 1) for x in inst.extent]
        row.pop("extent_m", None)
        if scores is not None:
            row["score"] = round(float(scores[inst.index]), 3)
        rows.append(row)
    return rows
