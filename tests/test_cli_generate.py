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


def test_failed_render_keeps_the_trajectory_files(tmp_path, monkeypatch, capsys):
    """--render without a working renderer: the run's files are still written (whole), with a warning."""
    import unihm_core.sim.video as video
    from unihm_core.cli import main
    from unihm_core.errors import RenderError

    def no_vulkan(*_a, **_k):
        raise RenderError("no Vulkan device (test)")

    monkeypatch.setattr(video, "render_result", no_vulkan)
    instr = json.loads((EX / "example.json").read_text())["instruction"]
    out = tmp_path / "r"
    code = main(["generate", "--rgb", str(EX / "color.png"), "--depth", str(EX / "depth.png"), "--intrinsics",
                 str(EX / "camera.json"), "--instruction", instr, "--hand", "allegro", "--out", str(out),
                 "--no-refine", "--render"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "render.mp4 was not written: no Vulkan device (test)" in captured.err
    names = {p.name for p in out.iterdir()}
    assert "render.mp4" not in names and {"trajectory.json", "report.json", "scene.json", "target.obj"} <= names
    report = json.loads((out / "report.json").read_text())
    assert any("render.mp4 was not written" in w for w in report["warnings"]) and "render" in report["timings_s"]
