"""Bad inputs -> the message each produces, through the app's Generate path.

Runs every case of ``tests/bad_input_cases.py`` (the same table the tests assert on) through
the Generate tab's input components and handler on the shipped pipeline, plus a few cases
outside that table (an unknown hand reaching the handler and the CLI, an inline data URL, float
millimetres, a stage time limit), and writes the table "bad input -> message" to the
``badinputs`` section of docs/RESULTS.md. Each row also says whether the session's output
folder stayed empty.

Usage: python bench/bad_inputs.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.results import write_section  # noqa: E402


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    import gradio as gr
    import numpy as np
    from gradio.components.image import ImageData

    import app.generate_tab as tab
    import app.session as session
    from app.uploads import checked_image
    from app.pipeline_provider import get_pipeline
    from bad_input_cases import CASES, EX, GOOD_INSTRUCTION, Progress, camera, example_depth_mm, npy, submit

    get_pipeline()
    generate = tab.make_generate(get_pipeline)
    rows: list[tuple[str, str, str, bool]] = []  # (input, outcome, message, session folder empty)
    with tempfile.TemporaryDirectory(prefix="unihm_badinputs_") as tmp:
        tmp = Path(tmp)

        def run(name: str, call) -> None:
            work = tmp / f"case{len(rows):02d}"
            (work / "inputs").mkdir(parents=True)
            session.OUTPUT_DIR = work / "outputs"
            session.OUTPUT_DIR.mkdir()
            try:
                outputs = call(work)
                outcome = "served"
                message = "; ".join(outputs[-1].warnings) if outputs else ""
            except gr.Error as exc:
                outcome, message = "gr.Error", exc.message
            rows.append((name, outcome, message.replace(str(work), "<tmp>"), not any(session.OUTPUT_DIR.iterdir())))

        for name, make, _ in CASES:
            run(name, lambda w, make=make: submit(generate, w, **make(w / "inputs")))
        run("unknown hand reaching the handler (API without the dropdown)",
            lambda w: generate(np.zeros((480, 640, 3), np.uint8), str(EX / "depth.png"), camera(), None,
                               GOOD_INSTRUCTION, "robotiq", 0, 0.7, 0.95, False, False, 1000.0, 1.0, 1.0, 1.0,
                               request=None, progress=Progress()))
        run("colour image sent as an inline data URL",
            lambda w: checked_image().preprocess(ImageData(url="data:image/png;base64,iVBORw0KGgo=")))
        run("millimetres in a float .npy (converted, warned)",
            lambda w: submit(generate, w, depth=npy(w / "inputs" / "depth.npy", example_depth_mm().astype(np.float32))))
        limit = tab.GENERATE_TIME_LIMIT_S
        tab.GENERATE_TIME_LIMIT_S = 0.1
        try:
            run("stage time limit (0.1 s; perception stalled 0.3 s)",
                lambda w: submit(generate, w, progress=Progress(stall={"perception": 0.3})))
        finally:
            tab.GENERATE_TIME_LIMIT_S = limit
        proc = subprocess.run([sys.executable, "-m", "unihm_core", "generate", "--rgb", str(EX / "color.png"),
                               "--depth", str(EX / "depth.png"), "--intrinsics", str(EX / "camera.json"),
                               "--instruction", GOOD_INSTRUCTION, "--hand", "robotiq", "--out", str(tmp / "cli")],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        rows.append(("unknown hand in the CLI", f"exit {proc.returncode}", proc.stderr.strip(),
                     not (tmp / "cli").exists()))

    errors = sum(r[1] == "gr.Error" for r in rows)
    body = ("`bench/bad_inputs.py`: every bad input of issue 9 through the app's Generate path (the tab's input "
            "components, then its handler on the shipped pipeline; cases from `tests/bad_input_cases.py`, "
            "asserted by `tests/test_bad_inputs.py`), plus the CLI. *Folder empty*: the session's output "
            "folder holds nothing afterwards.\n\n"
            f"{len(rows)} inputs: {errors} refused with a `gr.Error`, "
            f"{sum(r[1] == 'served' for r in rows)} served with a warning, "
            f"{sum(r[1].startswith('exit') for r in rows)} CLI exit; "
            f"folder empty after every refusal: {all(r[3] for r in rows if r[1] != 'served')}.\n\n"
            "| bad input | outcome | message shown to the user | folder empty |\n|---|---|---|---|\n")
    body += "\n".join(f"| {_cell(n)} | {o} | {_cell(m)} | {'yes' if e else 'no'} |" for n, o, m, e in rows)
    body += ("\n\nNot in the table: an upload over 20 MiB is refused by Gradio with HTTP 413 before any handler "
             "runs, and a full queue answers 'Queue is full! Please try again.' (both tested in "
             "tests/test_app_e2e.py and tests/test_app_limits.py).")
    write_section("badinputs", body)
    print(body)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n{time.perf_counter() - t0:.1f} s")
