"""Camera files people have (unihm_core.perception.camera_files), their limits, and the
intrinsics checks that go with them (booleans, plausible fx, extrinsics, tone mapping)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unihm_core import InputError
from unihm_core.perception.camera_files import MAX_NESTING, parse_camera_text, read_camera_file
from unihm_core.perception.intrinsics import Intrinsics, validate_extrinsics
from unihm_core.perception.rgbd import GREY_NOTE, depth_to_metres, load_color_notes, tone_map

K = [[612.5, 0.0, 321.0], [0.0, 611.0, 239.5], [0.0, 0.0, 1.0]]
EXPECT = (612.5, 611.0, 321.0, 239.5)


def intr(text, name="camera file"):
    return Intrinsics.from_dict(parse_camera_text(text, name), width=640, height=480)


def values(i):
    return (i.fx, i.fy, i.cx, i.cy)


@pytest.mark.parametrize("text,form", [
    (json.dumps(K), "3x3 camera matrix K"),
    (json.dumps(sum(K, [])), "3x3 camera matrix K"),
    (json.dumps({"K": K}), "under 'K'"),
    (json.dumps({"camera_matrix": {"rows": 3, "cols": 3, "data": sum(K, [])}}), "under 'camera_matrix'"),
    (json.dumps({"cameraMatrix": K, "width": 640, "height": 480}), "under 'cameraMatrix'"),
    ("%YAML:1.0\n---\nimage_width: 640\nimage_height: 480\ncamera_matrix: !!opencv-matrix\n   rows: 3\n"
     "   cols: 3\n   dt: d\n   data: [ 612.5, 0., 321., 0., 611., 239.5, 0., 0., 1. ]\n", "OpenCV camera YAML"),
    ("header:\n  frame_id: camera_color_optical_frame\nheight: 480\nwidth: 640\ndistortion_model: plumb_bob\n"
     "D: [0.0, 0.0, 0.0, 0.0, 0.0]\nK: [612.5, 0.0, 321.0, 0.0, 611.0, 239.5, 0.0, 0.0, 1.0]\n", "ROS camera_info ('K')"),
    (json.dumps({"height": 480, "width": 640, "distortion_model": "plumb_bob", "d": [0] * 5, "k": sum(K, []),
                 "p": [0] * 12}), "ROS camera_info ('k')"),
    ("image_width: 640\nimage_height: 480\ncamera_name: d435\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
     "  data: [612.5, 0, 321, 0, 611, 239.5, 0, 0, 1]\n", "ROS camera calibration YAML"),
    (json.dumps({"width": 640, "height": 480, "intrinsic_matrix": [612.5, 0, 0, 0, 611.0, 0, 321.0, 239.5, 1]}),
     "Open3D"),
    ("color:\n  fx: 612.5\n  fy: 611.0\n  ppx: 321.0\n  ppy: 239.5\ndepth:\n  fx: 380.0\n  fy: 380.0\n"
     "  ppx: 320.0\n  ppy: 240.0\n", "DexYCB/RealSense"),
])
def test_every_camera_form_is_read_and_named(text, form):
    i = intr(text)
    assert values(i) == pytest.approx(EXPECT)
    assert form in i.source_form


def test_camera_json_keeps_its_form_and_extras(tmp_path):
    p = tmp_path / "camera.json"
    p.write_text(json.dumps({"fx": 600, "fy": 600, "cx": 320, "cy": 240, "depth_scale": 1000}))
    i = Intrinsics.from_json(p, width=640, height=480)
    assert i.source_form.startswith("camera.json") and i.depth_scale == 1000.0
    y = tmp_path / "camera.yaml"
    y.write_text("K: [612.5, 0, 321, 0, 611, 239.5, 0, 0, 1]\nD: [0, 0, 0, 0, 0]\n")
    assert values(Intrinsics.from_json(y, width=640, height=480)) == pytest.approx(EXPECT)


def test_open3d_matrix_is_column_major():
    """Read row-major, Open3D's column-major list would put cx into K[2][0]; it must not."""
    text = json.dumps({"width": 640, "height": 480, "intrinsic_matrix": [600, 0, 0, 0, 610, 0, 300, 200, 1]})
    assert values(intr(text)) == (600, 610, 300, 200)


@pytest.mark.parametrize("text,words", [
    ("[" * 30000 + "]" * 30000, ("nests brackets 30000 deep", f"at most {MAX_NESTING}")),
    (json.dumps({"fx": 1}) + " " * (70 * 1024), ("larger than 64 kib",)),
    ('{"fx": 1' + "0" * 400 + ', "fy": 615, "cx": 320, "cy": 240}', ("fx=inf", "finite positive")),
    ('{"fx": ' + "9" * 5000 + ', "fy": 615, "cx": 320, "cy": 240}', ("fx=inf",)),
    ('{"fx": true, "fy": 615, "cx": 320, "cy": 240}', ("fx=true", "boolean")),
    ('{"fx": 615, "fy": 615, "cx": false, "cy": 240}', ("cx=false", "boolean")),
    ('{"fx": 615, "fy": 615, "cx": 320, "cy": 240, "width": true}', ("width=true",)),
    ('{"fx": 0.001, "fy": 615, "cx": 320, "cy": 240}', ("fx=0.001", "50..10000", "615")),
    ('{"fx": 61500, "fy": 615, "cx": 320, "cy": 240}', ("fx=61500", "not a plausible focal length")),
    ('{"fx": 615, "fy": 615, "cx": 320, "cy": 240, "depth_scale": -1}', ("depth_scale=-1", "units per metre")),
    ('{"fx": 615, "fy": 615, "cx": 320, "cy": 240, "depth_scale": true}', ("depth_scale=true", "boolean")),
    ("a: &x [1, 2]\nb: *x\n", ("aliases",)),
    ("{'fx': [1, 2", ("not valid json",)),
    ("just: [a, list\n", ("neither valid json nor valid yaml",)),
    ("[1, 2, 3, 4]", ("object with fx, fy, cx, cy", "list of 4")),
    (json.dumps({"K": [[600, 0, 320], [0, 600, 240], [320, 240, 1]]}), ("does not look like a camera matrix",)),
    (json.dumps({"cx": 320}), ("lacks 'fx'", "3x3 k matrix")),
])
def test_bad_camera_text_is_a_clear_error(text, words):
    with pytest.raises(InputError) as err:
        intr(text)
    msg = str(err.value).lower()
    assert all(w.lower() in msg for w in words), msg


def test_extrinsics_checks():
    T = np.eye(4)
    T[0, 3] = 1e300
    with pytest.raises(InputError, match="from the world origin"):
        validate_extrinsics(T)
    with pytest.raises(InputError, match="too large"):
        validate_extrinsics([[1, 0, 0, 10**400], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    with pytest.raises(InputError, match="boolean"):
        validate_extrinsics([[True, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    assert validate_extrinsics(np.eye(4)).shape == (4, 4)


def test_camera_file_messages_name_the_file_not_its_folder(tmp_path):
    p = tmp_path / "deep" / "cam.json"
    p.parent.mkdir()
    p.write_text('{"fx": ')
    with pytest.raises(InputError) as err:
        read_camera_file(p)
    assert "cam.json" in str(err.value) and str(tmp_path) not in str(err.value)
    with pytest.raises(InputError, match="does not exist"):
        read_camera_file(tmp_path / "nope.json")
    with pytest.raises(InputError, match="cannot be opened|does not exist"):
        read_camera_file(tmp_path / ("n" * 300 + ".json"))


def test_tone_mapping_of_high_bit_depth_and_float_colour():
    ramp = np.linspace(0, 1, 64 * 48).reshape(48, 64)
    img, note = tone_map((ramp * 65535).astype(np.uint16))
    assert img.shape == (48, 64, 3) and img.max() == 255 and img.min() == 0 and "16-bit" in note
    img12, note12 = tone_map((ramp * 4095).astype(np.uint16))
    assert img12.max() == 255 and "12-bit" in note12  # not a dark image at 1/16 brightness
    imgf, notef = tone_map(ramp.astype(np.float32))
    assert imgf.max() == 255 and "0..1" in notef
    wide, notew = tone_map((ramp * 300 - 50).astype(np.float32))
    assert 250 <= wide.max() <= 255 and wide.min() == 0 and "percentiles" in notew
    assert tone_map(np.zeros((4, 4, 3), np.uint8))[1] is None


def test_grey_image_warns_and_colour_does_not():
    grey, notes = load_color_notes(np.full((48, 64, 3), 120, np.uint8))
    assert GREY_NOTE in notes
    col = np.zeros((48, 64, 3), np.uint8)
    col[..., 0] = 200
    assert load_color_notes(col)[1] == []


def test_float_metres_keep_metres_despite_depth_scale():
    d = np.full((48, 64), 0.8, np.float32)
    depth, units, notes = depth_to_metres(d, 1000.0)
    assert np.allclose(depth, 0.8) and "ignored" in units and "depth_scale=1000" in notes[0]
    mm = np.full((48, 64), 800.0, np.float32)  # the scale is right for these
    assert np.allclose(depth_to_metres(mm, 1000.0)[0], 0.8)
