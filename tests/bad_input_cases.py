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


# -- issue 19: the probe's cases ---------------------------------------------------------------
def camera_text_raw(fx_literal: str) -> str:
    """The example's camera (no depth_scale) with ``fx`` replaced by a raw JSON literal."""
    cam = json.loads(camera())
    cam["fx"] = "@@FX@@"
    return json.dumps(cam).replace('"@@FX@@"', fx_literal)


def nested(depth: int) -> str:
    return '{"fx": ' + "[" * depth + "]" * depth + ', "fy": 615, "cx": 320, "cy": 240}'


def far_extrinsics() -> str:
    T = np.eye(4)
    T[0, 3] = 1e300
    return camera(extrinsics=T.tolist())


def grey16(path: Path) -> Path:
    """The example's colour image as a 16-bit greyscale PNG (Pillow's RGB conversion clips it to white)."""
    with Image.open(EX / "color.png") as im:
        grey = np.asarray(im.convert("L"), np.float64)
    Image.fromarray((grey * 257).astype(np.uint16)).save(path)
    return path


# app path (Generate handler): refused with these key words
CASES += [
    ("fx = 10^400", lambda t: {"intrinsics": camera_text_raw("1" + "0" * 400)}, ("fx=inf", "finite positive")),
    ("fx with 5000 digits", lambda t: {"intrinsics": camera_text_raw("9" * 5000)}, ("fx=inf",)),
    ("arrays nested 30000 deep", lambda t: {"intrinsics": nested(30000)}, ("nests brackets 30001 deep", "at most 32")),
    ("extrinsics translation 1e300", lambda t: {"intrinsics": far_extrinsics()}, ("from the world origin", "metres")),
    ("identity extrinsics (not a z-up table frame)", lambda t: {"intrinsics": camera(extrinsics=np.eye(4).tolist())},
     ("disagree with the table", "tilted", "remove 'extrinsics'")),
    ("fx: true", lambda t: {"intrinsics": camera(fx=True)}, ("fx=true", "boolean")),
    ("fx: 0.001", lambda t: {"intrinsics": camera(fx=0.001)}, ("fx=0.001", "plausible", "50..10000")),
    ("depth_scale = -1", lambda t: {"intrinsics": camera(depth_scale=-1)}, ("depth_scale=-1", "units per metre")),
    ("width: true", lambda t: {"intrinsics": camera(width=True)}, ("width=true", "positive integer")),
    ("YAML aliases", lambda t: {"intrinsics": "a: &x [615, 615]\nfx: *x\n"}, ("aliases",)),
    ("3x3 K that is not a camera matrix", lambda t: {"intrinsics": json.dumps({"K": [[615, 0, 320], [0, 615, 240],
                                                                                   [320, 240, 1]]})},
     ("does not look like a camera matrix",)),
]


def _k_matrix() -> str:
    cam = json.loads(camera())
    return json.dumps({"K": [[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]],
                       "width": W, "height": H})


def _ros_yaml() -> str:
    cam = json.loads(camera())
    return (f"height: {H}\nwidth: {W}\ndistortion_model: plumb_bob\nD: [0, 0, 0, 0, 0]\n"
            f"K: [{cam['fx']}, 0, {cam['cx']}, 0, {cam['fy']}, {cam['cy']}, 0, 0, 1]\n")


# app path: served, with this warning / form in the result (id, inputs, key words in warnings+form)
SERVED = [
    ("3x3 K matrix", lambda t: {"intrinsics": _k_matrix()}, ("3x3 camera matrix K",)),
    ("ROS camera_info YAML", lambda t: {"intrinsics": _ros_yaml()}, ("ROS camera_info",)),
    ("float metres .npy with depth_scale 1000",
     lambda t: {"depth": npy(t / "depth.npy", example_depth_mm().astype(np.float32) / 1000.0),
                "intrinsics": camera(depth_scale=1000)}, ("depth_scale=1000 was ignored",)),
    ("(H, W, 1) depth array", lambda t: {"depth": npy(t / "depth.npy", example_depth_mm()[..., None].astype(np.float32)
                                                         / 1000.0)}, ("camera.json",)),
    ("invalid bytes in the instruction", lambda t: {"instruction": "\udcff put the yellow mug into the bowl"},
     ("not readable text", "dropped")),
    ("16-bit grey colour, colour-free instruction", lambda t: {"rgb": grey16(t / "color.png"),
                                                               "instruction": "put the mug into the bowl"},
     ("16-bit", "tone-mapped", "greyscale")),
]


def _cli_camera(folder: Path, text: str, name: str = "camera.json") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def _file(folder: Path, name: str, text: str = "x") -> Path:
    (folder / name).write_text(text)
    return folder / name


def _read_only(folder: Path) -> str:
    return "/proc/unihm-cannot-write-here"  # not writable even for root


# CLI: (id, make(folder) -> {option: value}, outcome, key words). outcome "refused": exit 2
# with the key words, before the models load; "checked": every check passes (the key words are
# in the warnings printed before the load).
CLI_CASES = [
    ("fx = 10^400", lambda t: {"--intrinsics": _cli_camera(t, camera_text_raw("1" + "0" * 400))}, "refused",
     ("fx=inf",)),
    ("fx with 5000 digits", lambda t: {"--intrinsics": _cli_camera(t, camera_text_raw("9" * 5000))}, "refused",
     ("fx=inf",)),
    ("arrays nested 30000 deep", lambda t: {"--intrinsics": _cli_camera(t, nested(30000))}, "refused",
     ("nests brackets",)),
    ("extrinsics translation 1e300", lambda t: {"--intrinsics": _cli_camera(t, far_extrinsics())}, "refused",
     ("from the world origin",)),
    ("identity extrinsics", lambda t: {"--intrinsics": _cli_camera(t, camera(extrinsics=np.eye(4).tolist()))},
     "refused", ("disagree with the table", "remove 'extrinsics'")),
    ("fx: true", lambda t: {"--intrinsics": _cli_camera(t, camera(fx=True))}, "refused", ("boolean",)),
    ("fx: 0.001", lambda t: {"--intrinsics": _cli_camera(t, camera(fx=0.001))}, "refused", ("plausible",)),
    ("depth_scale = -1", lambda t: {"--intrinsics": _cli_camera(t, camera(depth_scale=-1))}, "refused",
     ("units per metre",)),
    ("300-character camera file name", lambda t: {"--intrinsics": str(t / ("c" * 300 + ".json"))}, "refused",
     ("too long",)),
    ("--out empty", lambda t: {"--out": ""}, "refused", ("--out is empty",)),
    ("--out an existing file", lambda t: {"--out": str(_file(t, "taken.txt"))}, "refused", ("existing file",)),
    ("--out under a file", lambda t: {"--out": str(_file(t, "plain.txt") / "sub")}, "refused", ("which is a file",)),
    ("--out not writable", lambda t: {"--out": _read_only(t)}, "refused", ("cannot create",)),
    ("--out a non-empty folder", lambda t: {"--out": str(_file(t, "notes.txt").parent)}, "refused",
     ("not empty", "--overwrite")),
    ("--rgb not an image", lambda t: {"--rgb": str(not_an_image(t / "c.png"))}, "refused", ("not an image",)),
    ("unknown hand", lambda t: {"--hand": "robotiq"}, "refused", ("unknown hand",)),
    ("invalid bytes in the instruction", lambda t: {"--instruction": "\udcff put the yellow mug into the bowl"},
     "checked", ("not readable text",)),
    ("inline JSON as --intrinsics", lambda t: {"--intrinsics": camera()}, "checked", ()),
    ("hand name 'Allegro ' (case, space)", lambda t: {"--hand": "Allegro "}, "checked", ()),
]


def cli_args(folder: Path, changes: dict) -> list[str]:
    """``unihm generate`` arguments: the good example with ``changes`` applied (out: a fresh folder)."""
    base = {"--rgb": str(EX / "color.png"), "--depth": str(EX / "depth.png"), "--intrinsics": str(EX / "camera.json"),
            "--instruction": GOOD_INSTRUCTION, "--hand": "allegro", "--seed": "0", "--out": str(folder / "out")}
    base.update(changes)
    return ["generate", *[x for kv in base.items() for x in kv]]
