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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from unihm_core.errors import InputError

#: Largest camera.json we are willing to parse [bytes].
MAX_CAMERA_JSON_BYTES = 64 * 1024


def _finite_positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"intrinsics: {name}={value!r} is not a number; give it in pixels.") from None
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(
            f"intrinsics: {name}={value!r} must be a finite positive number of pixels "
            "(a RealSense D435 at 640x480 has fx = fy ~ 615)."
        )
    return v


def validate_extrinsics(extrinsics: Any) -> np.ndarray:
    """Check a 4x4 camera-to-world transform and return it as float64.

    The rotation block must be orthonormal with determinant +1 (tolerance 1e-3) and the
    last row must be [0, 0, 0, 1].
    """
    try:
        T = np.asarray(extrinsics, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("extrinsics must be a 4x4 array of numbers (camera-to-world).") from None
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "fx", _finite_positive("fx", self.fx))
        object.__setattr__(self, "fy", _finite_positive("fy", self.fy))
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise InputError(f"intrinsics: {name}={v!r} must be a positive integer number of pixels.")
            object.__setattr__(self, name, int(v))
        for name, limit in (("cx", self.width), ("cy", self.height)):
            try:
                v = float(getattr(self, name))
            except (TypeError, ValueError):
                raise InputError(f"intrinsics: {name}={getattr(self, name)!r} is not a number.") from None
            if not math.isfinite(v):
                raise InputError(f"intrinsics: {name}={getattr(self, name)!r} must be a finite number of pixels "
                                 f"inside the {self.width}x{self.height} image; check the camera file.")
            if not (0.0 <= v <= limit):
                raise InputError(
                    f"intrinsics: principal point {name}={getattr(self, name)!r} lies outside the "
                    f"{self.width}x{self.height} image (expected 0..{limit}); check the camera file."
                )
            object.__setattr__(self, name, v)
        if self.depth_scale is not None:
            object.__setattr__(self, "depth_scale", _finite_positive("depth_scale", self.depth_scale))
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
        if not isinstance(data, dict):
            raise InputError("camera file must hold a JSON object with fx, fy, cx, cy.")
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
            if isinstance(v, float) and v.is_integer():
                vals[key] = int(v)
        return cls(
            fx=vals["fx"], fy=vals["fy"], cx=vals["cx"], cy=vals["cy"],
            width=vals["width"], height=vals["height"],
            depth_scale=data.get("depth_scale"), extrinsics=data.get("extrinsics"),
        )

    @classmethod
    def from_json(cls, path: str | Path, *, width: int | None = None, height: int | None = None) -> Intrinsics:
        """Read a camera.json file (format in the module docstring)."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"camera file {p} does not exist.")
        if p.stat().st_size > MAX_CAMERA_JSON_BYTES:
            raise InputError(f"camera file {p} is larger than {MAX_CAMERA_JSON_BYTES} bytes; is it the right file?")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"camera file {p} is not valid JSON ({exc}).") from None
        return cls.from_dict(data, width=width, height=height)

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
