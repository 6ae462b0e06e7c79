"""Fuzzing the input decoders (hypothesis, bounded): any bytes give a valid array or an InputError.

Covers colour and depth files (random bytes, corrupted valid PNGs, random .npy headers) and
camera intrinsics mappings. No other exception type may escape: that would be a crash.
"""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from unihm_core import InputError
from unihm_core.perception import Intrinsics, load_color, load_depth

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


VALID_RGB = _png(np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8))
VALID_DEPTH = _png(np.random.default_rng(1).integers(300, 2000, (24, 32), dtype=np.uint16))


def _mutate(data: bytes, positions: list[int], values: list[int], cut: int | None) -> bytes:
    b = bytearray(data)
    for p, v in zip(positions, values):
        b[p % len(b)] = v
    return bytes(b[:cut]) if cut else bytes(b)


def _load_ok_or_input_error(loader, path):
    try:
        arr = loader(str(path))
    except InputError as exc:
        assert str(exc)  # a message for the user
        return None
    assert isinstance(arr, np.ndarray) and arr.size > 0
    return arr


@SETTINGS
@given(st.binary(min_size=0, max_size=2048))
def test_random_bytes_as_png(tmp_path, data):
    p = tmp_path / "x.png"
    p.write_bytes(data)
    _load_ok_or_input_error(load_color, p)
    _load_ok_or_input_error(load_depth, p)


@SETTINGS
@given(st.lists(st.integers(0, 10_000), max_size=8), st.lists(st.integers(0, 255), max_size=8),
       st.one_of(st.none(), st.integers(1, 400)))
def test_corrupted_pngs(tmp_path, positions, values, cut):
    p = tmp_path / "c.png"
    p.write_bytes(_mutate(VALID_RGB, positions, values, cut))
    arr = _load_ok_or_input_error(load_color, p)
    if arr is not None:
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    p.write_bytes(_mutate(VALID_DEPTH, positions, values, cut))
    _load_ok_or_input_error(load_depth, p)


@SETTINGS
@given(st.binary(min_size=0, max_size=512))
def test_random_npy(tmp_path, data):
    p = tmp_path / "d.npy"
    p.write_bytes(b"\x93NUMPY" + data)
    _load_ok_or_input_error(load_depth, p)


def test_pickled_npy_refused(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError):
        load_depth(str(p))


finite = st.floats(allow_nan=True, allow_infinity=True, width=32)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["fx", "fy", "cx", "cy", "width", "height", "depth_scale"]),
                       st.one_of(finite, st.integers(-10, 5000), st.text(max_size=4), st.none()), max_size=7))
def test_intrinsics_mappings(data):
    try:
        intr = Intrinsics.from_dict(data, width=640, height=480)
    except InputError:
        return
    assert intr.fx > 0 and intr.fy > 0 and 0 <= intr.cx <= intr.width and 0 <= intr.cy <= intr.height
