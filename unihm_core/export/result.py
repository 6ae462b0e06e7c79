"""Result folders: one generation's files, moved into place whole or not at all.

A run never writes into its output folder directly. :func:`write_folder` fills a fresh
staging folder ``.<name>.tmp-XXXXXX`` beside the target and then moves it into place with
one ``rename(2)``:

* target absent or empty: the rename replaces it (Linux renames a directory onto an empty
  one atomically; onto a non-empty one it fails, which is how a run that lost a race with
  a concurrent run finds out: "filled by another run; nothing was written");
* target non-empty: refused unless ``overwrite``; with it the two folders are swapped in
  one ``renameat2(RENAME_EXCHANGE)`` (fallback where the kernel or file system lacks it:
  rename the old folder aside, rename the new one in) and the old one is deleted.
  ``overwrite`` replaces only a folder that holds a UniHM result (a ``meta.json`` of format
  ``unihm-trajectory/1``), so ``--out . --overwrite`` cannot delete unrelated files.

So a reader of the target always sees one run's complete set of files, never a mix, and a
failure at any point leaves the target as it was and removes the staging folder.

:func:`check_out_dir` checks a target *before* the run (the CLI calls it before the models
load): blank names, NUL bytes, undecodable names, names or paths that are too long, a
symlink, an existing file, a path under a file, a folder that cannot be written (probed by
creating and removing a folder, because permission bits do not bind root) and a non-empty
folder without ``overwrite`` are refused with a message saying what to do. Nothing is created.

:func:`write_result` is the one export path of a :class:`~unihm_core.pipeline.GenerationResult`
(used by ``unihm generate`` and the app): the trajectory files, ``report.json``, the
target's and the other objects' meshes with ``scene.json``, plus any files a caller adds
(videos) into the same staging folder.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from unihm_core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from unihm_core.pipeline import GenerationResult

#: The ``format`` a folder's ``meta.json`` must carry for ``overwrite`` to replace it.
RESULT_FORMAT = "unihm-trajectory/1"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputFolderError(InputError):
    """An output folder cannot be used (refused before or instead of writing)."""


def _limit(path: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(path, name))
    except (OSError, ValueError):
        return default


def _first_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p):
        if p.parent == p:
            break
        p = p.parent
    return p


def holds_result(folder: Path) -> bool:
    """True when ``folder`` holds a UniHM result (``meta.json`` with format ``unihm-trajectory/1``)."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == RESULT_FORMAT


def _is_empty(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return next(it, None) is None


def check_out_dir(out: str | os.PathLike | None, overwrite: bool = False) -> Path:
    """Check an output folder before a run (rules in the module docstring); returns it as an
    absolute :class:`~pathlib.Path`. Raises :class:`OutputFolderError`; creates nothing."""
    if out is None or (isinstance(out, str) and not out.strip()):
        raise OutputFolderError("--out is empty; give the name of a new folder for the result, e.g. --out result")
    text = os.fspath(out)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise OutputFolderError("the output folder name contains a NUL character; give a plain folder name")
    try:
        os.fsencode(text)
    except UnicodeError:
        raise OutputFolderError("the output folder name contains characters that cannot be encoded as a file "
                                "name (e.g. a lone surrogate); give a plain folder name") from None
    path = Path(os.path.abspath(text))
    anchor = _first_existing(path)
    name_max = _limit(anchor if anchor.is_dir() else anchor.parent, "PC_NAME_MAX", 255)
    path_max = _limit(anchor if anchor.is_dir() else anchor.parent, "PC_PATH_MAX", 4096)
    for part in path.parts[1:]:
        if len(os.fsencode(part)) > name_max - 16:  # room for the staging prefix and suffix
            raise OutputFolderError(f"a part of the output path has {len(os.fsencode(part))} bytes; this file "
                                    f"system allows at most {name_max - 16} here (names are limited to "
                                    f"{name_max}); choose a shorter name")
    if len(os.fsencode(str(path))) > path_max - 64:
        raise OutputFolderError(f"the output path is {len(os.fsencode(str(path)))} bytes long; keep it under "
                                f"{path_max - 64}")
    if path.is_symlink():
        raise OutputFolderError(f"the output folder {path.name} is a symbolic link; give the real folder, or a "
                                "new name")
    if path.exists() and not path.is_dir():
        raise OutputFolderError(f"the output path {path.name} is an existing file, not a folder; give a new "
                                "folder name")
    if not path.exists():
        for parent in path.parents:
            if os.path.lexists(parent):
                if not parent.is_dir():
                    raise OutputFolderError(f"the output folder would lie under {parent.name}, which is a file, "
                                            "not a folder; give another path")
                break
    if path.is_dir():
        try:
            empty = _is_empty(path)
        except OSError as exc:
            raise OutputFolderError(f"the output folder {path.name} cannot be read ({exc.strerror}); give "
                                    "another folder") from None
        if not empty:
            if not overwrite:
                raise OutputFolderError(f"the output folder {path.name} is not empty; give a new folder, or "
                                        "--overwrite to replace a previous result")
            if not holds_result(path):
                raise OutputFolderError(f"the output folder {path.name} is not empty and holds no UniHM result "
                                        "(no meta.json of ours); --overwrite only replaces a previous result, "
                                        "give a new folder")
    _probe_writable(path.parent if path.parent.exists() else _first_existing(path.parent), path)
    return path


def _probe_writable(folder: Path, target: Path) -> None:
    try:
        probe = tempfile.mkdtemp(dir=folder, prefix=".unihm-probe-")
        os.rmdir(probe)
    except OSError as exc:
        raise OutputFolderError(f"cannot create the output folder {target.name} in {folder.name or '/'} "
                                f"({exc.strerror or exc}); choose a folder you can write to") from None


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(staging: Path, target: Path) -> Path:
    """Replace ``target`` by ``staging``; returns the path now holding the old folder."""
    if _rename_exchange(staging, target):
        return staging
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, old / "x")  # `old` itself stays a fresh name nobody else uses
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old / "x", target)
        raise
    return old


def _apply_umask(folder: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)


def write_folder(out: str | os.PathLike, fill: Callable[[Path], None], *, overwrite: bool = False) -> Path:
    """Fill a staging folder with ``fill(folder)`` and move it into place as ``out`` (rules in
    the module docstring). Returns the final folder."""
    target = check_out_dir(out, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    except OSError as exc:
        raise OutputFolderError(f"cannot create the output folder {target.name} ({exc.strerror or exc})") from None
    old = None
    try:
        _apply_umask(staging)
        fill(staging)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise OutputFolderError(f"cannot move the result into {target.name} ({exc.strerror})") from None
            if not overwrite:
                raise OutputFolderError(f"the output folder {target.name} was filled by another run meanwhile; "
                                        "nothing was written (give a new folder, or --overwrite)") from None
            if not holds_result(target):
                raise OutputFolderError(f"the output folder {target.name} was filled meanwhile with files that "
                                        "are not a UniHM result; nothing was written") from None
            old = _swap_in(staging, target)
    finally:
        for leftover in (staging, old):
            if leftover is not None and os.path.lexists(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
    return target


# ------------------------------------------------------------------ a generation's files
def export_of(result: GenerationResult, extra_meta: dict | None = None):
    """The :class:`~unihm_core.export.TrajectoryExport` of a generation result."""
    from unihm_core.export.trajectory import TrajectoryExport

    meta = {"timings_s": result.timings_s, "target": result.target.to_dict(), "task": result.plan.task,
            "frame": "world = the perceived table frame (z up) unless extrinsics were given"}
    meta.update(extra_meta or {})
    return TrajectoryExport(
        hand=result.hand, joint_names=list(result.joint_names), q_raw=result.raw.q,
        q_refined=None if result.refined is None else result.refined.q,
        object_poses_world=result.plan.object_poses, seed=result.seed, instruction=result.instruction,
        metrics={k: {m: v for m, v in d.items() if m != "penetration_per_frame_mm"}
                 for k, d in result.metrics.items()},
        extra_meta=meta)


def target_mesh(result: GenerationResult):
    """The target's mesh in its object frame: the convex hull of its observed + completed surface."""
    import trimesh

    return trimesh.Trimesh(result.target.points).convex_hull


def _safe_label(text: str) -> str:
    out = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text.strip().lower())
    return out.strip("_")[:40] or "object"


def write_meshes(result: GenerationResult, folder: Path) -> dict:
    """Write ``target.obj`` and ``objects/NN_<label>.obj`` (every other perceived instance), each
    in its object frame (origin at the bottom centre, world axes), and return the ``scene.json``
    content that says which mesh is which and where it stands (``pose0_world`` of the target,
    which ``object_poses_world`` then moves; ``pose_world`` of each other object)."""
    import numpy as np
    import trimesh

    from unihm_core.export.trajectory import _atomic_write

    target = target_mesh(result)
    _atomic_write(folder / "target.obj", target.export(file_type="obj").encode())
    others = []
    scene = result.scene
    for inst in scene.instances:
        if inst.index == result.target.index:
            continue
        pts = np.asarray(inst.points, float)
        if len(getattr(inst, "completed_points", ())):
            pts = np.concatenate([pts, inst.completed_points])
        try:  # a degenerate (flat or tiny) cluster has no 3-D hull; it is listed, not meshed
            hull = trimesh.Trimesh(pts).convex_hull if len(pts) >= 4 else None
        except Exception:
            hull = None
        # each object in its own frame like the target: origin at the bottom centre of its
        # perceived box, world axes; pose_world places it (objects other than the target do not move)
        pose = np.eye(4)
        centre, extent = np.asarray(inst.centroid_world, float), np.asarray(inst.extent, float)
        pose[:3, 3] = [centre[0], centre[1], centre[2] - extent[2] / 2]
        entry = {"index": int(inst.index), "label": inst.label, "description": inst.description,
                 "mesh": None, "frame": "object (posed by pose_world)", "pose_world": np.round(pose, 6).tolist()}
        if hull is not None and len(hull.faces):
            name = f"objects/{int(inst.index):02d}_{_safe_label(inst.label)}.obj"
            (folder / "objects").mkdir(exist_ok=True)
            local = trimesh.Trimesh(hull.vertices - np.round(pose, 6)[:3, 3], hull.faces, process=False)
            _atomic_write(folder / name, local.export(file_type="obj").encode())
            entry["mesh"] = name
        others.append(entry)
    return {
        "format": "unihm-scene/1",
        "units": "m",
        "target": {"index": int(result.target.index), "label": result.target.label,
                   "description": result.target.description, "mesh": "target.obj",
                   "frame": "object (posed per frame by object_poses_world of trajectory.json)",
                   "pose0_world": np.round(result.target.pose0, 6).tolist()},
        "objects": others,
        "table_to_world": np.round(scene.table_to_world, 6).tolist(),
        "table": "the plane z = 0 of the table frame (normal +z)",
    }


def write_result(result: GenerationResult, out_dir: str | os.PathLike, *, overwrite: bool = False,
                 add_files: Callable[[Path], None] | None = None, extra_meta: dict | None = None) -> list[Path]:
    """Write one generation's folder atomically (see the module docstring): ``add_files(staging)``
    first (e.g. videos, so their time lands in the report), then ``trajectory.json/.npz/.csv``,
    ``meta.json``, ``target.obj``, ``objects/*.obj``, ``scene.json`` and ``report.json``.
    Returns the final paths of the files, sorted."""
    from unihm_core.export.trajectory import _atomic_write, write_export

    def fill(folder: Path) -> None:
        if add_files is not None:
            add_files(folder)
        write_export(export_of(result, extra_meta), folder)
        scene = write_meshes(result, folder)
        _atomic_write(folder / "scene.json", json.dumps(scene, indent=1).encode())
        _atomic_write(folder / "report.json", json.dumps(result.report(), indent=1).encode())

    final = write_folder(out_dir, fill, overwrite=overwrite)
    return sorted(p for p in final.rglob("*") if p.is_file())
