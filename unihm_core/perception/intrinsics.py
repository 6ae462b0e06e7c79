"""Pinhole camera intrinsics (and optional extrinsics) of an RGB-D frame.

:class:`Intrinsics` is what the user supplies with a frame, either directly or as a
``camera.json`` (see DESIGN.md "Interfaces")::

    {"fx": 615.0, "fy": 615.0, "cx": 320.0, "cy": 240.0,
     "width": 640, "height": 480,            # optional in the file; taken from the image
     "depth_scale": 1000.0,                  # optional: depth units per metre
     "extrinsics": [[...4x4 camera-to-world...]]}   # optional

RealSense-style files with ``img_width``/``img_height``/``x_offset``/``y_offset`` are
accepted too. Camera frame convention: x right, y down, z forward (optical axis) [m].
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from unihm_core.errors import InputError

#: Largest camera.json we are willing to parse [bytes].
MAX_CAMERA_JSON_BYTES = 64 * 1024


#: Plausible focal lengths [px] per 640 px of image width (a D435 has 615; 50 px is a
#: fisheye-like 162 deg field of view, 10,000 px a 3.7 deg telephoto).
FX_RANGE_PER_640 = (50.0, 10_000.0)
#: Largest camera distance from the world origin accepted in extrinsics [m].
MAX_EXTRINSICS_TRANSLATION_M = 100.0


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _finite_positive(name: str, value: float, unit: str = "pixels") -> float:
    if _is_bool(value):
        raise InputError(f"intrinsics: {name}={value!r} is a boolean, not a number; give it in {unit}.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"intrinsics: {name}={value!r} is not a number; give it in {unit}.") from None
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or v <= 0.0:
        shown = "inf" if v == math.inf else repr(value) if len(repr(value)) < 40 else f"{repr(value)[:20]}..."
        if name == "depth_scale":
            raise InputError(
                f"intrinsics: depth_scale={shown} must be a finite positive number of depth units per metre "
                "(1000 for a uint16 PNG in millimetres, 1 for metres; leave it out to decide from the depth type).")
        raise InputError(
            f"intrinsics: {name}={shown} must be a finite positive number of {unit} "
            "(a RealSense D435 at 640x480 has fx = fy ~ 615)."
        )
    return v


def _check_no_bools(value, what: str) -> None:
    if _is_bool(value):
        raise InputError(f"{what} holds the boolean {value!r}; give numbers.")
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_no_bools(v, what)


def validate_extrinsics(extrinsics: Any) -> np.ndarray:
    """Check a 4x4 camera-to-world transform and return it as float64.

    The rotation block must be orthonormal with determinant +1 (tolerance 1e-3), the last
    row must be [0, 0, 0, 1] and the camera at most :data:`MAX_EXTRINSICS_TRANSLATION_M`
    from the world origin.
    """
    _check_no_bools(extrinsics, "extrinsics")
    if isinstance(extrinsics, np.ndarray) and extrinsics.dtype == bool:
        raise InputError("extrinsics hold booleans; give a 4x4 array of numbers (camera-to-world).")
    try:
        T = np.asarray(extrinsics, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("extrinsics must be a 4x4 array of numbers (camera-to-world).") from None
    except OverflowError:
        raise InputError("extrinsics contain a number too large to represent; give a rigid camera-to-world "
                         "transform in metres.") from None
    if T.shape != (4, 4):
        raise InputError(f"extrinsics must be 4x4 (camera-to-world), got shape {T.shape}.")
    if not np.all(np.isfinite(T)):
        raise InputError("extrinsics contain NaN or infinite values.")
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or abs(np.linalg.det(R) - 1.0) > 1e-3:
        raise InputError(
            "extrinsics: the 3x3 rotation block is not a proper rotation (R R^T != I or det != 1); "
            "give a rigid camera-to-world transform."
        )
    if not np.allclose(T[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise InputError("extrinsics: the last row must be [0, 0, 0, 1].")
    dist = float(np.max(np.abs(T[:3, 3])) * np.sqrt(3)) if np.max(np.abs(T[:3, 3])) > 1e100 \
        else float(np.linalg.norm(T[:3, 3]))  # no overflow warning for 1e300
    if dist > MAX_EXTRINSICS_TRANSLATION_M:
        raise InputError(f"extrinsics: the camera is {dist:.3g} m from the world origin (at most "
                         f"{MAX_EXTRINSICS_TRANSLATION_M:g} m); the translation is in metres, with the world "
                         "origin on the table.")
    return T


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of a ``width`` x ``height`` image.

    Attributes:
        fx, fy: focal lengths [px].
        cx, cy: principal point [px]; must lie inside the image.
        width, height: image size [px].
        depth_scale: depth units per metre (1000 for millimetre PNGs); ``None`` lets
            :func:`unihm_core.perception.rgbd.depth_to_metres` decide from the dtype.
        extrinsics: optional (4, 4) camera-to-world transform; ``None`` means the world
            (table) frame is estimated from the table plane.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    depth_scale: float | None = None
    extrinsics: np.ndarray | None = None
    source_form: str = field(default="camera.json (fx, fy, cx, cy)", compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fx", _finite_positive("fx", self.fx))
        object.__setattr__(self, "fy", _finite_positive("fy", self.fy))
        for name in ("width", "height"):
            v = getattr(self, name)
            if _is_bool(v) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise InputError(f"intrinsics: {name}={v!r} must be a positive integer number of pixels.")
            object.__setattr__(self, name, int(v))
        lo, hi = (b * self.width / 640.0 for b in FX_RANGE_PER_640)
        for name in ("fx", "fy"):
            v = getattr(self, name)
            if not lo <= v <= hi:
                raise InputError(
                    f"intrinsics: {name}={v:g} px is not a plausible focal length for a {self.width}-pixel-wide "
                    f"image (expected {lo:g}..{hi:g} px; a RealSense D435 at 640x480 has fx = fy ~ 615). "
                    "Focal lengths are in pixels, not millimetres or metres.")
        for name, limit in (("cx", self.width), ("cy", self.height)):
            if _is_bool(getattr(self, name)):
                raise InputError(f"intrinsics: {name}={getattr(self, name)!r} is a boolean, not a number of pixels.")
            try:
                v = float(getattr(self, name))
            except (TypeError, ValueError):
                raise InputError(f"intrinsics: {name}={getattr(self, name)!r} is not a number.") from None
            except OverflowError:
                v = math.inf
            if not math.isfinite(v):
                raise InputError(f"intrinsics: {name}={v!r} must be a finite number of pixels "
                                 f"inside the {self.width}x{self.height} image; check the camera file.")
            if not (0.0 <= v <= limit):
                raise InputError(
                    f"intrinsics: principal point {name}={getattr(self, name)!r} lies outside the "
                    f"{self.width}x{self.height} image (expected 0..{limit}); check the camera file."
                )
            object.__setattr__(self, name, v)
        if self.depth_scale is not None:
            object.__setattr__(self, "depth_scale", _finite_positive("depth_scale", self.depth_scale,
                                                                      "depth units per metre"))
        if self.extrinsics is not None:
            T = validate_extrinsics(self.extrinsics)
            T.setflags(write=False)
            object.__setattr__(self, "extrinsics", T)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, width: int | None = None, height: int | None = None) -> Intrinsics:
        """Build from a camera.json-style mapping.

        ``width``/``height`` fill in the image size when the mapping lacks it (the caller
        usually knows it from the colour image).
        """
        from unihm_core.perception.camera_files import normalise_camera

        data = normalise_camera(data, "the camera file")  # K matrices, ROS, Open3D, RealSense, ...
        aliases = {"cx": ("cx", "x_offset", "ppx"), "cy": ("cy", "y_offset", "ppy"),
                   "width": ("width", "img_width"), "height": ("height", "img_height")}
        vals: dict[str, Any] = {}
        for key in ("fx", "fy"):
            if key not in data:
                raise InputError(f"camera file lacks '{key}'; it needs fx, fy, cx, cy in pixels.")
            vals[key] = data[key]
        for key, names in aliases.items():
            found = [n for n in names if n in data]
            if found:
                vals[key] = data[found[0]]
        vals.setdefault("width", width)
        vals.setdefault("height", height)
        for key in ("cx", "cy"):
            if key not in vals:
                raise InputError(f"camera file lacks '{key}'; it needs fx, fy, cx, cy in pixels.")
        if vals["width"] is None or vals["height"] is None:
            raise InputError("camera file lacks width/height and no image size was given.")
        for key in ("width", "height"):
            v = vals[key]
            if isinstance(v, float) and math.isfinite(v) and v.is_integer():
                vals[key] = int(v)
        return cls(
            fx=vals["fx"], fy=vals["fy"], cx=vals["cx"], cy=vals["cy"],
            width=vals["width"], height=vals["height"],
            depth_scale=data.get("depth_scale"), extrinsics=data.get("extrinsics"),
            source_form=str(data.get("source_form") or "camera.json (fx, fy, cx, cy)"),
            notes=tuple(data.get("_notes", ())),
        )

    @classmethod
    def from_json(cls, path: str | Path, *, width: int | None = None, height: int | None = None) -> Intrinsics:
        """Read a camera file: camera.json or any form of :mod:`unihm_core.perception.camera_files`."""
        from unihm_core.perception.camera_files import read_camera_file

        return cls.from_dict(read_camera_file(path), width=width, height=height)

    @classmethod
    def realsense_like(cls, width: int = 640, height: int = 480) -> Intrinsics:
        """Intrinsics of a RealSense D435-like colour camera (fx = fy = 615 at 640x480)."""
        f = 615.0 * width / 640.0
        return cls(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=width, height=height)

    def with_extrinsics(self, extrinsics: np.ndarray | None) -> Intrinsics:
        """Copy with another camera-to-world transform."""
        return replace(self, extrinsics=extrinsics)

    # -- geometry -----------------------------------------------------------------------
    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, points_camera: np.ndarray) -> np.ndarray:
        """Project (N, 3) camera-frame points [m] to (N, 2) pixel coordinates (u, v) [px]."""
        p = np.asarray(points_camera, dtype=np.float64)
        z = p[:, 2]
        return np.stack([self.fx * p[:, 0] / z + self.cx, self.fy * p[:, 1] / z + self.cy], axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (inverse of :meth:`from_dict`)."""
        d: dict[str, Any] = {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy,
                             "width": self.width, "height": self.height}
        if self.depth_scale is not None:
            d["depth_scale"] = self.depth_scale
        if self.extrinsics is not None:
            d["extrinsics"] = np.asarray(self.extrinsics).tolist()
        return d

    def __eq__(self, other: object) -> bool:  # ndarray field breaks the generated __eq__
        if not isinstance(other, Intrinsics):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
