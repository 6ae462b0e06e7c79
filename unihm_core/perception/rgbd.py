"""RGB-D intake: load and validate colour + depth, decide depth units, back-project.

Accepted inputs
---------------
* colour: PNG/JPEG/TIFF (any Pillow mode) or an (H, W, 3) array; 16-bit and float images
  are tone-mapped to 8 bits (:func:`tone_map`, with a note) instead of being clipped, and a
  greyscale image gets a warning that colour words cannot be matched.
* depth: a single-channel 16-bit PNG, a ``.npy`` file (loaded with
  ``allow_pickle=False``) or an (H, W) array.

Depth units (what :func:`depth_to_metres` assumes, reported in ``RGBDFrame.depth_units``)
-----------------------------------------------------------------------------------------
* ``depth_scale`` given (depth units per metre, camera.json): ``metres = raw / depth_scale``
  for any dtype; that is the user's explicit word and wins, except for float depth that
  already reads as metres (median 0.05..10) where the scale would push the scene out of
  that range: then the scale is ignored with a warning naming it (the bundled examples'
  ``camera.json`` carries ``depth_scale: 1000`` for their PNGs).
* integer depth (uint16 PNG): millimetres (RealSense / Kinect / DexYCB convention).
* float depth: metres. If the median valid value is above
  :data:`FLOAT_MILLIMETRE_MEDIAN` (20 m is beyond any tabletop camera) the values are
  taken as millimetres, divided by 1000, and a warning saying so is recorded in
  ``RGBDFrame.warnings`` (pass ``depth_scale=1`` to force metres).

Zero, NaN and infinite depth means "no measurement" and is dropped. Negative depth is
rejected (it is a sign of a wrong file, not of a missing reading).

Images are checked for size from the header *before* decoding (decompression bombs) and
then fully decoded, so truncated or corrupt files fail here with :class:`InputError`
instead of later with garbage pixels. ``.npy`` headers are read first: object arrays (which
need pickle) and oversized arrays are refused before any data is loaded. Messages name the
file but not its folder, so server paths are never shown to app users.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from unihm_core.errors import InputError
from unihm_core.perception.intrinsics import Intrinsics

#: Largest accepted image [pixels] (a 4096 x 4096 frame).
MAX_PIXELS = 4096 * 4096
#: Float depth whose median exceeds this [raw units] is taken as millimetres.
FLOAT_MILLIMETRE_MEDIAN = 20.0
#: Integer depth whose largest value is at most this looks like metres, not millimetres.
METRES_AS_INTEGERS_MAX = 20
#: Fewest valid depth pixels for a usable frame.
MIN_VALID_POINTS = 1000
#: Valid depth range [m]; readings outside are treated as missing.
MIN_DEPTH_M = 0.05
MAX_DEPTH_M = 10.0

ImageSource = Union[str, Path, np.ndarray]


@dataclass(frozen=True)
class RGBDFrame:
    """A validated RGB-D frame.

    Attributes:
        rgb: (H, W, 3) uint8 colour image.
        depth: (H, W) float32 depth along the optical axis [m]; 0 where missing.
        intrinsics: camera intrinsics matching the image size.
        depth_units: human-readable statement of the units assumed for the raw depth.
        warnings: things the user should know (e.g. unit conversion guesses).
        grey: the colour image carries no colour (colour words cannot be matched).
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    depth_units: str
    warnings: tuple[str, ...] = field(default_factory=tuple)
    grey: bool = False

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool mask of pixels with a usable depth reading."""
        return self.depth > 0.0


@dataclass(frozen=True)
class CameraCloud:
    """Back-projected valid depth pixels, in the camera frame.

    Attributes:
        points: (N, 3) float64 camera-frame points [m] (x right, y down, z forward).
        colors: (N, 3) float64 colours in [0, 1].
        pixel_index: (N,) int64 row-major index ``v * W + u`` of each point's pixel.
    """

    points: np.ndarray
    colors: np.ndarray
    pixel_index: np.ndarray


# ---------------------------------------------------------------------------------------
# image files
# ---------------------------------------------------------------------------------------
def _open_image(path: Path, what: str, max_pixels: int):
    """Open ``path`` with Pillow, check its header size, and decode it fully."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise InputError(f"{what} file {path.name} does not exist.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(
            f"{what} file {path.name} declares an enormous image; refusing to decode it "
            f"(limit {max_pixels} pixels)."
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"{what} file {path.name} is not an image Pillow can read (use PNG or JPEG).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # e.g. a header cut short
        raise InputError(f"{what} file {path.name} is truncated or corrupt ({exc}); re-export it.") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise InputError(
            f"{what} image {path.name} is {w}x{h} = {w * h} pixels, above the limit of {max_pixels}; "
            "downscale it (a 640x480 frame is plenty)."
        )
    try:
        im.load()  # force the full decode now: truncated files fail here
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        im.close()
        raise InputError(f"{what} file {path.name} is truncated or corrupt ({exc}); re-export it.") from None
    return im


def tone_map(arr: np.ndarray) -> tuple[np.ndarray, str | None]:
    """A colour image of any bit depth as (H, W, 3) uint8, and a note saying how it was mapped
    (None for uint8). Rules: 16-bit integers x 255/65535, except images whose largest value is
    at most 4095 (12-bit sensors) x 255/4095 and at most 255 (8-bit values in a wider type) as
    they are; floats in 0..1 x 255; other floats and wider integers stretched between their
    0.5 and 99.5 percentiles. NaN/inf become 0. Grey (H, W) images are repeated to 3 channels."""
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise InputError(f"colour image must be (H, W, 3), got shape {np.asarray(arr).shape}.")
    a = a[:, :, :3] if a.shape[2] >= 3 else np.repeat(a, 3, axis=2)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a), None
    if a.dtype.kind == "b" or a.dtype.kind not in "uif":
        raise InputError(f"colour image dtype {a.dtype} is not an image type; give uint8 RGB (or 16-bit/float).")
    f = a.astype(np.float64)
    finite = np.isfinite(f)
    if not finite.any():
        raise InputError("the colour image is entirely NaN/inf; there is nothing to see.")
    f = np.where(finite, f, 0.0)
    lo_v, hi_v = float(f[finite].min()), float(f[finite].max())
    kind = f"{a.dtype.itemsize * 8}-bit {'float' if a.dtype.kind == 'f' else 'integer'}"
    if a.dtype.kind in "ui" and lo_v >= 0 and hi_v <= 255:
        out, how = f, "its values are already 0..255"
    elif a.dtype.kind in "ui" and lo_v >= 0 and hi_v <= 4095:
        out, how = f * 255.0 / 4095.0, "taken as 12-bit (x 255/4095)"
    elif a.dtype.kind in "ui" and lo_v >= 0 and hi_v <= 65535:
        out, how = f * 255.0 / 65535.0, "taken as 16-bit (x 255/65535)"
    elif a.dtype.kind == "f" and lo_v >= 0 and hi_v <= 1.0:
        out, how = f * 255.0, "taken as 0..1 (x 255)"
    else:
        p0, p1 = np.percentile(f[finite], [0.5, 99.5])
        out = (f - p0) * 255.0 / max(p1 - p0, 1e-12)
        how = f"stretched between its 0.5 and 99.5 percentiles ({p0:.4g}..{p1:.4g})"
    img = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img), f"the colour image is {kind} ({lo_v:.4g}..{hi_v:.4g}); tone-mapped to 8 bits, {how}"


def is_grey(rgb: np.ndarray) -> bool:
    """True when an (H, W, 3) uint8 image carries no colour (channels equal within 3 levels at
    99.9 % of pixels)."""
    c = rgb.astype(np.int16)
    spread = c.max(axis=2) - c.min(axis=2)
    return bool(np.mean(spread <= 3) >= 0.999)


GREY_NOTE = ("the colour image is greyscale: colour words in the instruction (red, yellow, ...) cannot be "
             "matched; name objects by shape or position, or give a colour image")


def read_color_raw(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A colour image file as stored: (H, W, 3) uint8, or (H, W) uint16/int32/float32 for 16-bit,
    32-bit and float images (which :func:`tone_map` maps; Pillow's RGB conversion would clip them)."""
    im = _open_image(Path(path), "colour", max_pixels)
    try:
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            arr = np.asarray(im)
            if arr.dtype.byteorder not in ("=", "|"):
                arr = arr.astype(arr.dtype.newbyteorder("="))
        else:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    finally:
        im.close()
    return np.ascontiguousarray(arr)


def load_color_notes(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, list[str]]:
    """:func:`load_color` with the notes the user should see (tone mapping, greyscale)."""
    if isinstance(source, (str, Path)):
        arr = read_color_raw(source, max_pixels=max_pixels)
    else:
        arr = np.asarray(source)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
            raise InputError(f"colour image must be (H, W, 3), got shape {arr.shape}.")
        if arr.shape[0] * arr.shape[1] > max_pixels:
            raise InputError(f"colour image has {arr.shape[0] * arr.shape[1]} pixels, above the limit of {max_pixels}.")
    img, note = tone_map(arr)
    notes = [note] if note else []
    if is_grey(img):
        notes.append(GREY_NOTE)
    return img, notes


def load_color(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load a colour image as an (H, W, 3) uint8 array.

    Args:
        source: path to a PNG/JPEG/TIFF, or an (H, W, 3) / (H, W, 4) / (H, W) array (alpha
            dropped; 16-bit and float images tone-mapped by :func:`tone_map`).
        max_pixels: largest accepted image [pixels].
    """
    return load_color_notes(source, max_pixels=max_pixels)[0]


def load_depth(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Load a raw depth image (units not yet decided) as an (H, W) array.

    Args:
        source: a single-channel 16-bit PNG, a ``.npy`` file, or an (H, W) array.
        max_pixels: largest accepted image [pixels].

    Returns:
        (H, W) array, integer (PNG) or float (``.npy``) as stored.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() == ".npy":
            arr = _load_npy(path, max_pixels)
        else:
            im = _open_image(path, "depth", max_pixels)
            try:
                if im.mode not in ("I;16", "I;16B", "I;16L", "I"):
                    raise InputError(
                        f"depth PNG {path.name} has mode {im.mode!r}; it must be a single-channel 16-bit "
                        "image of millimetres (or give a float .npy in metres)."
                    )
                arr = np.asarray(im)
            finally:
                im.close()
            if arr.dtype.kind in "iu" and arr.dtype != np.uint16:
                if arr.size and (arr.min() < 0 or arr.max() > np.iinfo(np.uint16).max):
                    raise InputError(f"depth PNG {path.name} holds values outside 0..65535; expected millimetres.")
                arr = arr.astype(np.uint16)
    else:
        arr = np.asarray(source)
        if arr.ndim == 2 and arr.shape[0] * arr.shape[1] > max_pixels:
            raise InputError(f"depth image has {arr.size} pixels, above the limit of {max_pixels}.")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2:
        raise InputError(f"depth must be a single-channel (H, W) image, got shape {arr.shape}.")
    if arr.dtype.kind not in "uif" or arr.dtype == np.uint8 or arr.dtype == np.int8:
        raise InputError(
            f"depth dtype {arr.dtype} is not supported; use uint16 millimetres or float metres "
            "(8-bit depth has too few levels)."
        )
    return np.ascontiguousarray(arr)


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a ``.npy`` header, read without loading the data."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            major, _ = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:  # not .npy, a .npz, a broken header
        raise InputError(f"depth file {path.name} is not a readable .npy array ({exc}); save the depth with "
                         "numpy.save(path, depth.astype(numpy.float32)).") from None
    return tuple(shape), np.dtype(dtype)


def _load_npy(path: Path, max_pixels: int) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"depth file {path.name} does not exist.")
    shape, dtype = _npy_header(path)
    if dtype.hasobject:
        raise InputError(f"depth file {path.name} is not a plain numeric array: it holds Python objects, which "
                         "only load with pickle, and pickled data is refused for safety. Save a plain float32 "
                         "array in metres.")
    if math.prod(shape) > max_pixels:
        raise InputError(f"depth array {path.name} has shape {shape}, above the limit of {max_pixels} values.")
    try:
        mm = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # object arrays, bad header
        raise InputError(f"depth file {path.name} is not a plain numeric .npy array ({exc}).") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"depth file {path.name} is not a readable .npy file ({exc}).") from None
    if not isinstance(mm, np.ndarray):
        raise InputError(f"depth file {path.name} must hold a single array, not an archive.")
    if mm.size > max_pixels:
        raise InputError(f"depth array {path.name} has {mm.size} values, above the limit of {max_pixels}.")
    try:
        return np.array(mm)
    except (OSError, ValueError) as exc:
        raise InputError(f"depth file {path.name} is truncated ({exc}).") from None


# ---------------------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------------------
def depth_to_metres(raw: np.ndarray, depth_scale: float | None = None) -> tuple[np.ndarray, str, list[str]]:
    """Convert raw depth to metres (rules in the module docstring).

    Args:
        raw: (H, W) raw depth, integer or float.
        depth_scale: depth units per metre, or ``None`` to decide from the dtype.

    Returns:
        ``(depth, units, warnings)``: (H, W) float32 depth [m] with 0 where missing, a
        sentence naming the units assumed, and warnings for the result.
    """
    notes: list[str] = []
    raw_f = raw.astype(np.float64, copy=False)
    finite = np.isfinite(raw_f)
    if not finite.any():
        raise InputError("depth image is entirely NaN/inf: there is no depth reading at all.")
    if (raw_f[finite] < 0).any():
        n = int((raw_f[finite] < 0).sum())
        raise InputError(
            f"depth image has {n} negative values; depth must be >= 0 (0 = missing). "
            "Is this a disparity or a signed-normal image?"
        )
    positive = finite & (raw_f > 0)
    if not positive.any():
        raise InputError("depth image is all zeros (no valid reading); check the depth file.")
    med_float = float(np.median(raw_f[positive])) if raw.dtype.kind == "f" else None
    if (depth_scale is not None and med_float is not None and float(depth_scale) != 1.0
            and MIN_DEPTH_M <= med_float <= MAX_DEPTH_M
            and not MIN_DEPTH_M <= med_float / float(depth_scale) <= MAX_DEPTH_M):
        scale = 1.0
        units = "metres (float depth image; the camera file's depth_scale was ignored)"
        notes.append(f"the float depth already reads as metres (median {med_float:.3g} m), so the camera file's "
                     f"depth_scale={float(depth_scale):g} was ignored (it would put the scene at "
                     f"{med_float / float(depth_scale):.3g} m); remove depth_scale, or set it to 1")
    elif depth_scale is not None:
        scale = float(depth_scale)
        units = f"raw / {scale:g} (depth_scale from the camera file: {scale:g} units per metre)"
    elif raw.dtype.kind in "iu":
        scale = 1000.0
        units = "millimetres (integer depth image)"
    else:
        med = float(np.median(raw_f[positive]))
        if med > FLOAT_MILLIMETRE_MEDIAN:
            scale = 1000.0
            units = "millimetres (float depth with median > 20, converted)"
            notes.append(
                f"float depth has median {med:.1f}, which is not plausible in metres; assumed "
                "millimetres and divided by 1000 (set depth_scale=1 in the camera file to force metres)."
            )
        else:
            scale = 1.0
            units = "metres (float depth image)"
    depth = np.where(positive, raw_f / scale, 0.0)
    out_of_range = positive & ((depth < MIN_DEPTH_M) | (depth > MAX_DEPTH_M))
    if out_of_range.any():
        frac = out_of_range.sum() / positive.sum()
        if frac > 0.01:
            notes.append(
                f"{100 * frac:.1f}% of depth readings lie outside {MIN_DEPTH_M}..{MAX_DEPTH_M} m "
                "and were dropped."
            )
        depth[out_of_range] = 0.0
    return depth.astype(np.float32), units, notes


# ---------------------------------------------------------------------------------------
# frame
# ---------------------------------------------------------------------------------------
def coerce_intrinsics(intrinsics: Intrinsics | dict[str, Any] | str | Path, width: int, height: int) -> Intrinsics:
    """Accept an :class:`Intrinsics`, a camera.json mapping or a camera.json path."""
    if isinstance(intrinsics, Intrinsics):
        return intrinsics
    if isinstance(intrinsics, dict):
        return Intrinsics.from_dict(intrinsics, width=width, height=height)
    if isinstance(intrinsics, (str, Path)):
        return Intrinsics.from_json(intrinsics, width=width, height=height)
    raise InputError(f"intrinsics must be an Intrinsics, a dict or a camera.json path, got {type(intrinsics).__name__}.")


def load_rgbd(
    rgb: ImageSource,
    depth: ImageSource,
    intrinsics: Intrinsics | dict[str, Any] | str | Path,
    *,
    max_pixels: int = MAX_PIXELS,
    min_valid_points: int = MIN_VALID_POINTS,
) -> RGBDFrame:
    """Load, validate and unit-convert one RGB-D frame.

    Raises:
        InputError: unreadable/oversized/corrupt images, size mismatches, unusable depth,
            bad intrinsics, or fewer than ``min_valid_points`` valid depth pixels.
    """
    color, color_notes = load_color_notes(rgb, max_pixels=max_pixels)
    raw = load_depth(depth, max_pixels=max_pixels)
    h, w = color.shape[:2]
    if raw.shape != (h, w):
        raise InputError(
            f"colour image is {w}x{h} but depth is {raw.shape[1]}x{raw.shape[0]}; "
            "register/resize the depth to the colour camera first."
        )
    intr = coerce_intrinsics(intrinsics, w, h)
    if (intr.width, intr.height) != (w, h):
        raise InputError(
            f"intrinsics are for a {intr.width}x{intr.height} image but the frame is {w}x{h}; "
            "give intrinsics for this resolution."
        )
    depth_m, units, notes = depth_to_metres(raw, intr.depth_scale)
    notes = color_notes + list(intr.notes) + notes
    n_valid = int((depth_m > 0).sum())
    if n_valid < min_valid_points:
        hint = ""
        if raw.dtype.kind in "iu" and intr.depth_scale is None and 0 < int(raw.max()) <= METRES_AS_INTEGERS_MAX:
            hint = (f" Its largest value is {int(raw.max())}: this looks like metres stored as integers; save "
                    "millimetres in a uint16 PNG, or metres in a float .npy.")
        raise InputError(
            f"only {n_valid} pixels have a usable depth (need {min_valid_points}); "
            f"the depth is {units} - check the units and that the scene is 0.05-10 m away.{hint}"
        )
    return RGBDFrame(rgb=color, depth=depth_m, intrinsics=intr, depth_units=units, warnings=tuple(notes),
                     grey=GREY_NOTE in color_notes)


def backproject(frame: RGBDFrame) -> CameraCloud:
    """Back-project every valid depth pixel into the camera frame with open3d.

    Uses ``open3d.geometry.PointCloud.create_from_rgbd_image`` on the metric depth (scale
    1, pixels with depth 0 skipped); open3d walks pixels row-major, so the i-th point
    belongs to the i-th valid pixel, which gives ``pixel_index``.
    """
    import open3d as o3d

    intr = frame.intrinsics
    h, w = frame.depth.shape
    valid = frame.depth > 0
    pix = np.flatnonzero(valid.ravel()).astype(np.int64)
    cam = o3d.camera.PinholeCameraIntrinsic(w, h, intr.fx, intr.fy, intr.cx, intr.cy)
    rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
        o3d.geometry.Image(frame.rgb),
        o3d.geometry.Image(np.ascontiguousarray(frame.depth, dtype=np.float32)),
        depth_scale=1.0,
        depth_trunc=float(MAX_DEPTH_M) + 1.0,
        convert_rgb_to_intensity=False,
    )
    pcd = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd, cam, project_valid_depth_only=True)
    points = np.asarray(pcd.points, dtype=np.float64)
    colors = np.asarray(pcd.colors, dtype=np.float64)
    if points.shape[0] != pix.shape[0]:  # would break the pixel <-> point correspondence
        raise RuntimeError(
            f"open3d returned {points.shape[0]} points for {pix.shape[0]} valid pixels; "
            "the back-projection ordering assumption no longer holds."
        )
    return CameraCloud(points=points, colors=colors, pixel_index=pix)


def depth_discontinuities(depth: np.ndarray, *, relative: float = 0.03, absolute: float = 0.01) -> np.ndarray:
    """(H, W) bool mask of pixels next to a depth jump ("flying pixels" at object edges).

    A pixel is flagged when any 4-neighbour's depth differs by more than
    ``max(absolute, relative * depth)`` [m], or a neighbour has no reading. Such pixels
    smear between foreground and background and would glue separate objects together.
    """
    d = depth.astype(np.float32)
    thr = np.maximum(absolute, relative * d)
    flag = np.zeros(d.shape, dtype=bool)
    for axis in (0, 1):
        diff = np.abs(np.diff(d, axis=axis))
        a = [slice(None)] * 2
        b = [slice(None)] * 2
        a[axis] = slice(0, -1)
        b[axis] = slice(1, None)
        jump_a = diff > thr[tuple(a)]
        jump_b = diff > thr[tuple(b)]
        flag[tuple(a)] |= jump_a
        flag[tuple(b)] |= jump_b
    return flag & (d > 0)
