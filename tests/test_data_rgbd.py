"""RGB-D rendering (SAPIEN on lavapipe), the depth-noise model, and example-scene files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unihm_core.data import (
    CameraSpec,
    DepthNoiseConfig,
    RgbdRenderer,
    apply_depth_noise,
    depth_edges,
    depth_sigma,
    read_example_scene,
    sample_scene,
    scene_with_objects,
    write_example_scene,
)
from unihm_core.data.scenes import _look_at


@pytest.fixture(scope="module")
def renderer():
    from unihm_core.errors import RenderError

    try:
        return RgbdRenderer()
    except RenderError as exc:  # no Vulkan device on this machine
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def known_scene():
    ext = _look_at(np.array([0.05, -0.6, 0.55]), np.array([0.0, 0.05, 0.0]), 0.02)
    cam = CameraSpec(640, 480, 610.0, 612.0, 318.3, 242.7, ext)
    return scene_with_objects([("toy_cube", 3, (0.0, 0.0, 0.3)), ("mug", 4, (0.2, 0.1, 1.0))], cam)


def _table_ray_depth(cam: CameraSpec, plane_z: float = 0.0):
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    d = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones(u.shape)], axis=-1)
    dw = d @ cam.extrinsics[:3, :3].T
    t = (plane_z - cam.extrinsics[2, 3]) / dw[..., 2]  # depth along the optical axis (d_z = 1)
    return t, cam.extrinsics[:3, 3] + t[..., None] * dw


def test_depth_matches_geometry(renderer, known_scene):
    frame = renderer.render(known_scene)
    cam = known_scene.camera
    t, hit = _table_ray_depth(cam)
    tab = known_scene.table
    on_table = ((frame.mask == 0) & (np.abs(hit[..., 0] - tab.centre[0]) < tab.size[0] / 2 - 0.01)
                & (np.abs(hit[..., 1] - tab.centre[1]) < tab.size[1] / 2 - 0.01))
    assert on_table.sum() > 100_000
    err = np.abs(frame.depth[on_table] - t[on_table])
    assert np.median(err) < 0.0005 and np.percentile(err, 99.5) < 0.002
    # the principal ray hits the table at the expected distance
    pu, pv = int(round(cam.cx)), int(round(cam.cy))
    if on_table[pv, pu]:
        assert abs(frame.depth[pv, pu] - t[pv, pu]) < 0.002
    # top face of the cube: plane z = cube size
    cube = known_scene.target.instance
    s = cube.size[2]
    t_top, hit_top = _table_ray_depth(cam, s)
    local = (hit_top - known_scene.target.pose[:3, 3]) @ known_scene.target.pose[:3, :3]
    on_top = (frame.mask == 1) & (np.abs(local[..., 0]) < s / 2 - 0.003) & (np.abs(local[..., 1]) < s / 2 - 0.003)
    assert on_top.sum() > 200
    assert np.percentile(np.abs(frame.depth[on_top] - t_top[on_top]), 99) < 0.002
    # the red cube looks red, the black mug looks dark
    r, g, b = frame.color[frame.mask == 1].mean(axis=0)
    assert cube.colour_name == "red" and r > 1.8 * g and r > 1.8 * b
    assert known_scene.objects[1].instance.colour_name == "black"
    assert frame.color[frame.mask == 2].mean() < 0.5 * frame.color[frame.mask == 0].mean()


def test_masks_and_target_visible(renderer):
    for seed in (0, 3):
        sc = sample_scene(np.random.default_rng(seed))
        frame = renderer.render(sc)
        assert frame.color.shape == (480, 640, 3) and frame.color.dtype == np.uint8
        assert frame.depth.dtype == np.float32 and frame.mask.dtype == np.int32
        labels = set(np.unique(frame.mask).tolist())
        assert labels <= set(range(len(sc.objects) + 1)) and 0 in labels
        target = frame.mask == 1
        assert target.sum() > 50
        uv, _ = sc.camera.project(sc.target.world_vertices().mean(axis=0, keepdims=True))
        vv, uu = np.nonzero(target)
        assert uu.min() - 5 <= uv[0, 0] <= uu.max() + 5 and vv.min() - 5 <= uv[0, 1] <= vv.max() + 5
        # objects stand above the table: their depth is less than the table's behind them
        t, _ = _table_ray_depth(sc.camera)
        assert np.median(frame.depth[target] - t[target]) < 0
        np.testing.assert_array_equal(frame.object_poses, sc.object_poses)


def test_rendering_is_deterministic(renderer):
    sc = sample_scene(np.random.default_rng(7))
    a = renderer.render(sc)
    renderer.render(sample_scene(np.random.default_rng(8)))  # something else in between
    b = renderer.render(sc)
    np.testing.assert_array_equal(a.color, b.color)
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.mask, b.mask)


def test_noise_std_grows_with_depth_and_is_quantised():
    cfg = DepthNoiseConfig(speckle_rate=0.0)
    stds = []
    for z in (0.5, 1.0, 2.0):
        out = apply_depth_noise(np.full((120, 160), z), seed=1, config=cfg)
        assert out.dtype == np.uint16
        valid = out > 0
        assert valid.mean() > 0.99
        err = out[valid] / 1000.0 - z
        stds.append(err.std())
        assert abs(err.mean()) < 0.0005
        assert err.std() == pytest.approx(float(depth_sigma(z, cfg)), rel=0.3) or depth_sigma(z, cfg) < 0.0015
    assert stds[0] < stds[1] < stds[2]
    assert depth_sigma(2.0) == pytest.approx(0.001 + 0.0019 * 1.6 ** 2)
    # 1 mm quantisation: a noise-free config returns round(z * 1000)
    quiet = DepthNoiseConfig(sigma_base=0.0, sigma_quad=0.0, speckle_rate=0.0)
    z = np.linspace(0.5, 0.6, 160)[None, :].repeat(4, 0)
    out = apply_depth_noise(z, seed=0, config=quiet)
    inner = out[1:-1, 1:-1]
    np.testing.assert_array_equal(inner, np.round(z[1:-1, 1:-1] * 1000).astype(np.uint16))


def test_noise_drops_edges_shadows_dark_and_speckles():
    depth = np.full((100, 200), 1.0)
    depth[:, 100:] = 0.6  # a near surface on the right half
    edges = depth_edges(depth)
    assert edges[:, 99:101].all() and not edges[:, :95].any() and not edges[:, 105:].any()
    out = apply_depth_noise(depth, seed=3, fx=600.0, config=DepthNoiseConfig(speckle_rate=0.0))
    assert (out[:, 99:101] == 0).mean() > 0.6
    # stereo shadow left of the near surface: 600 * 0.05 * (1/0.6 - 1/1.0) = 20 px
    assert (out[:, 84:97] == 0).mean() > 0.95
    assert (out[:, 10:70] == 0).mean() < 0.01 and (out[:, 110:190] == 0).mean() < 0.01
    # dark surfaces lose most of their depth
    color = np.full((100, 200, 3), 200, np.uint8)
    color[:, :50] = 5
    out = apply_depth_noise(np.full((100, 200), 0.8), seed=3, color=color, config=DepthNoiseConfig(speckle_rate=0.0))
    assert 0.6 < (out[:, 2:48] == 0).mean() < 0.8 and (out[:, 60:190] == 0).mean() < 0.01
    # speckles: random holes at about the configured density, none without them
    out = apply_depth_noise(np.full((200, 200), 0.8), seed=5, config=DepthNoiseConfig(speckle_rate=0.002))
    assert 0.003 < (out == 0).mean() < 0.05
    # out of range
    assert apply_depth_noise(np.full((8, 8), 0.1), seed=0).max() == 0


def test_noise_is_seeded():
    d = np.random.default_rng(0).uniform(0.5, 1.5, (60, 80))
    a = apply_depth_noise(d, seed=11, fx=600.0)
    np.testing.assert_array_equal(a, apply_depth_noise(d, seed=11, fx=600.0))
    assert not np.array_equal(a, apply_depth_noise(d, seed=12, fx=600.0))


def test_write_and_read_example_scene(renderer, tmp_path):
    sc = sample_scene(np.random.default_rng(2))
    frame = write_example_scene(sc, tmp_path, renderer=renderer, noise_seed=4)
    ex = read_example_scene(tmp_path)
    np.testing.assert_array_equal(ex.color, frame.color)
    np.testing.assert_array_equal(ex.masks, frame.mask)
    assert ex.depth_mm.dtype == np.uint16
    valid = ex.depth_mm > 0
    assert valid.mean() > 0.8
    assert np.median(np.abs(ex.depth_mm[valid] / 1000.0 - frame.depth[valid])) < 0.003
    cam = json.loads((tmp_path / "camera.json").read_text())
    assert cam["depth_scale"] == 1000.0 and cam["width"] == 640 and cam["height"] == 480
    for k in ("fx", "fy", "cx", "cy"):
        assert cam[k] == getattr(sc.camera, k)
    np.testing.assert_allclose(cam["extrinsics"], sc.camera.extrinsics)
    assert ex.scene["objects"][0]["type_name"] == sc.target.instance.type_name
