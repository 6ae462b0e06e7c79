"""Example-scene files: one rendered RGB-D frame with its ground truth, as plain files.

Layout of a folder written by :func:`write_example_scene` (the app bundles such folders
in ``assets/examples/``, and ``unihm generate`` reads the first three):

``color.png``   RGB, 8 bit sRGB.
``depth.png``   uint16 millimetres (0 = missing), sensor noise applied (noise-free with
                ``noise_seed=None``).
``camera.json`` ``fx, fy, cx, cy, width, height`` [px], ``depth_scale`` = 1000 (depth
                units per metre), ``extrinsics`` = 4x4 camera-to-world in the table frame,
                OpenCV axes (x right, y down, z forward).
``masks.png``   uint8 instance labels (0 = background/table, k = object k; target = 1).
``scene.json``  seed, split, table, camera, objects (instance id, type, nouns, colour,
                material, size, pose, role, mask label, joint).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unihm_core.data.depth_noise import DepthNoiseConfig, apply_depth_noise
from unihm_core.data.rgbd_render import RgbdFrame, RgbdRenderer, render_rgbd
from unihm_core.data.scenes import SceneSpec
from unihm_core.errors import InputError

DEPTH_SCALE = 1000.0  # depth.png units per metre


@dataclass(frozen=True, eq=False)
class ExampleScene:
    """Arrays and metadata read back by :func:`read_example_scene`.

    Attributes:
        color: (H, W, 3) uint8; depth_mm: (H, W) uint16 [mm]; masks: (H, W) uint8 labels.
        camera: camera.json content; scene: scene.json content.
    """

    color: np.ndarray
    depth_mm: np.ndarray
    masks: np.ndarray
    camera: dict
    scene: dict


def write_example_scene(scene: SceneSpec, out_dir: str | Path, renderer: RgbdRenderer | None = None,
                        noise_seed: int | None = 0, noise: DepthNoiseConfig = DepthNoiseConfig()) -> RgbdFrame:
    """Render ``scene`` and write color.png, depth.png, camera.json, masks.png, scene.json.

    Returns the noise-free :class:`RgbdFrame` that was rendered.
    """
    from PIL import Image  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = render_rgbd(scene, renderer)
    if noise_seed is None:
        depth_mm = np.clip(np.round(frame.depth * DEPTH_SCALE), 0, 65535).astype(np.uint16)
    else:
        depth_mm = apply_depth_noise(frame.depth, noise_seed, fx=scene.camera.fx, color=frame.color, config=noise)
    if frame.mask.max() > 255:
        raise InputError("more than 255 objects cannot be stored in masks.png")
    Image.fromarray(frame.color).save(out / "color.png")
    Image.fromarray(depth_mm).save(out / "depth.png")
    Image.fromarray(frame.mask.astype(np.uint8)).save(out / "masks.png")
    cam = scene.camera.to_dict()
    cam["depth_scale"] = DEPTH_SCALE
    (out / "camera.json").write_text(json.dumps(cam, indent=1))
    meta = scene.to_dict()
    meta["depth_noise"] = None if noise_seed is None else {"seed": noise_seed, **noise.__dict__}
    (out / "scene.json").write_text(json.dumps(meta, indent=1))
    return frame


def read_example_scene(folder: str | Path) -> ExampleScene:
    """Read a folder written by :func:`write_example_scene`."""
    from PIL import Image  # noqa: PLC0415

    f = Path(folder)
    missing = [n for n in ("color.png", "depth.png", "camera.json", "masks.png", "scene.json") if not (f / n).is_file()]
    if missing:
        raise InputError(f"example scene folder {f} lacks {', '.join(missing)}; write it with write_example_scene")
    return ExampleScene(
        color=np.asarray(Image.open(f / "color.png").convert("RGB")),
        depth_mm=np.asarray(Image.open(f / "depth.png")).astype(np.uint16),
        masks=np.asarray(Image.open(f / "masks.png")),
        camera=json.loads((f / "camera.json").read_text()),
        scene=json.loads((f / "scene.json").read_text()),
    )


__all__ = ["DEPTH_SCALE", "ExampleScene", "read_example_scene", "write_example_scene"]
