"""Per-session output folders and input adapters (uploads -> core types).

Every browser session gets its own folder ``$UNIHM_OUTPUT_DIR/<session hash>/`` and every
generation a fresh numbered sub-folder in it, so no session can read or overwrite another's
files. Folders are removed when the session's state expires (``gr.State`` time-to-live) or
the page is closed (``demo.unload``); a session keeps its last :data:`RUNS_KEPT_PER_SESSION`
runs; folders idle for :data:`SESSION_TTL_S` are pruned (API clients never close); and all of
them go when the server shuts down (:func:`remove_all_sessions`, called by :mod:`app.server`).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from unihm_core import InputError
from unihm_core.paths import OUTPUT_DIR

SESSION_TTL_S = 3600
RUNS_KEPT_PER_SESSION = 3  # older runs of a session are deleted when a new one starts
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_RUN = re.compile(r"run_\d+")
_lock = threading.Lock()


def session_dir(session_hash: str | None) -> Path:
    """The session's private folder (created)."""
    name = _SAFE.sub("", session_hash or "") or "anonymous"
    path = OUTPUT_DIR / name[:64]
    path.mkdir(parents=True, exist_ok=True)
    return path


def prune(now: float | None = None) -> None:
    """Delete session folders untouched for longer than :data:`SESSION_TTL_S` (abandoned
    sessions, e.g. API clients that never close), so disk use stays bounded."""
    now = time.time() if now is None else now
    if not OUTPUT_DIR.exists():
        return
    for folder in OUTPUT_DIR.iterdir():
        if folder.is_dir() and now - folder.stat().st_mtime > SESSION_TTL_S:
            shutil.rmtree(folder, ignore_errors=True)


def new_run_dir(session_hash: str | None) -> Path:
    """A fresh numbered sub-folder for one generation; keeps the session's last few runs only."""
    prune()
    root = session_dir(session_hash)
    with _lock:
        runs = sorted((int(p.name[4:]), p) for p in root.glob("run_*") if p.name[4:].isdigit())
        n = 1 + (runs[-1][0] if runs else 0)
        for _, old in runs[: max(0, len(runs) - (RUNS_KEPT_PER_SESSION - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        path = root / f"run_{n:04d}"
        path.mkdir()
        os.utime(root)  # the session is active
    return path


def remove_session(session_hash: str | None) -> None:
    """Delete a session's folder (safe to call twice)."""
    name = _SAFE.sub("", session_hash or "")
    if name:
        shutil.rmtree(OUTPUT_DIR / name[:64], ignore_errors=True)


def remove_all_sessions() -> int:
    """Delete every session folder under :data:`OUTPUT_DIR` (at server shutdown, when no session
    can continue). Only folders that hold nothing but ``run_NNNN`` sub-folders are touched, so
    a mistaken ``UNIHM_OUTPUT_DIR`` never loses unrelated files. Returns the number removed."""
    if not OUTPUT_DIR.exists():
        return 0
    removed = 0
    for folder in OUTPUT_DIR.iterdir():
        if folder.is_dir() and not folder.is_symlink() and all(_RUN.fullmatch(p.name) and p.is_dir()
                                                                 for p in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def parse_intrinsics(text: str | None, file_path: str | None, image_shape: tuple[int, ...] | None) -> dict:
    """Intrinsics from a text box or an uploaded camera file (the file wins when both are given);
    any form of :mod:`unihm_core.perception.camera_files` (camera.json, K, OpenCV/ROS YAML, ...)."""
    from unihm_core.perception.camera_files import parse_camera_text, read_camera_file

    if file_path:
        data = read_camera_file(file_path)
    elif text and text.strip():
        data = parse_camera_text(text, "the intrinsics text")
    else:
        raise InputError("camera intrinsics are missing: paste JSON like {\"fx\": 615, \"fy\": 615, \"cx\": 320, "
                         "\"cy\": 240} or upload camera.json")
    if image_shape is not None:
        data.setdefault("width", int(image_shape[1]))
        data.setdefault("height", int(image_shape[0]))
    return data


def rgb_array(image) -> np.ndarray:
    """The uploaded colour image as (H, W, 3) uint8."""
    if image is None:
        raise InputError("no colour image: upload an RGB image or pick an example")
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"the colour image has shape {arr.shape}; expected an RGB image")
    # 16-bit and float images stay as they are: perception tone-maps them and says so
    return np.ascontiguousarray(arr[..., :3])


def depth_path(file_obj) -> str:
    """Path of the uploaded depth file (16-bit PNG in mm or .npy in metres)."""
    if file_obj is None:
        raise InputError("no depth map: upload a 16-bit PNG (millimetres) or a .npy (metres), or pick an example")
    path = file_obj if isinstance(file_obj, str) else getattr(file_obj, "name", None) or str(file_obj)
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".npy"):
        raise InputError(f"the depth file must be .png (uint16 millimetres) or .npy (float metres), got {suffix or 'no suffix'}")
    return path
