"""Bad inputs -> the message each produces, through the app's Generate path and the CLI.

Runs every case of ``tests/bad_input_cases.py`` (the same table the tests assert on) through
the Generate tab's input components and handler on the shipped pipeline, plus a few cases
outside that table (an unknown hand reaching the handler and the CLI, an inline data URL, float
millimetres, a stage time limit), and the ``SERVED`` inputs (served with a named warning or
form). Then every ``CLI_CASES`` entry as a real ``unihm generate`` process, timed to its
refusal, and real runs into one result folder: four concurrent runs (one with ``--render``),
a run into a folder that gained a ``notes.txt``, three sequential ``--overwrite`` runs.
Writes the tables to the ``badinputs`` section of docs/RESULTS.md. Each app row also says
whether the session's output folder stayed empty; internal errors are counted over all tables.

Usage: python bench/bad_inputs.py
"""

from __future__ import annotations

import os
import statistics
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
    from bad_input_cases import CASES, CLI_CASES, EX, GOOD_INSTRUCTION, SERVED, cli_args, Progress, camera, example_depth_mm, npy, submit

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
        for name, make, _ in SERVED:
            run(f"{name} (served)", lambda w, make=make: submit(generate, w, **make(w / "inputs")))
        proc = subprocess.run([sys.executable, "-m", "unihm_core", "generate", "--rgb", str(EX / "color.png"),
                               "--depth", str(EX / "depth.png"), "--intrinsics", str(EX / "camera.json"),
                               "--instruction", GOOD_INSTRUCTION, "--hand", "robotiq", "--out", str(tmp / "cli")],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)
        rows.append(("unknown hand in the CLI", f"exit {proc.returncode}", proc.stderr.strip(),
                     not (tmp / "cli").exists()))

        cli_rows = cli_table(tmp, CLI_CASES, cli_args)
        folder_rows = folder_table(tmp)

    internal = sum("internal error" in r[2] for r in rows) + sum("internal error" in r[4] for r in cli_rows) \
        + sum("internal error" in r[2] for r in folder_rows)
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
    times = sorted(r[2] for r in cli_rows if r[1] == "refused")
    body += ("\n\n**CLI** (`unihm generate` as a real process per case, `CLI_CASES`, asserted in-process by "
             "`tests/test_cli_checks.py`): seconds from the start of the process to its exit. *Refused* cases must "
             "exit 2 before the models load; *checked* ones pass every check and go on to load the models (the "
             "time is then to the first line after the checks, the run is stopped there).\n\n"
             f"{len(cli_rows)} cases; refusals: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
             f"(before this issue: 11-20 s of model loading first).\n\n"
             "| input | expected | seconds | exit | message |\n|---|---|---|---|---|\n")
    body += "\n".join(f"| {_cell(n)} | {o} | {t:.2f} | {c} | {_cell(m)} |" for n, o, t, c, m in cli_rows)
    body += ("\n\n**Result folders** (real `unihm generate` runs on the mug example, `--no-refine`):\n\n"
             "| runs | outcome | folder afterwards |\n|---|---|---|\n")
    body += "\n".join(f"| {_cell(a)} | {_cell(b)} | {_cell(c)} |" for a, b, c in folder_rows)
    mixed = sum("mixed" in r[2] and "not mixed" not in r[2] for r in folder_rows)
    body += f"\n\nInternal errors over all tables: {internal}; mixed folders: {mixed}."
    write_section("badinputs", body)
    print(body)


def _cli(argv: list[str], timeout: float = 600.0, stop_at_load: bool = False):
    """Run ``unihm`` as a process; returns (seconds, exit code, stderr). With ``stop_at_load`` the
    process is stopped as soon as it has passed the checks (its first line of output after them)."""
    t = time.perf_counter()
    if not stop_at_load:
        proc = subprocess.run([sys.executable, "-m", "unihm_core", *argv], capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout)
        return time.perf_counter() - t, proc.returncode, proc.stderr.strip()
    code = ("import sys, unihm_core.pipeline as p\n"
            "def stop(*a, **k):\n    print('checks passed; models would load now', file=sys.stderr); sys.exit(3)\n"
            "p.Pipeline.load = classmethod(stop)\n"
            "from unihm_core.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)
    return time.perf_counter() - t, proc.returncode, proc.stderr.strip()


def cli_table(tmp: Path, cases, cli_args) -> list[tuple]:
    rows = []
    for k, (name, make, outcome, _) in enumerate(cases):
        folder = tmp / f"cli{k:02d}"
        folder.mkdir()
        argv = cli_args(folder, make(folder))
        seconds, code, err = _cli(argv, stop_at_load=outcome == "checked")
        rows.append((name, outcome, seconds, code, err.replace(str(folder), "<tmp>").replace(str(tmp), "<tmp>")))
    return rows


def _seeds_in(folder: Path) -> str:
    import json

    if not folder.exists():
        return "absent"
    seeds = set()
    for name in ("meta.json", "report.json", "trajectory.json"):
        if (folder / name).exists():
            seeds.add(json.loads((folder / name).read_text())["seed"])
    extra = sorted(p.name for p in folder.iterdir() if p.name not in {
        "trajectory.json", "trajectory.npz", "trajectory.csv", "meta.json", "report.json", "target.obj", "objects",
        "scene.json", "render.mp4", "physics.mp4"})
    kind = "one run's files (seed " + ", ".join(map(str, sorted(seeds))) + ")" if len(seeds) == 1 else \
        f"mixed seeds {sorted(seeds)}"
    return kind + (f" + {extra}" if extra else "") + ("" if "render.mp4" not in os.listdir(folder) else ", render.mp4")


def folder_table(tmp: Path) -> list[tuple]:
    """Real runs into one folder (concurrent, into a touched folder, sequential --overwrite)."""
    from bad_input_cases import cli_args

    rows = []
    out = tmp / "shared" / "result"
    out.parent.mkdir()

    def argv(seed: int, *extra: str) -> list[str]:
        return cli_args(tmp, {"--out": str(out), "--seed": str(seed)}) + ["--no-refine", *extra]

    procs = [subprocess.Popen([sys.executable, "-m", "unihm_core", *argv(s, *(["--render"] if s == 0 else []))],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for s in range(4)]
    results = [(p.wait(timeout=900), p.stderr.read().strip().splitlines()) for p in procs]
    codes = [c for c, _ in results]
    refusals = {ln.split("error: ", 1)[-1].split(";")[0] for c, e in results if c for ln in e[-1:]}
    rows.append(("4 concurrent runs into one --out (seeds 0-3, seed 0 with --render)",
                 f"exit codes {codes}: {codes.count(0)} kept whole, {len(codes) - codes.count(0)} refused "
                 f"({'; '.join(sorted(refusals))})", _seeds_in(out)))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    (out / "notes.txt").write_text("my notes")
    seconds, code, err = _cli(argv(7))
    same = all((out / n).read_bytes() == b for n, b in before.items())
    rows.append(("a run into that folder after adding notes.txt (no --overwrite)",
                 f"exit {code} after {seconds:.1f} s: {err.split('error: ', 1)[-1]}",
                 _seeds_in(out) + ("; unchanged" if same else "; CHANGED")))
    (out / "notes.txt").unlink()
    for s in (1, 2, 3):
        _, code, err = _cli(argv(s, "--overwrite"))
        if code:
            rows.append((f"--overwrite run seed {s}", f"exit {code}: {err}", _seeds_in(out)))
    rows.append(("3 sequential --overwrite runs (seeds 1, 2, 3)", "each exit 0" if len(rows) == 2 else "see above",
                 _seeds_in(out)))
    left = [p.name for p in out.parent.iterdir() if p.name != "result"]
    rows.append(("temporary folders beside the result afterwards", "none" if not left else f"{left}",
                 "not mixed" if not left else "leftovers"))
    return rows


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\n{time.perf_counter() - t0:.1f} s")
