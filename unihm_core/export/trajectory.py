"""Trajectory files: ``trajectory.json``, ``trajectory.npz``, ``trajectory.csv``, ``meta.json``.

* JSON (``unihm-trajectory/1``, schema in ``trajectory.schema.json`` next to this module):
  hand, joint names and units, fps, the wrist convention, raw and refined joint trajectories,
  fingertip positions, object poses, metrics, seed, package versions and the SHA-256 of the
  URDF the joint values refer to.
* NPZ: the same arrays (``q_raw``, ``q_refined``, ``fingertips_*``, ``object_poses_world``) and
  ``joint_names``; loadable with ``np.load(path, allow_pickle=False)``.
* CSV: one row per frame and variant, header ``variant,frame,time_s,<joint names...>``; any
  cell starting with ``= + - @`` (a spreadsheet formula trigger) is prefixed with ``'``.
* ``meta.json``: everything that is not an array (instruction, seed, versions, timings).

Files are written into the given folder only (a fresh temporary file renamed into place), so
a failed export never leaves a half-written file and never touches other folders.

Replaying an export in SAPIEN (documented snippet, also in docs/EXPORT.md)::

    import json, numpy as np
    from unihm_core.sim.render import HandRenderer
    d = json.load(open("trajectory.json"))
    r = HandRenderer()
    frames = [r.render_hand(d["hand"], np.array(q)) for q in d["q_refined"] or d["q_raw"]]
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from unihm_core.errors import InputError

FORMAT = "unihm-trajectory/1"
SCHEMA_PATH = Path(__file__).with_name("trajectory.schema.json")
WRIST_CONVENTION = ("q[0:3] = root-link position [m] in the world (table) frame; q[3:6] = rx, ry, rz [rad] "
                    "with R = Rx(rx) @ Ry(ry) @ Rz(rz); q[6:] = actuated finger joints in URDF order "
                    "(mimic joints expanded by the kinematics)")
VERSIONED = ("numpy", "torch", "pin", "sapien", "transformers", "gradio", "dex-retargeting")
FORMULA_PREFIXES = ("=", "+", "-", "@")


@dataclass
class TrajectoryExport:
    """Everything one export holds. Arrays: ``q_raw`` (T, D), ``q_refined`` (T, D) or None,
    ``object_poses_world`` (T, 4, 4)."""

    hand: str
    joint_names: list[str]
    q_raw: np.ndarray
    object_poses_world: np.ndarray
    seed: int
    fps: float = 30.0
    q_refined: np.ndarray | None = None
    instruction: str = ""
    metrics: dict = field(default_factory=dict)
    extra_meta: dict = field(default_factory=dict)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        from unihm_core import __version__

        out["unihm"] = __version__
    except ImportError:  # pragma: no cover
        pass
    return out


def escape_csv_cell(value) -> str:
    """Text of a CSV cell, with a leading ``'`` when it would start a spreadsheet formula."""
    text = value if isinstance(value, str) else repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp creates 0600; a result follows the umask like any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _validate(exp: TrajectoryExport):
    from unihm_core.hands import load_hand

    hand = load_hand(exp.hand)
    q_raw = np.asarray(exp.q_raw, float)
    if q_raw.ndim != 2 or q_raw.shape[1] != hand.dof or list(exp.joint_names) != list(hand.joint_names):
        raise InputError(f"export: q_raw must be (T, {hand.dof}) with the joint names of {exp.hand}")
    q_ref = None if exp.q_refined is None else np.asarray(exp.q_refined, float)
    if q_ref is not None and q_ref.shape != q_raw.shape:
        raise InputError(f"export: q_refined shape {q_ref.shape} differs from q_raw {q_raw.shape}")
    poses = np.asarray(exp.object_poses_world, float)
    if poses.shape != (len(q_raw), 4, 4):
        raise InputError(f"export: object_poses_world must be ({len(q_raw)}, 4, 4), got {poses.shape}")
    return hand, q_raw, q_ref, poses


def to_json_dict(exp: TrajectoryExport) -> dict:
    """The ``trajectory.json`` content."""
    from unihm_core.hands import urdf_path
    from unihm_core.hands.urdf import urdf_sha256

    hand, q_raw, q_ref, poses = _validate(exp)
    units = {n: r["unit"] for n, r in zip(hand.joint_names, hand.joint_table())}
    return {
        "format": FORMAT, "hand": exp.hand, "joint_names": list(hand.joint_names), "units": units,
        "fps": float(exp.fps), "num_frames": len(q_raw), "wrist_convention": WRIST_CONVENTION,
        "q_raw": q_raw.tolist(), "q_refined": None if q_ref is None else q_ref.tolist(),
        "fingertip_links": list(hand.fingertip_links),
        "fingertips_raw": hand.fingertip_positions(hand.clamp(q_raw)).tolist(),
        "fingertips_refined": None if q_ref is None else hand.fingertip_positions(hand.clamp(q_ref)).tolist(),
        "object_poses_world": poses.tolist(), "metrics": exp.metrics, "seed": int(exp.seed),
        "instruction": exp.instruction, "versions": package_versions(),
        "urdf_sha256": urdf_sha256(urdf_path(exp.hand)),
    }


def write_export(exp: TrajectoryExport, out_dir: str | Path) -> dict[str, Path]:
    """Write the four files into ``out_dir`` (created); returns their paths by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = to_json_dict(exp)
    paths = {k: out / n for k, n in (("json", "trajectory.json"), ("npz", "trajectory.npz"),
                                      ("csv", "trajectory.csv"), ("meta", "meta.json"))}
    _atomic_write(paths["json"], json.dumps(doc).encode())
    buf = io.BytesIO()
    arrays = {"q_raw": np.asarray(exp.q_raw, float), "object_poses_world": np.asarray(exp.object_poses_world, float),
              "joint_names": np.array(doc["joint_names"]), "fingertips_raw": np.asarray(doc["fingertips_raw"])}
    if exp.q_refined is not None:
        arrays["q_refined"] = np.asarray(exp.q_refined, float)
        arrays["fingertips_refined"] = np.asarray(doc["fingertips_refined"])
    np.savez_compressed(buf, **arrays)
    _atomic_write(paths["npz"], buf.getvalue())
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow([escape_csv_cell(c) for c in ["variant", "frame", "time_s", *doc["joint_names"]]])
    for variant, q in (("raw", exp.q_raw), ("refined", exp.q_refined)):
        if q is None:
            continue
        for t, row in enumerate(np.asarray(q, float)):
            w.writerow([variant, t, f"{t / exp.fps:.6f}", *(repr(float(v)) for v in row)])
    _atomic_write(paths["csv"], text.getvalue().encode())
    meta = {k: doc[k] for k in ("format", "hand", "fps", "num_frames", "seed", "instruction", "versions",
                                "urdf_sha256", "wrist_convention")}
    meta.update(exp.extra_meta)
    _atomic_write(paths["meta"], json.dumps(meta, indent=2, default=str).encode())
    return paths


def read_export(out_dir: str | Path) -> dict:
    """Load the JSON document and the NPZ arrays of an export (for round trips and replay)."""
    out = Path(out_dir)
    doc = json.loads((out / "trajectory.json").read_text())
    with np.load(out / "trajectory.npz", allow_pickle=False) as z:
        doc["npz"] = {k: z[k] for k in z.files}
    return doc


def validate_json(doc: dict) -> None:
    """Validate a ``trajectory.json`` document against the schema (jsonschema)."""
    import jsonschema

    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
