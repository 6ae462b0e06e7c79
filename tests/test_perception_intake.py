"""RGB-D intake: units, back-projection, validation errors, table plane."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from perception_synth import CX, CY, FX, FY, H, W, default_camera, render, three_shapes
from unihm_core.errors import InputError
from unihm_core.perception import Intrinsics, load_rgbd, perceive
from unihm_core.perception.rgbd import backproject, depth_to_metres
from unihm_core.perception.table import camera_to_table, fit_table_plane

INTR = Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H)


@pytest.fixture(scope="module")
def frame():
    return render(three_shapes(), noise=0.0015, seed=1)


def _save_png16(path, depth_m):
    mm = np.round(depth_m * 1000).astype(np.uint16)
    Image.fromarray(mm).save(path)
    return mm


# -- units -------------------------------------------------------------------------------
def test_mm_png_and_metre_npy_give_same_cloud(tmp_path, frame):
    rgb, depth, _, _ = frame
    Image.fromarray(rgb).save(tmp_path / "c.png")
    mm = _save_png16(tmp_path / "d.png", depth)
    np.save(tmp_path / "d.npy", mm.astype(np.float32) / 1000.0)  # same quantised depth in metres
    f_mm = load_rgbd(tmp_path / "c.png", tmp_path / "d.png", INTR)
    f_m = load_rgbd(tmp_path / "c.png", tmp_path / "d.npy", INTR)
    assert f_mm.depth_units.startswith("millimetres")
    assert f_m.depth_units.startswith("metres")
    c_mm, c_m = backproject(f_mm), backproject(f_m)
    np.testing.assert_array_equal(c_mm.pixel_index, c_m.pixel_index)
    assert np.abs(c_mm.points - c_m.points).max() < 1e-3
    np.testing.assert_array_equal(c_mm.colors, c_m.colors)


def test_float_millimetres_are_converted_with_warning(frame):
    rgb, depth, _, _ = frame
    f = load_rgbd(rgb, (depth * 1000).astype(np.float32), INTR)
    assert "millimetres" in f.depth_units
    assert any("millimetres" in w for w in f.warnings)
    ref = load_rgbd(rgb, depth.astype(np.float32), INTR)
    assert np.abs(f.depth - ref.depth).max() < 1e-5


def test_depth_scale_overrides_dtype(frame):
    rgb, depth, _, _ = frame
    tenth_mm = np.round(depth * 10000).astype(np.uint16)  # 0.1 mm units
    intr = Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H, depth_scale=10000.0)
    f = load_rgbd(rgb, tenth_mm, intr)
    assert "depth_scale" in f.depth_units
    valid = depth > 0
    assert np.abs(f.depth[valid] - depth[valid]).max() < 1e-4


def test_backprojection_matches_pinhole_model(frame):
    rgb, depth, _, _ = frame
    c = backproject(load_rgbd(rgb, depth, INTR))
    v, u = np.divmod(c.pixel_index, W)
    z = c.points[:, 2]
    np.testing.assert_allclose(c.points[:, 0], (u - CX) * z / FX, atol=1e-6)
    np.testing.assert_allclose(c.points[:, 1], (v - CY) * z / FY, atol=1e-6)
    np.testing.assert_allclose(z, depth.ravel()[c.pixel_index], atol=1e-6)


def test_invalid_depth_dropped(frame):
    rgb, depth, _, _ = frame
    d = depth.astype(np.float32).copy()
    d[:50] = np.nan
    d[50:60] = 0.0
    d[60:70] = np.inf
    c = backproject(load_rgbd(rgb, d, INTR))
    assert c.pixel_index.min() >= 70 * W
    assert np.all(np.isfinite(c.points))


# -- intrinsics validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"fx": 0.0}, "fx"),
        ({"fy": -5.0}, "fy"),
        ({"fx": float("nan")}, "fx"),
        ({"fy": float("inf")}, "fy"),
        ({"cx": 700.0}, "principal point"),
        ({"cy": -1.0}, "principal point"),
        ({"width": 0}, "width"),
        ({"depth_scale": 0.0}, "depth_scale"),
        ({"extrinsics": np.ones((4, 4))}, "rotation"),
        ({"extrinsics": np.eye(3)}, "4x4"),
    ],
)
def test_intrinsics_rejects_nonsense(kwargs, fragment):
    args = {"fx": FX, "fy": FY, "cx": CX, "cy": CY, "width": W, "height": H, **kwargs}
    with pytest.raises(InputError, match=fragment):
        Intrinsics(**args)


def test_camera_json_formats(tmp_path):
    T = default_camera()
    p = tmp_path / "camera.json"
    p.write_text(json.dumps({"fx": 600, "fy": 601, "cx": 319.5, "cy": 239.5, "depth_scale": 1000,
                             "extrinsics": T.tolist()}))
    intr = Intrinsics.from_json(p, width=640, height=480)
    assert (intr.fx, intr.fy, intr.width, intr.depth_scale) == (600.0, 601.0, 640, 1000.0)
    np.testing.assert_allclose(intr.extrinsics, T)
    rs = tmp_path / "rs.json"
    rs.write_text(json.dumps({"img_width": 640, "img_height": 480, "fx": 612.9, "fy": 613.1,
                              "x_offset": 322.5, "y_offset": 248.2}))
    intr2 = Intrinsics.from_json(rs)
    assert (intr2.cx, intr2.cy, intr2.height) == (322.5, 248.2, 480)
    bad = tmp_path / "bad.json"
    bad.write_text("{fx: 1")
    with pytest.raises(InputError, match="not valid JSON"):
        Intrinsics.from_json(bad, width=640, height=480)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"fx": 600, "fy": 600, "cx": 320}))
    with pytest.raises(InputError, match="cy"):
        Intrinsics.from_json(missing, width=640, height=480)


# -- image / depth validation -----------------------------------------------------------------
def test_size_mismatch(frame):
    rgb, depth, _, _ = frame
    with pytest.raises(InputError, match="640x480 but depth is 320x240"):
        load_rgbd(rgb, depth[::2, ::2], INTR)
    with pytest.raises(InputError, match="intrinsics are for a 320x240"):
        load_rgbd(rgb, depth, Intrinsics(fx=300, fy=300, cx=160, cy=120, width=320, height=240))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda d: np.full_like(d, np.nan), "entirely NaN"),
        (lambda d: np.zeros_like(d), "all zeros"),
        (lambda d: np.where(d > 0, -d, 0.0), "negative"),
        (lambda d: np.where(np.arange(d.size).reshape(d.shape) < 500, d, 0.0), "only 500 pixels"),
        (lambda d: d.astype(np.uint8), "uint8"),
        (lambda d: d[:, :, None].repeat(3, axis=2), "single-channel"),
    ],
)
def test_bad_depth_rejected(frame, make, fragment):
    rgb, depth, _, _ = frame
    with pytest.raises(InputError, match=fragment):
        load_rgbd(rgb, make(depth), INTR)


def test_decompression_bomb_checked_before_decoding(tmp_path, frame, monkeypatch):
    rgb, depth, _, _ = frame
    big = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000)).save(big)
    called = []
    orig = Image.Image.load

    def spy(self):
        called.append(self.size)
        return orig(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(InputError, match="above the limit"):
        load_rgbd(big, depth, INTR, max_pixels=1_000_000)
    assert called == []  # refused from the header, nothing decoded


def test_truncated_and_non_image_files(tmp_path, frame):
    rgb, depth, _, _ = frame
    Image.fromarray(rgb).save(tmp_path / "c.png")
    _save_png16(tmp_path / "d.png", depth)
    data = (tmp_path / "c.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_rgbd(tmp_path / "trunc.png", tmp_path / "d.png", INTR)
    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(InputError, match="not an image"):
        load_rgbd(tmp_path / "notes.png", tmp_path / "d.png", INTR)
    with pytest.raises(InputError, match="does not exist"):
        load_rgbd(tmp_path / "nope.png", tmp_path / "d.png", INTR)
    with pytest.raises(InputError, match="16-bit"):  # a colour PNG given as depth
        load_rgbd(tmp_path / "c.png", tmp_path / "c.png", INTR)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="numeric"):
        load_rgbd(tmp_path / "c.png", tmp_path / "obj.npy", INTR)


def test_depth_to_metres_reports_units():
    d, units, notes = depth_to_metres(np.full((4, 4), 800, dtype=np.uint16))
    assert units.startswith("millimetres") and notes == [] and np.allclose(d, 0.8)
    d, units, notes = depth_to_metres(np.full((4, 4), 0.8, dtype=np.float64))
    assert units.startswith("metres") and np.allclose(d, 0.8)


# -- table plane ----------------------------------------------------------------------------
def _angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


@pytest.mark.parametrize("tilt_target", [(0.0, 0.05, 0.0), (0.1, 0.2, 0.0)])
def test_table_plane_recovered(tilt_target):
    from perception_synth import look_at

    T = look_at(np.array([0.05, -0.5, 0.6]), np.array(tilt_target))
    rgb, depth, T, _ = render(three_shapes(), T, noise=0.002, seed=3)
    c = backproject(load_rgbd(rgb, depth, INTR))
    plane = fit_table_plane(c.points, seed=0)
    n_world = T[:3, :3] @ plane.normal
    assert _angle_deg(n_world, np.array([0.0, 0.0, 1.0])) < 2.0
    assert n_world[2] > 0  # oriented up
    assert abs(plane.offset - T[2, 3]) < 0.005  # camera height above the table
    T_ct, notes = camera_to_table(plane, c.points)
    assert notes == []
    # the table origin lies on the optical axis, on the table
    o_cam = np.linalg.inv(T_ct)[:3, 3]
    assert abs(o_cam[0]) < 1e-9 and abs(o_cam[1]) < 1e-9
    o_world = T[:3, :3] @ o_cam + T[:3, 3]
    assert abs(o_world[2]) < 0.005
    # table-frame x is image right projected on the table: world x here
    x_world = T[:3, :3] @ np.linalg.inv(T_ct)[:3, 0]
    assert x_world[0] > 0.99


def test_plane_is_seeded():
    rgb, depth, _, _ = render(three_shapes(), noise=0.002, seed=5)
    c = backproject(load_rgbd(rgb, depth, INTR))
    a = fit_table_plane(c.points, seed=7)
    b = fit_table_plane(c.points, seed=7)
    np.testing.assert_allclose(a.normal, b.normal, atol=1e-9)
    assert a.offset == pytest.approx(b.offset, abs=1e-9)


def test_given_extrinsics_are_used(frame):
    rgb, depth, T, _ = frame
    s = perceive(rgb, depth, INTR, extrinsics=T)
    assert s.extrinsics_source == "given"
    np.testing.assert_allclose(s.camera_to_world, T)
    red_box = s.instances[0]
    assert np.linalg.norm(red_box.centroid_world[:2] - np.array([-0.15, 0.05])) < 0.01
    s2 = perceive(rgb, depth, INTR)
    assert s2.extrinsics_source.startswith("estimated")
    np.testing.assert_allclose(s2.camera_to_world, s2.camera_to_table)
