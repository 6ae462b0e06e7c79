"""Every bad input of issue 9 through the app's own code path.

Each upload goes through the Generate tab's input components exactly as Gradio runs them
(``checked_image().preprocess`` for the colour image, ``gr.File(type="filepath")`` for the
depth, ``gr.Dropdown`` for the hand), then through the handler of
``app.generate_tab.make_generate`` on the real pipeline. Every case must end in a
``gr.Error`` whose message says what was wrong (asserted on key words), shows no traceback,
exception class name or server path, and leaves the session's output folder empty.

Decision recorded here and in ``unihm_core.perception.grounding``: instructions in another
language are refused, never guessed. Text without Latin letters is refused before
perception ("English"); Latin-script text with no known word is refused by grounding, which
says English is expected and lists the objects found.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from gradio.components.image import ImageData
from gradio.data_classes import FileData
from PIL import Image

from app.image_input import checked_image
from unihm_core import HAND_NAMES

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "assets" / "examples" / "mug_into_bowl"
H, W = 480, 640
GOOD_INSTRUCTION = "put the yellow mug into the bowl"
_CLASS_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b")


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
        self.stages.append(desc)
        if desc in self.stall:
            import time

            time.sleep(self.stall[desc])


@pytest.fixture(scope="module")
def generate():
    """The app's Generate handler on the shipped pipeline (loaded once for this module)."""
    from app.generate_tab import make_generate
    from app.pipeline_provider import get_pipeline

    get_pipeline()
    return make_generate(get_pipeline)


@pytest.fixture
def out_dir(tmp_path, monkeypatch):
    """The app's output root (``UNIHM_OUTPUT_DIR``) pointed at an empty folder of this test."""
    import app.session as session

    out = tmp_path / "outputs"
    out.mkdir()
    monkeypatch.setattr(session, "OUTPUT_DIR", out)
    return out


def submit(generate, tmp_path: Path, *, rgb: Path = EX / "color.png", depth: Path = EX / "depth.png",
           intrinsics: str | None = None, instruction: str = GOOD_INSTRUCTION, hand: str = "allegro",
           render: bool = False, progress: Progress | None = None):
    """Preprocess the uploads with the app's components, then call the Generate handler."""
    rgb_value = checked_image().preprocess(ImageData(path=str(rgb), orig_name=rgb.name))
    depth_component = gr.File(type="filepath", file_types=[".png", ".npy"])
    depth_component.GRADIO_CACHE = str(tmp_path / "gradio_cache")  # gr.File leaves an empty temp file there
    Path(depth_component.GRADIO_CACHE).mkdir(exist_ok=True)
    depth_value = depth_component.preprocess(FileData(path=str(depth), orig_name=depth.name))
    hand_value = gr.Dropdown(list(HAND_NAMES), value="allegro").preprocess(hand)
    return generate(rgb_value, depth_value, camera() if intrinsics is None else intrinsics, None, instruction,
                    hand_value, 0, 0.7, 0.95, False, render, 1000.0, 1.0, 1.0, 1.0,
                    request=SimpleNamespace(session_hash="bad-input-session"), progress=progress or Progress())


def assert_clear(message: str, keywords: tuple[str, ...], tmp_path: Path) -> None:
    low = message.lower()
    missing = [k for k in keywords if k.lower() not in low]
    assert not missing, f"message lacks {missing}: {message}"
    assert "traceback" not in low and 'file "' not in low, message
    assert not _CLASS_NAME.search(message), f"exception class name in: {message}"
    assert str(tmp_path) not in message and "/tmp/" not in message, f"server path in: {message}"
    assert len(message) < 1200, message


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
    ("rgb/depth size mismatch", lambda t: {"depth": png16(t / "depth.png", example_depth_mm()[::2, ::2])},
     ("640x480", "320x240", "register")),
    ("metres in a uint16 png", lambda t: {"depth": png16(t / "depth.png", np.round(example_depth_mm() / 1000.0))},
     ("usable depth", "millimetres", "units")),
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
    ("cy infinite", lambda t: {"intrinsics": camera(cy=float("inf"))}, ("cy=inf", "outside")),
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


@pytest.mark.parametrize("make,keywords", [pytest.param(m, k, id=i) for i, m, k in CASES])
def test_bad_input_is_a_clear_error(generate, out_dir, tmp_path, make, keywords):
    folder = tmp_path / "inputs"
    folder.mkdir()
    inputs = make(folder)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(gr.Error) as err:
        submit(generate, tmp_path, **inputs)
    assert_clear(err.value.message, keywords, tmp_path)
    assert not any(out_dir.iterdir()), "the session folder holds something after a failed run"
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written beside the inputs


def test_unknown_hand_reaching_the_handler(generate, out_dir, tmp_path):
    """An API caller that skips the dropdown still gets the pipeline's own check."""
    with pytest.raises(gr.Error) as err:
        generate(np.zeros((H, W, 3), np.uint8), str(EX / "depth.png"), camera(), None, GOOD_INSTRUCTION, "robotiq",
                 0, 0.7, 0.95, False, False, 1000.0, 1.0, 1.0, 1.0, request=None, progress=Progress())
    assert_clear(err.value.message, ("unknown hand 'robotiq'", "choose one of", "shadow", "allegro"), tmp_path)
    assert not any(out_dir.iterdir())


def test_unknown_hand_in_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "unihm_core", "generate", "--rgb", str(EX / "color.png"),
                           "--depth", str(EX / "depth.png"), "--intrinsics", str(EX / "camera.json"),
                           "--instruction", GOOD_INSTRUCTION, "--hand", "robotiq", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "unknown hand 'robotiq'" in lines[0] and "shadow" in lines[0]
    assert not (tmp_path / "o").exists()


def test_inline_data_url_image_is_refused(tmp_path):
    with pytest.raises(gr.Error) as err:
        checked_image().preprocess(ImageData(url="data:image/png;base64,iVBORw0KGgo=", orig_name="x.png"))
    assert_clear(err.value.message, ("inline data", "upload"), tmp_path)


def test_millimetres_in_float_npy_are_converted_with_a_warning(generate, out_dir, tmp_path):
    """Not an error: float depth with a median of hundreds is taken as millimetres (DESIGN:
    "detect and say which was assumed"); the Perception tab says so, and one complete run is kept."""
    depth = npy(tmp_path / "depth.npy", example_depth_mm().astype(np.float32))
    outputs = submit(generate, tmp_path, depth=depth)
    explanation, result, files = outputs[2], outputs[-1], outputs[11]
    assert "Warnings" in explanation and "assumed millimetres" in explanation
    assert result.scene.summary()["camera"]["depth_units_assumed"].startswith("millimetres")
    runs = list(out_dir.glob("*/run_*"))
    assert len(runs) == 1 and {Path(f).name for f in files} <= {p.name for p in runs[0].iterdir()}
    assert {"trajectory.json", "trajectory.npz", "trajectory.csv", "meta.json", "report.json"} <= {
        p.name for p in runs[0].iterdir()}


def test_time_limit_is_checked_between_stages(generate, out_dir, tmp_path, monkeypatch):
    import app.generate_tab as tab

    monkeypatch.setattr(tab, "GENERATE_TIME_LIMIT_S", 0.1)
    progress = Progress(stall={"perception": 0.3})  # perception "takes" >= 0.3 s
    with pytest.raises(gr.Error) as err:
        submit(generate, tmp_path, progress=progress)
    assert_clear(err.value.message, ("time limit of 0.1 s", "before the grounding stage", "less busy"), tmp_path)
    assert progress.stages == ["perception"]  # nothing after the limit ran
    assert not any(out_dir.iterdir())


def test_time_limit_reached_before_rendering_skips_the_video(generate, out_dir, tmp_path, monkeypatch):
    """The pipeline finished, but the limit passed: the result is kept, the video is skipped with a note."""
    import app.generate_tab as tab

    clock = iter([0.0, 1000.0])  # handler start, check before rendering [s]
    monkeypatch.setattr(tab, "time", SimpleNamespace(perf_counter=lambda: next(clock, 1000.0)))

    def no_video(*_):
        raise AssertionError("the video must not be rendered after the time limit")

    monkeypatch.setattr(tab, "render_video", no_video)
    outputs = submit(generate, tmp_path, render=True)
    assert outputs[4] is None and "video was skipped" in outputs[2] and "180 s" in outputs[2]
    assert len(list(out_dir.glob("*/run_*/trajectory.json"))) == 1


def test_failed_export_leaves_no_partial_run(generate, out_dir, tmp_path, monkeypatch):
    import app.generate_tab as tab
    from unihm_core import InputError

    def half_export(result, run_dir, video):
        (run_dir / "trajectory.json").write_text("{")
        raise InputError("disk full while writing the export; free space and try again")

    monkeypatch.setattr(tab, "export_files", half_export)
    with pytest.raises(gr.Error, match="disk full"):
        submit(generate, tmp_path)
    assert not list(out_dir.rglob("*.json")) and not list(out_dir.glob("*/run_*"))
