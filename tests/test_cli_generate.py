"""`unihm generate`: the files of DESIGN.md, and one-line errors with non-zero exit."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "assets" / "examples" / "lift_soup_can"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "unihm_core", "generate", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_generate_writes_files(tmp_path):
    instr = json.loads((EX / "example.json").read_text())["instruction"]
    proc = _run("--rgb", str(EX / "color.png"), "--depth", str(EX / "depth.png"), "--intrinsics",
                str(EX / "camera.json"), "--instruction", instr, "--hand", "inspire", "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "o"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert json.loads(proc.stdout)["files"] == files  # the folder holds exactly this run's files
    assert {"trajectory.json", "trajectory.npz", "trajectory.csv", "meta.json", "report.json", "target.obj",
            "scene.json"} <= set(files)
    scene = json.loads((out / "scene.json").read_text())
    assert scene["target"]["mesh"] == "target.obj"
    assert all(o["mesh"] is None or (out / o["mesh"]).is_file() for o in scene["objects"])
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no staging folder left beside it
    # a second run into the same folder is refused before anything runs, and changes nothing
    before = {f: (out / f).read_bytes() for f in files}
    again = _run("--rgb", str(EX / "color.png"), "--depth", str(EX / "depth.png"), "--intrinsics",
                 str(EX / "camera.json"), "--instruction", instr, "--hand", "inspire", "--out", str(out), "--seed", "1")
    assert again.returncode == 2 and "not empty" in again.stderr and "--overwrite" in again.stderr
    assert {f: (out / f).read_bytes() for f in files} == before
    names = set(files)
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    for key in ("instruction", "hand", "seed", "camera", "target", "instances", "plan", "metrics", "timings_s"):
        assert key in report
    assert {"fx", "fy", "cx", "cy", "extrinsics", "depth_units_assumed"} <= set(report["camera"])
    assert {"label", "description", "centroid_camera", "centroid_world", "num_points"} <= set(report["target"])


def test_bad_inputs_one_line_nonzero(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    for args in (("--hand", "robotiq"), ("--rgb", str(bad))):
        base = {"--rgb": str(EX / "color.png"), "--depth": str(EX / "depth.png"),
                "--intrinsics": str(EX / "camera.json"), "--instruction": "pick up the can", "--hand": "allegro",
                "--out": str(tmp_path / "o2")}
        base[args[0]] = args[1]
        proc = _run(*[x for kv in base.items() for x in kv])
        assert proc.returncode == 2
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("unihm")]
        assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o2").exists()
