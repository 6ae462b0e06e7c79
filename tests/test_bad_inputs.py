"""Every bad input of issue 9 through the app's own code path.

The cases are listed in tests/bad_input_cases.py. Each upload goes through the Generate
tab's input components exactly as Gradio runs them (``checked_image().preprocess`` for the
colour image, ``path_file().preprocess`` for the depth, ``gr.Dropdown`` for the hand), then
through the handler of ``app.generate_tab.make_generate`` on the real pipeline. Every case
must end in a ``gr.Error`` whose message says what was wrong (asserted on key words), shows
no traceback, exception class name or server path, and leaves the session's output folder
empty.

Decision recorded here and in ``unihm_core.perception.grounding``: instructions in another
language are refused, never guessed. Text without Latin letters is refused before
perception ("English"); Latin-script text with no known word is refused by grounding, which
says English is expected and lists the objects found.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from gradio.components.image import ImageData

from app.uploads import checked_image
from bad_input_cases import CASES, EX, SERVED, GOOD_INSTRUCTION, H, ROOT, W, Progress, camera, example_depth_mm, npy, submit

_CLASS_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b")


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
    monkeypatch.setenv("UNIHM_LOG_DIR", str(tmp_path / "logs"))
    return out


def assert_clear(message: str, keywords: tuple[str, ...], tmp_path: Path) -> None:
    low = message.lower()
    missing = [k for k in keywords if k.lower() not in low]
    assert not missing, f"message lacks {missing}: {message}"
    assert "traceback" not in low and 'file "' not in low, message
    assert not _CLASS_NAME.search(message), f"exception class name in: {message}"
    assert str(tmp_path) not in message and "/tmp/" not in message, f"server path in: {message}"
    assert len(message) < 1200, message


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


@pytest.mark.parametrize("make,keywords", [pytest.param(m, k, id=i) for i, m, k in SERVED])
def test_served_input_names_what_was_assumed(generate, out_dir, tmp_path, make, keywords):
    """Inputs people have that are served (issue 18 item 8, issue 19): the result says which
    form was read or what was assumed, and one whole run folder is kept."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    outputs = submit(generate, tmp_path, **make(folder))
    result = outputs[-1]
    said = "; ".join(result.warnings) + " | " + result.scene.intrinsics.source_form
    assert all(k.lower() in said.lower() for k in keywords), said
    assert result.report()["camera"]["intrinsics_read_as"] == result.scene.intrinsics.source_form
    runs = list(out_dir.glob("*/run_*"))
    assert len(runs) == 1 and (runs[0] / "trajectory.json").is_file()


def test_handler_catch_all_hides_internals(out_dir, tmp_path):
    """An unexpected exception inside the handler is an 'internal error' gr.Error with a reference,
    no class name, no path; the traceback goes to the log."""
    from app.generate_tab import make_generate

    def broken_provider():
        raise ZeroDivisionError("/secret/path")

    with pytest.raises(gr.Error) as err:
        submit(make_generate(broken_provider), tmp_path)
    assert_clear(err.value.message, ("internal error", "please report it", "reference"), tmp_path)
    assert "secret" not in err.value.message and not any(out_dir.iterdir())


def test_cleared_seed_box(generate, out_dir, tmp_path):
    with pytest.raises(gr.Error) as err:
        generate(np.zeros((H, W, 3), np.uint8), str(EX / "depth.png"), camera(), None, GOOD_INSTRUCTION, "allegro",
                 None, 0.7, 0.95, False, False, 1000.0, 1.0, 1.0, 1.0, request=None, progress=Progress())
    assert_clear(err.value.message, ("seed is empty",), tmp_path)


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
    explanation, result, files = outputs[2], outputs[-1], outputs[13]
    assert "Warnings" in explanation and "assumed millimetres" in explanation
    assert result.scene.summary()["camera"]["depth_units_assumed"].startswith("millimetres")
    runs = list(out_dir.glob("*/run_*"))
    assert len(runs) == 1 and {Path(f) for f in files} == {p for p in runs[0].rglob("*") if p.is_file()}
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
