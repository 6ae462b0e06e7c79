"""Camera files as people have them, read safely into the mapping :class:`Intrinsics` takes.

Forms accepted (the one read is recorded as ``source_form`` and reported in report.json as
``camera.intrinsics_read_as``):

* ``camera.json``: ``fx, fy, cx, cy`` (``ppx/ppy`` or ``x_offset/y_offset``), optional
  ``width/height`` (``img_width/img_height``), ``depth_scale``, ``extrinsics``;
* a 3x3 camera matrix ``K``: bare (nested or 9 numbers) or under ``K``, ``k``,
  ``camera_matrix``, ``cameraMatrix``, ``intrinsic``, as nested rows, 9 numbers or an
  OpenCV ``{rows, cols, data}`` mapping;
* OpenCV ``FileStorage`` YAML (``%YAML:1.0`` header, ``!!opencv-matrix`` tags,
  ``camera_matrix`` and ``image_width/image_height``);
* ROS ``sensor_msgs/CameraInfo`` (ROS 1 ``K``, ROS 2 ``k``; YAML or JSON) and the ROS
  calibration YAML (``camera_matrix: {rows, cols, data}``);
* Open3D ``PinholeCameraIntrinsic`` JSON (``width``, ``height``, ``intrinsic_matrix``: 9
  numbers, column-major);
* DexYCB / RealSense intrinsics (``color: {fx, fy, ppx, ppy}`` and optional ``depth``).

Safety: at most :data:`MAX_CAMERA_BYTES`; bracket nesting deeper than :data:`MAX_NESTING`
is refused *before* any parser runs (a 30,000-deep array would exhaust the recursion limit);
integers longer than :data:`MAX_INT_DIGITS` digits are read as floats (so ``10**400`` becomes
``inf`` and is refused as not finite, and a 5000-digit number cannot hit Python's integer
conversion limit); YAML is read with a safe loader that refuses aliases (no billion laughs)
and custom tags other than ``!!opencv-matrix``. Messages name the file, never its folder.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from unihm_core.errors import InputError

#: Largest camera file we are willing to parse [bytes].
MAX_CAMERA_BYTES = 64 * 1024
#: Deepest bracket nesting accepted (a camera file needs 3).
MAX_NESTING = 32
#: Integers with more digits than this are read as floats (see the module docstring).
MAX_INT_DIGITS = 30

_K_KEYS = ("K", "k", "camera_matrix", "cameraMatrix", "intrinsic", "intrinsics_matrix", "intrinsic_matrix_K")
_HINT = ("give fx, fy, cx, cy in pixels (camera.json), a 3x3 K matrix, an OpenCV or ROS camera YAML, an Open3D "
         "intrinsic JSON or a RealSense/DexYCB intrinsics file")


def _nesting_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting outside quoted strings."""
    depth = best = 0
    quote = None
    escaped = False
    for c in text:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
            best = max(best, depth)
        elif c in "]}":
            depth -= 1
    return best


def _parse_int(s: str):
    return float(s) if len(s.lstrip("-")) > MAX_INT_DIGITS else int(s)


class _NoAliasLoader:  # built lazily (PyYAML imported only for YAML files)
    loader = None


def _yaml_loader():
    if _NoAliasLoader.loader is None:
        import yaml

        class Loader(yaml.SafeLoader):
            def compose_node(self, parent, index):
                if self.check_event(yaml.AliasEvent):
                    raise InputError("the camera file uses YAML aliases (*name); write the values out")
                return super().compose_node(parent, index)

        def opencv_matrix(loader, node):
            return loader.construct_mapping(node, deep=True)

        Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", opencv_matrix)
        Loader.add_constructor("!opencv-matrix", opencv_matrix)
        _NoAliasLoader.loader = Loader
    return _NoAliasLoader.loader


def _load_yaml(text: str, name: str):
    import yaml

    lines = text.splitlines()
    if lines and lines[0].startswith("%YAML:"):  # OpenCV FileStorage: "%YAML:1.0", not "%YAML 1.0"
        lines = lines[1:]
        if lines and lines[0].strip() == "---":
            lines = lines[1:]
    body = "\n".join(lines)
    # big integers as floats, as for JSON
    body = re.sub(r"(?<![\w.])(-?\d{%d,})(?![\w.])" % (MAX_INT_DIGITS + 1), r"\1.0", body)
    try:
        loader = _yaml_loader()(body)  # a SafeLoader subclass that also refuses aliases
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except InputError:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"camera file {name} is neither valid JSON nor valid YAML{where}; {_HINT}") from None


def parse_camera_text(text: str, name: str = "camera file") -> dict[str, Any]:
    """Parse a camera file's text (JSON, else YAML) into a camera.json-style mapping with
    ``source_form`` (rules in the module docstring)."""
    if not isinstance(text, str):
        raise InputError(f"{name} must be text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CAMERA_BYTES:
        raise InputError(f"{name} is larger than {MAX_CAMERA_BYTES // 1024} KiB; is it the right file? {_HINT}")
    if not text.strip():
        raise InputError(f"{name} is empty; {_HINT}")
    depth = _nesting_depth(text)
    if depth > MAX_NESTING:
        raise InputError(f"{name} nests brackets {depth} deep (at most {MAX_NESTING}); a camera file needs 3. "
                         f"{_HINT}")
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            try:
                data = json.loads(text, parse_int=_parse_int)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}); expected "
                                 "{\"fx\": ..., \"fy\": ..., \"cx\": ..., \"cy\": ...}") from None
        else:
            data = _load_yaml(text, name)
    except RecursionError:
        raise InputError(f"{name} is nested too deeply to read; {_HINT}") from None
    return normalise_camera(data, name)


def read_camera_file(path: str | Path) -> dict[str, Any]:
    """Read a camera file (any form of the module docstring) into a camera.json-style mapping."""
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"camera file {p.name} does not exist.")
        size = p.stat().st_size
    except (OSError, ValueError) as exc:
        raise InputError(f"camera file {p.name[:60]} cannot be opened ({getattr(exc, 'strerror', None) or exc})") \
            from None
    if size > MAX_CAMERA_BYTES:
        raise InputError(f"camera file {p.name} is larger than {MAX_CAMERA_BYTES // 1024} KiB; is it the right file?")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"camera file {p.name} is not UTF-8 text; {_HINT}") from None
    return parse_camera_text(text, f"camera file {p.name}")


# ------------------------------------------------------------------ forms
def _matrix3(value, where: str):
    """A 3x3 matrix from nested rows, 9 numbers, or {rows, cols, data}; None if not one."""
    if isinstance(value, dict) and "data" in value:
        rows, cols = value.get("rows", 3), value.get("cols", 3)
        if rows != 3 or cols != 3:
            raise InputError(f"{where} is a {rows}x{cols} matrix; the camera matrix K is 3x3")
        value = value["data"]
    if isinstance(value, (list, tuple)):
        if len(value) == 3 and all(isinstance(r, (list, tuple)) and len(r) == 3 for r in value):
            return [list(r) for r in value]
        if len(value) == 9 and not any(isinstance(v, (list, tuple, dict)) for v in value):
            return [list(value[0:3]), list(value[3:6]), list(value[6:9])]
        raise InputError(f"{where} must be a 3x3 camera matrix (3 rows of 3, or 9 numbers); "
                         f"got {len(value)} entries")
    return None


def _from_k(K, form: str, extra: dict) -> dict:
    for r in K:
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InputError(f"the camera matrix K holds {v!r}, not a number")
    if K[0][1] != 0 and abs(K[0][1]) > 1e-6 * max(abs(K[0][0]), 1):
        extra.setdefault("_notes", []).append(f"the camera matrix has skew {K[0][1]:g}; it is ignored")
    if [K[2][0], K[2][1], K[2][2]] != [0, 0, 1] or K[1][0] != 0:
        raise InputError(f"this does not look like a camera matrix K ([[fx, 0, cx], [0, fy, cy], [0, 0, 1]]): "
                         f"its last row is {K[2]}; check the file (Open3D stores K column-major as "
                         "'intrinsic_matrix')")
    out = {"fx": K[0][0], "fy": K[1][1], "cx": K[0][2], "cy": K[1][2], "source_form": form}
    out.update(extra)
    return out


def _common(data: dict, keys=("width", "height", "depth_scale", "extrinsics")) -> dict:
    out = {}
    for k in keys:
        if k in data:
            out[k] = data[k]
    for k, alias in (("width", "image_width"), ("height", "image_height"), ("width", "img_width"),
                     ("height", "img_height")):
        if k not in out and alias in data:
            out[k] = data[alias]
    return out


def normalise_camera(data, name: str = "camera file") -> dict[str, Any]:
    """A parsed camera document -> camera.json-style mapping with ``source_form``."""
    if isinstance(data, (list, tuple)):
        if not (len(data) == 9 or (len(data) == 3 and all(isinstance(r, (list, tuple)) for r in data))):
            raise InputError(f"{name} must hold an object with fx, fy, cx, cy (or a 3x3 camera matrix K); got a "
                             f"list of {len(data)} entries")
        K = _matrix3(data, f"{name}")
        return _from_k(K, "3x3 camera matrix K", {})
    if not isinstance(data, dict):
        raise InputError(f"{name} must hold an object with fx, fy, cx, cy; {_HINT}")
    if "source_form" in data:  # already normalised
        return dict(data)
    if "fx" in data:
        out = dict(data)
        out["source_form"] = ("RealSense intrinsics (fx, fy, ppx, ppy)" if "ppx" in data
                              else "camera.json (fx, fy, cx, cy)")
        return out
    if "intrinsic_matrix" in data:  # Open3D PinholeCameraIntrinsic: column-major 9 numbers
        m = data["intrinsic_matrix"]
        if not (isinstance(m, (list, tuple)) and len(m) == 9):
            raise InputError(f"{name}: Open3D 'intrinsic_matrix' must be 9 numbers (column-major)")
        K = [[m[0], m[3], m[6]], [m[1], m[4], m[7]], [m[2], m[5], m[8]]]
        return _from_k(K, "Open3D PinholeCameraIntrinsic (intrinsic_matrix, column-major)", _common(data))
    for key in _K_KEYS:
        if key in data:
            K = _matrix3(data[key], f"{name}: '{key}'")
            if K is None:
                continue
            if key == "camera_matrix" and "camera_name" in data:
                form = "ROS camera calibration YAML (camera_matrix)"
            elif isinstance(data[key], dict) and ("dt" in data[key] or "image_width" in data):
                form = "OpenCV camera YAML (camera_matrix)"
            elif key in ("K", "k") and ("D" in data or "d" in data or "distortion_model" in data
                                        or "header" in data or "P" in data or "p" in data):
                form = f"ROS camera_info ('{key}')"
            else:
                form = f"3x3 camera matrix K (under '{key}')"
            return _from_k(K, form, _common(data))
    for key in ("color", "colour", "rgb", "camera"):
        sub = data.get(key)
        if isinstance(sub, dict) and "fx" in sub:
            out = dict(sub)
            for k, v in _common(data).items():
                out.setdefault(k, v)
            out["source_form"] = f"DexYCB/RealSense intrinsics ('{key}': fx, fy, ppx, ppy)"
            return out
    raise InputError(f"{name} lacks 'fx' and holds no camera matrix; {_HINT}")
