"""Issue 18 item 6 on a real generation: typed result fields, the typed energy trace, and the one
export path (the app's Export tab and ``unihm generate`` write the same folder through
``unihm_core.export.write_result``), whose meshes and poses replay the scene."""

from __future__ import annotations

import ast
import json
import re
import runpy
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import trimesh

import generated
from unihm_core.paths import REPO_ROOT


@pytest.fixture(scope="module")
def res():
    return generated.result()


def test_result_fields_are_typed():
    import unihm_core.pipeline as pipeline
    from unihm_core.energy_trace import EnergyTrace
    from unihm_core.perception import Grounding, Scene
    from unihm_core.planning import Plan
    from unihm_core.refine import RefineResult
    from unihm_core.sim.execution import ExecutionReport
    from unihm_core.vlm.generate import TokenSample

    ns = dict(vars(pipeline), Scene=Scene, Grounding=Grounding, Plan=Plan, RefineResult=RefineResult,
              ExecutionReport=ExecutionReport, EnergyTrace=EnergyTrace, TokenSample=TokenSample)
    hints = typing.get_type_hints(pipeline.GenerationResult, globalns=ns)
    assert hints["scene"] is Scene and hints["grounding"] is Grounding and hints["plan"] is Plan
    assert hints["refine_result"] == RefineResult | None and hints["energies"] == EnergyTrace | None
    assert hints["physics"] == dict[str, ExecutionReport] and hints["token_sample"] == TokenSample | None
    assert all(h is not object for h in hints.values()), hints


def test_energy_trace_is_the_refinement_s(res):
    from unihm_core.energy_trace import EnergyTrace

    e, r = res.energies, res.refine_result
    assert isinstance(e, EnergyTrace)
    T, F = len(res.raw.q), len(r.fingertip_links)
    assert e.contact_raw.shape == e.contact_refined.shape == (T, F) and e.total_raw.shape == (T,)
    np.testing.assert_array_equal(e.contact_refined, r.energies["contact"])
    np.testing.assert_array_equal(e.terms["total"], r.energies["total"])
    assert e.schedule.shape == (T, F) and e.schedule.dtype == bool and len(e.status) == T
    names = [k for k, _ in e.plotted_terms()]
    assert names[:4] == ["contact_total", "gen", "vel", "acc"]
    # refinement lowers the total energy it minimises (what the Energy tab shows)
    assert e.terms["total"].sum() < e.total_raw.sum()
    report = json.loads(json.dumps(res.report()))["energies"]
    assert set(report) == {"refined", "raw", "fingertip_links", "schedule", "status"}
    np.testing.assert_allclose(report["raw"]["contact_total"], e.contact_raw.sum(1), atol=1e-7)


def test_energy_plot_reads_the_trace(res):
    from dataclasses import replace

    from app import plots

    fig = plots.energy_figure(res)
    names = [t.name for t in fig.data]
    assert f"{res.energies.fingertip_links[0]} raw" in names and "gen" in names
    np.testing.assert_allclose(fig.data[1].y, res.energies.contact_refined[:, 0])
    empty = plots.energy_figure(replace(res, energies=None))
    assert not empty.data and any("no energies" in a.text for a in empty.layout.annotations)


def test_write_result_meshes_parse_and_poses_place_them(res, tmp_path):
    from unihm_core.export import target_mesh, write_result

    files = write_result(res, tmp_path / "out")
    out = tmp_path / "out"
    names = {str(p.relative_to(out)) for p in files}
    scene = json.loads((out / "scene.json").read_text())
    others = [i for i in res.scene.instances if i.index != res.target.index]
    assert len(others) >= 1 and [o["index"] for o in scene["objects"]] == [i.index for i in others]
    target = trimesh.load(out / "target.obj", force="mesh")
    np.testing.assert_allclose(np.sort(target.vertices, 0), np.sort(target_mesh(res).vertices, 0), atol=1e-6)
    assert target.is_watertight
    meshed = 0
    for entry, inst in zip(scene["objects"], others):
        pose = np.asarray(entry["pose_world"])
        assert pose.shape == (4, 4) and np.allclose(pose[:3, :3], np.eye(3))
        if entry["mesh"] is None:
            continue
        meshed += 1
        assert entry["mesh"] in names
        mesh = trimesh.load(out / entry["mesh"], force="mesh")
        assert len(mesh.faces) >= 4 and mesh.vertices[:, 2].min() > -0.03  # object frame: origin at its bottom
        world = mesh.vertices + pose[:3, 3]
        pts = np.asarray(inst.points)
        if len(inst.completed_points):
            pts = np.concatenate([pts, inst.completed_points])
        d = np.linalg.norm(world[:, None] - pts[None], axis=2).min(1)
        assert d.max() < 1e-4, f"#{inst.index}: hull vertices placed by pose_world are the instance's points"
    assert meshed >= 1


def _snippet() -> str:
    text = (REPO_ROOT / "docs" / "EXPORT.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]


def test_replay_snippet_on_a_real_export(res, tmp_path, monkeypatch):
    """docs/EXPORT.md's snippet loads this export's OBJs and joint trajectory and poses them."""
    from conftest import skip_or_fail
    from unihm_core.errors import RenderError
    from unihm_core.export import write_result

    try:
        from unihm_core.sim.vulkan import import_sapien

        import_sapien()
    except RenderError as exc:
        skip_or_fail(str(exc))
    out = tmp_path / "out"
    write_result(res, out)
    script = tmp_path / "replay.py"
    script.write_text(_snippet())
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "argv", [str(script), str(out)])
    ns = runpy.run_path(str(script), run_name="__main__")
    assert len(ns["frames"]) == len(res.best.q)
    np.testing.assert_allclose(ns["target"].get_pose().p, res.plan.object_poses[-1, :3, 3], atol=1e-5)
    actors = {e.name: e for e in ns["scene"].entities}
    layout = json.loads((out / "scene.json").read_text())
    for obj in layout["objects"]:
        if obj["mesh"] is not None:
            np.testing.assert_allclose(actors[f"object_{obj['index']}"].get_pose().p,
                                       np.asarray(obj["pose_world"])[:3, 3], atol=1e-5)


def test_app_export_is_write_result(res, tmp_path):
    """The Export tab's files are write_result's folder, report.json is the result's report."""
    from app import generate_tab

    run_dir = tmp_path / "sess" / "run_0001"
    run_dir.parent.mkdir()
    outputs = generate_tab._outputs(res, run_dir, render=False)
    app_files = {str(Path(p).relative_to(run_dir)) for p in outputs[generate_tab.OUTPUT_NAMES.index("files")]}
    from unihm_core.export import write_result

    cli_files = {str(p.relative_to(tmp_path / "cli")) for p in write_result(res, tmp_path / "cli")}
    assert app_files == cli_files and {"target.obj", "scene.json", "report.json"} <= app_files
    report = json.loads((run_dir / "report.json").read_text())
    assert report["tokens"] == res.tokens.tolist() and report["energies"] == res.energies.to_dict()


def test_no_private_imports_across_app_modules():
    """A tab never imports another module's private helpers (e.g. the old ``_object_mesh``)."""
    for path in sorted((REPO_ROOT / "app").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
    assert "_object_mesh" not in (REPO_ROOT / "app" / "generate_tab.py").read_text()
