"""The 3-D view (app/scene3d.py): hand meshes posed by FK, contacts and penetration, frames that move.

The figure is built from a small stand-in result (the attributes scene3d reads), so these tests
need no models; tests/test_app_walk.py checks in a browser that Play moves the scene.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from app import scene3d


def _fake_result(hand: str = "allegro", T: int = 64, simulated: bool = False):
    from unihm_core import load_hand

    h = load_hand(hand)
    q0 = h.zero()
    q0[:3] = [0.0, -0.15, 0.12]  # wrist beside the target, above the table
    q = np.repeat(q0[None], T, 0)
    q[:, 0] = np.linspace(-0.05, 0.05, T)  # the wrist moves along x: every frame differs
    rng = np.random.default_rng(0)
    cube = trimesh.creation.box(extents=(0.06, 0.06, 0.08))
    target_pts = cube.sample(400, seed=1)
    poses = np.repeat(np.eye(4)[None], T, 0)
    poses[:, 2, 3] = 0.04 + np.linspace(0, 0.1, T)  # lifted
    other = rng.uniform([0.2, 0.1, 0.0], [0.28, 0.18, 0.05], (300, 3))
    inst = [SimpleNamespace(index=0, label="red box", points=target_pts + [0, 0, 0.04], completed_points=np.zeros((0, 3)),
                            colors=np.tile([0.9, 0.1, 0.1], (400, 1))),
            SimpleNamespace(index=1, label="blue box", points=other, completed_points=np.zeros((0, 3)),
                            colors=np.tile([0.1, 0.1, 0.9], (300, 1)))]
    res = SimpleNamespace(
        hand=hand, scene=SimpleNamespace(instances=inst, table_to_world=np.eye(4)),
        plan=SimpleNamespace(object_poses=poses), target=SimpleNamespace(index=0, points=target_pts),
        raw=SimpleNamespace(q=q + 0.01), refined=SimpleNamespace(q=q), physics={})
    if simulated:
        res.physics = {"refined": SimpleNamespace(hand_q=q - 0.01, object_poses=poses)}
    return res


@pytest.mark.parametrize("hand", ["allegro", "shadow", "leap", "panda_gripper"])
def test_hand_template_is_closed_meshes_on_valid_links(hand):
    from unihm_core import load_hand

    li, V, F = scene3d.hand_template(hand)
    assert len(li) == len(V) > 100 and F.max() < len(V)
    assert set(np.unique(li)) <= set(range(len(load_hand(hand).link_names)))
    mesh = trimesh.Trimesh(V, F, process=False)
    assert mesh.is_watertight  # each primitive is closed, so their union of components is too


def test_fingertip_spheres_follow_forward_kinematics():
    from unihm_core import load_hand

    hand = load_hand("allegro")
    q = hand.zero()[None].repeat(2, 0)
    q[1, 6:] = 0.5 * (hand.lower[6:] + hand.upper[6:])  # bent fingers
    V = scene3d.hand_vertices("allegro", q)
    li, _, _ = scene3d.hand_template("allegro")
    tips = hand.fingertip_positions(hand.clamp(q))
    r = hand.spec.link_radius
    for t in range(2):
        for f, name in enumerate(hand.spec.fingertip_links):
            pts = V[t, li == hand.link_names.index(name)]
            d = np.linalg.norm(pts - tips[t, f], axis=1)
            assert d.min() <= r + 1e-6  # the tip sphere (and capsule end) sit on the fingertip
    assert not np.allclose(V[0], V[1])


def test_signed_distance_and_contact_masks():
    h = scene3d.hull(trimesh.creation.box(extents=(0.1, 0.1, 0.1)).vertices)
    pts = np.array([[0, 0, 0], [0.049, 0, 0], [0.052, 0, 0], [0.2, 0, 0]])
    sd = scene3d.signed_distance_to_hull(h, pts)
    assert np.allclose(sd, [-0.05, -0.001, 0.002, 0.15], atol=1e-9)
    pose = np.eye(4)
    pose[:3, 3] = [0, 0, 0.1]  # the box sits at z = 0.1 in the world
    verts = np.array([[[0, 0, 0.1], [0.052, 0, 0.1], [0.3, 0, 0.1], [0.3, 0, -0.01], [0.3, 0, 0.01]]])
    pen, touch = scene3d.contact_masks(verts, pose[None], h, np.eye(4))
    assert pen[0].tolist() == [True, False, False, True, False]  # inside the box; below the table
    assert touch[0].tolist() == [False, True, False, False, False]  # 2 mm from the box's face


def test_figure_carries_moving_frames_in_meta():
    res = _fake_result()
    fig = scene3d.scene_figure(res)
    assert scene3d.frame_count(fig) == 33  # 0, 2, ..., 62 and the last frame 63
    frames = fig.layout.meta[scene3d.META_KEY]
    assert [f["name"] for f in frames][-2:] == ["62", "63"]
    n = len(fig.data)
    for f in frames:
        assert len(f["data"]) == len(f["traces"]) and max(f["traces"]) < n
        for d, i in zip(f["data"], f["traces"]):
            assert len(d["x"]) == len(d["y"]) == len(d["z"])
            if fig.data[i].type == "mesh3d":  # a mesh keeps its triangles, so its vertex count
                assert len(d["x"]) == len(fig.data[i].x)
    hand_trace = next(i for i, tr in enumerate(fig.data) if tr.name == "refined hand")
    k = frames[0]["traces"].index(hand_trace)
    x0, x1 = np.mean(frames[0]["data"][k]["x"]), np.mean(frames[-1]["data"][k]["x"])
    assert x1 - x0 == pytest.approx(0.1, abs=0.002)  # the wrist moved 10 cm along x
    target = next(i for i, tr in enumerate(fig.data) if tr.name.startswith("target #0"))
    kt = frames[0]["traces"].index(target)
    z0, z1 = np.mean(frames[0]["data"][kt]["z"]), np.mean(frames[-1]["data"][kt]["z"])
    assert z1 - z0 == pytest.approx(0.1, abs=0.01)  # the target is lifted along the plan
    names = {tr.name for tr in fig.data}
    assert {"table", "#1 blue box", "planned object path", "raw hand"} <= names
    assert "#0 red box" not in names  # the target is drawn at its planned pose instead


def test_frames_survive_gr_plot_and_the_js_adds_them():
    import gradio as gr

    fig = scene3d.scene_figure(_fake_result(T=10))
    sent = json.loads(gr.Plot().postprocess(fig).plot)
    assert "frames" not in sent or not sent["frames"]  # gr.Plot's frontend draws data and layout only
    assert len(sent["layout"]["meta"][scene3d.META_KEY]) == 6
    js = scene3d.frames_js()
    assert "Plotly.addFrames" in js and f'"{scene3d.META_KEY}"' in js and "data-unihm-frames" in js
    from app.server import launch_kwargs

    assert launch_kwargs("127.0.0.1", 7860)["js"] == js


def test_toggle_buttons_and_simulated_group():
    fig = scene3d.scene_figure(_fake_result(simulated=True))
    labels = [b.label for b in fig.layout.updatemenus[1].buttons]
    assert labels == ["all hands", "raw vs refined", "raw", "refined", "simulated"]
    groups = [tr.legendgroup for tr in fig.data]
    raw_only = fig.layout.updatemenus[1].buttons[2].args[0]["visible"]
    assert len(raw_only) == len(fig.data)
    for g, v in zip(groups, raw_only):
        assert v is True if g in ("raw", "objects", "table", "plan") else v == "legendonly"
    assert any(tr.name == "target #0 (simulated)" for tr in fig.data)
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert fig.layout.updatemenus[0].buttons[0].args[0] is None  # play every frame in order


def test_no_refinement_shows_the_raw_hand():
    res = _fake_result()
    res.refined = None
    fig = scene3d.scene_figure(res)
    assert [b.label for b in fig.layout.updatemenus[1].buttons] == ["all hands", "raw"]
    raw = next(tr for tr in fig.data if tr.name == "raw hand")
    assert raw.visible is True
