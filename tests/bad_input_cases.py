"""The bad inputs of issue 9 as data, shared by tests/test_bad_inputs.py and bench/bad_inputs.py.

:data:`CASES` lists ``(name, make, keywords)``: ``make(folder)`` writes the tiny bad file(s)
into ``folder`` and returns the inputs that differ from the good example; ``keywords`` must
appear in the message. :func:`submit` feeds the inputs the way Gradio does (the Generate
tab's input components, then its handler).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from gradio.components.image import ImageData
from gradio.data_classes import FileData
from PIL import Image

from app.uploads import checked_image, path_file
from unihm_core import HAND_NAMES

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "assets" / "examples" / "mug_into_bowl"
H, W = 480, 640
GOOD_INSTRUCTION = "put the yellow mug into the bowl"


def camera(**changes) -> str:
    """The example's camera without ``depth_scale`` (units then follow the depth dtype), as JSON text."""
    cam = json.loads((EX / "camera.json").read_text())
    cam.pop("depth_scale")
    cam.update(changes)
    return json.dumps(cam)


def example_depth_mm() -> np.ndarray:
    """(H, W) uint16 depth of the example [mm]."""
    with Image.open(EX / "depth.png") as im:
        return np.asarray(im).astype(np.uint16)


# -- tiny bad files, written into the test's tmp_path ----------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> Path:
    """A valid PNG header claiming ``width`` x ``height`` pixels, with a few bytes of data only
    (decoding it would fail as truncated, so a size message proves the header check ran first)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
    return path


def not_an_image(path: Path) -> Path:
    path.write_text("this is a text file renamed to .png\n" * 20)
    return path


def truncated(src: Path, path: Path) -> Path:
    """The first 60 % of a valid PNG: the header opens, the pixel data ends early."""
    data = src.read_bytes()
    path.write_bytes(data[: int(0.6 * len(data))])
    return path


def png16(path: Path, depth: np.ndarray) -> Path:
    Image.fromarray(np.asarray(depth, np.uint16)).save(path)
    return path


def npy(path: Path, arr: np.ndarray) -> Path:
    np.save(path, arr, allow_pickle=arr.dtype == object)
    return path


def few_valid(path: Path) -> Path:
    d = np.zeros((H, W), np.uint16)
    d[200:220, 300:320] = example_depth_mm()[200:220, 300:320]  # 400 valid pixels
    return png16(path, d)


def negative(path: Path) -> Path:
    d = example_depth_mm().astype(np.float32) / 1000.0
    d[:40] = -0.5
    return npy(path, d)


# -- running the app's path --------------------------------------------------------------------
class Progress:
    """Stands in for ``gr.Progress``; records the stages and can stall one of them [s]."""

    def __init__(self, stall: dict[str, float] | None = None):
        self.stall, self.stages = stall or {}, []

    def __call__(self, fraction: float, desc: str | None = None) -> None:
        import re

        # the app reports "step n/N: <stage> (frame k/M) · ... elapsed · about ... left" (app/progress.py)
        m = re.match(r"step \d+/\d+: (.+?)(?: \(frame \d+/\d+\))? · ", desc or "")
        stage = m.group(1) if m else desc
        if self.stages and self.stages[-1] == stage:
            return  # the same stage again (a frame of it): recorded once
        self.stages.append(stage)
        if stage in self.stall:
            import time

            time.sleep(self.stall[stage])


def submit(generate, tmp_path: Path, *, rgb: Path = EX / "color.png", depth: Path = EX / "depth.png",
           intrinsics: str | None = None, instruction: str = GOOD_INSTRUCTION, hand: str = "allegro",
           render: bool = False, progress: Progress | None = None):
    """Preprocess the uploads with the app's components, then call the Generate handler."""
    rgb_value = checked_image().preprocess(ImageData(path=str(rgb), orig_name=rgb.name))
    depth_value = path_file(file_types=[".png", ".npy"]).preprocess(FileData(path=str(depth), orig_name=depth.name))
    hand_value = gr.Dropdown(list(HAND_NAMES), value="allegro").preprocess(hand)
    return generate(rgb_value, depth_value, camera() if intrinsics is None else intrinsics, None, instruction,
                    hand_value, 0, 0.7, 0.95, False, render, 1000.0, 1.0, 1.0, 1.0,
                    request=SimpleNamespace(session_hash="bad-input-session"), progress=progress or Progress())


# (id, inputs made from tmp_path, key words of the message)
CASES = [
    ("rgb not an image", lambda t: {"rgb": not_an_image(t / "color.png")}, ("colour", "not an image")),
    ("depth not an image", lambda t: {"depth": not_an_image(t / "depth.png")}, ("depth", "not an image")),
    ("rgb truncated png", lambda t: {"rgb": truncated(EX / "color.png", t / "color.png")},
     ("colour", "truncated")),
    ("depth truncated png", lambda t: {"depth": truncated(EX / "depth.png", t / "depth.png")},
     ("depth", "truncated")),
    ("rgb bomb 50000x50000", lambda t: {"rgb": bomb_png(t / "color.png", 50_000, 50_000)},
     ("colour", "enormous", "refusing to decode")),
    ("depth bomb 50000x50000", lambda t: {"depth": bomb_png(t / "depth.png", 50_000, 50_000, 16, 0)},
     ("depth", "enormous", "refusing to decode")),
    ("rgb 5000x5000 header", lambda t: {"rgb": bomb_png(t / "color.png", 5000, 5000)},
     ("5000x5000", "above the limit")),
    ("depth with another suffix",
     lambda t: {"depth": png16(t / "depth.png", example_depth_mm()).rename(t / "depth.exr")},
     ("depth file must be .png", ".npy", ".exr")),
    ("rgb/depth size mismatch", lambda t: {"depth": png16(t / "depth.png", example_depth_mm()[::2, ::2])},
     ("640x480", "320x240", "register")),
    ("metres in a uint16 png", lambda t: {"depth": png16(t / "depth.png", np.round(example_depth_mm() / 1000.0))},
     ("usable depth", "millimetres", "looks like metres")),
    ("all-NaN depth", lambda t: {"depth": npy(t / "depth.npy", np.full((H, W), np.nan, np.float32))},
     ("entirely nan",)),
    ("all-zero depth", lambda t: {"depth": png16(t / "depth.png", np.zeros((H, W)))}, ("all zeros",)),
    ("negative depth", lambda t: {"depth": negative(t / "depth.npy")}, ("negative", ">= 0")),
    ("too few valid points", lambda t: {"depth": few_valid(t / "depth.png")}, ("only 400 pixels", "need 1000")),
    (".npy needing pickle", lambda t: {"depth": npy(t / "depth.npy", np.array([{"depth": 1.0}], dtype=object))},
     ("depth.npy", "python objects", "pickle", "refused", "float32")),
    ("intrinsics malformed json", lambda t: {"intrinsics": '{"fx": 615, "fy": '}, ("not valid json", "fx")),
    ("intrinsics not an object", lambda t: {"intrinsics": "[615, 615, 320, 240]"}, ("object", "fx, fy, cx, cy")),
    ("fx = 0", lambda t: {"intrinsics": camera(fx=0)}, ("fx=0", "finite positive")),
    ("fx < 0", lambda t: {"intrinsics": camera(fx=-615.0)}, ("fx=-615", "finite positive")),
    ("cx outside the image", lambda t: {"intrinsics": camera(cx=1000.0)}, ("cx=1000", "outside", "640x480")),
    ("fy NaN", lambda t: {"intrinsics": camera(fy=float("nan"))}, ("fy=nan", "finite")),
    ("cy infinite", lambda t: {"intrinsics": camera(cy=float("inf"))}, ("cy=inf", "finite")),
    ("fx not a number", lambda t: {"intrinsics": camera(fx="six hundred")}, ("fx=", "not a number")),
    ("empty instruction", lambda t: {"instruction": ""}, ("instruction is empty",)),
    ("whitespace instruction", lambda t: {"instruction": "  \n\t  "}, ("instruction is empty",)),
    ("10000-character instruction", lambda t: {"instruction": ("pick up the mug " * 625).strip() + "!"},
     ("10000 characters", "under 500")),
    ("non-English, no Latin letters", lambda t: {"instruction": "把黄色的杯子放进碗里"}, ("english",)),
    ("non-English, Latin letters", lambda t: {"instruction": "prends la tasse jaune"},
     ("could not read", "english", "i found: #0", "yellow")),
    ("absent object", lambda t: {"instruction": "pick up the green banana"},
     ("could not find", "green banana", "i found: #0", "yellow cylinder")),
    ("unknown hand", lambda t: {"hand": "robotiq"}, ("robotiq", "not in the list of choices", "shadow")),
]
