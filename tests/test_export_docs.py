"""docs/EXPORT.md: its replay snippet runs against a fresh export and poses the hand as FK says."""

import re
import runpy
import sys

import numpy as np
import pytest

from unihm_core.errors import RenderError
from unihm_core.export import TrajectoryExport, write_export
from unihm_core.hands import load_hand
from unihm_core.hands.poses import preset_pose
from unihm_core.paths import REPO_ROOT

DOC = REPO_ROOT / "docs" / "EXPORT.md"


def _snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "docs/EXPORT.md must hold exactly one python block (the replay snippet)"
    return blocks[0]


@pytest.fixture(scope="module")
def sapien_ok():
    from conftest import skip_or_fail

    try:
        from unihm_core.sim.vulkan import import_sapien

        import_sapien()
    except RenderError as exc:
        skip_or_fail(str(exc))


def test_doc_lists_every_export_key():
    import json

    from unihm_core.export import SCHEMA_PATH

    text = DOC.read_text(encoding="utf-8")
    for key in json.loads(SCHEMA_PATH.read_text())["properties"]:
        assert f"`{key}`" in text, f"docs/EXPORT.md does not describe trajectory.json field {key!r}"
    for key in ("q_raw", "q_refined", "fingertips_raw", "fingertips_refined", "object_poses_world", "joint_names"):
        assert f"`{key}`" in text


@pytest.mark.parametrize("hand_name", ["inspire", "allegro"])  # inspire has mimic joints
def test_replay_snippet_runs_on_an_export(tmp_path, monkeypatch, sapien_ok, hand_name):
    hand = load_hand(hand_name)
    a = preset_pose(hand, "open", wrist=np.array([0.1, -0.05, 0.2, 0.3, -0.2, 0.5]))
    b = preset_pose(hand, "power grasp", wrist=np.array([0.15, 0.0, 0.25, 0.1, 0.2, -0.4]))
    q = a + np.linspace(0, 1, 6)[:, None] * (b - a)
    poses = np.tile(np.eye(4), (6, 1, 1))
    poses[:, :3, 3] = np.linspace([0.3, 0.0, 0.0], [0.3, 0.1, 0.2], 6)  # the target is carried
    write_export(TrajectoryExport(hand=hand_name, joint_names=list(hand.joint_names), q_raw=q + 0.01 * (q != 0),
                                  q_refined=q, object_poses_world=poses, seed=3), tmp_path)
    _write_scene(tmp_path)
    script = tmp_path / "replay.py"
    script.write_text(_snippet())
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    ns = runpy.run_path(str(script), run_name="__main__")
    assert len(ns["frames"]) == 6
    png = tmp_path / "replay_last_frame.png"
    assert png.exists()
    img = ns["frames"][-1]
    assert img.shape == (240, 320, 3) and img.std() > 5  # something was drawn, not a blank frame
    # The snippet posed the hand at the refined last frame: every link matches pinocchio FK.
    fk = hand.fk(q[-1])
    sim = {link.name: link.entity_pose for link in ns["hand"].links}
    for name, T in zip(hand.link_names, fk.link_poses):
        np.testing.assert_allclose(sim[name].p, T[:3, 3], atol=1e-4, err_msg=name)
    # ... and the target where object_poses_world puts it in the last frame, the others still
    np.testing.assert_allclose(ns["target"].get_pose().p, poses[-1, :3, 3], atol=1e-5)
    names = {e.name: e for e in ns["scene"].entities}
    assert {"table", "target", "object_1"} <= set(names)
    np.testing.assert_allclose(names["object_1"].get_pose().p, [0.4, 0.2, 0.0], atol=1e-6)  # posed by pose_world


def _write_scene(folder):
    """The meshes and scene.json of write_result (a box target, one other object)."""
    import json

    import trimesh

    (folder / "objects").mkdir()
    trimesh.creation.box([0.06, 0.06, 0.1]).export(folder / "target.obj")
    trimesh.creation.box([0.1, 0.1, 0.05]).apply_translation([0, 0, 0.025]).export(folder / "objects" / "01_box.obj")
    placed = np.eye(4)
    placed[:3, 3] = [0.4, 0.2, 0.0]
    (folder / "scene.json").write_text(json.dumps({
        "format": "unihm-scene/1", "units": "m", "target": {"index": 0, "mesh": "target.obj"},
        "objects": [{"index": 1, "mesh": "objects/01_box.obj", "pose_world": placed.tolist()},
                    {"index": 2, "mesh": None, "pose_world": np.eye(4).tolist()}],
        "table_to_world": np.eye(4).tolist()}))


def test_write_result_folder_matches_the_doc():
    """The files EXPORT.md's folder table lists are the ones write_result writes (names only)."""
    text = DOC.read_text(encoding="utf-8")
    for name in ("trajectory.json", "meta.json", "report.json", "target.obj", "objects/NN_<label>.obj",
                 "scene.json", "render.mp4", "--overwrite", "table_to_world"):
        assert name in text, name
