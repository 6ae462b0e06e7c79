"""The perception result (:class:`Scene`) and its single entry point :func:`perceive`.

``perceive(rgb, depth, intrinsics)`` runs: intake (load, validate, units, open3d
back-projection) -> table plane (seeded RANSAC) -> camera-to-world (estimated from the
table unless extrinsics are given) -> clustering of the points above the table ->
per-object attributes (normals, colour, primitive fit, size) -> hidden-side completion.
Stage times are recorded in ``Scene.timings_s``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unihm_core.perception.instances import (
    ObjectInstance,
    SegmentationConfig,
    build_instance,
    segment_objects,
)
from unihm_core.errors import InputError
from unihm_core.perception.colors import apply_white_balance, white_balance_gains
from unihm_core.perception.intrinsics import Intrinsics, validate_extrinsics
from unihm_core.perception.rgbd import (
    ImageSource,
    RGBDFrame,
    backproject,
    depth_discontinuities,
    load_rgbd,
)
from unihm_core.perception.table import TablePlane, camera_to_table, fit_table_plane, transform_points


@dataclass(frozen=True)
class Scene:
    """What perception found in one RGB-D frame.

    Attributes:
        rgb: (H, W, 3) uint8 colour image.
        depth: (H, W) float32 depth [m] (0 = missing).
        intrinsics: camera intrinsics.
        camera_to_world: (4, 4) camera pose in the world frame, given or estimated.
        camera_to_table: (4, 4) camera pose in the estimated table frame (z up, table at
            z = 0, x = image right projected on the table, y = away from the viewer).
        extrinsics_source: "given" or "estimated from the table plane".
        depth_units: the units assumed for the raw depth (sentence).
        table: the table plane in the camera frame.
        instances: objects on the table, sorted left to right in the image.
        warnings: notes for the user (unit guesses, ignored regions, ...).
        timings_s: seconds per stage ("intake", "plane", "clustering", "attributes",
            "completion").
        seed: RANSAC seed used.
        white_balance: linear-RGB gains applied to the point colours before colour naming
            (:func:`~unihm_core.perception.colors.white_balance_gains`; the image itself is
            kept as uploaded).
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    camera_to_world: np.ndarray
    camera_to_table: np.ndarray
    extrinsics_source: str
    depth_units: str
    table: TablePlane
    instances: list[ObjectInstance]
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def table_to_world(self) -> np.ndarray:
        """(4, 4) table frame -> world frame (identity when no extrinsics were given)."""
        return self.camera_to_world @ np.linalg.inv(self.camera_to_table)

    @property
    def view_right_world(self) -> np.ndarray:
        """(3,) unit direction "to the right" as the camera sees it, on the table, world frame."""
        return self.table_to_world[:3, 0].copy()

    @property
    def view_away_world(self) -> np.ndarray:
        """(3,) unit direction "away from the viewer" along the table, world frame."""
        return self.table_to_world[:3, 1].copy()

    @property
    def up_world(self) -> np.ndarray:
        """(3,) table normal (up), world frame."""
        return self.table_to_world[:3, 2].copy()

    @property
    def camera_position_table(self) -> np.ndarray:
        """(3,) camera centre in the table frame [m]."""
        return self.camera_to_table[:3, 3].copy()

    def descriptions(self) -> list[str]:
        """Text description of every instance, in index order."""
        return [inst.description for inst in self.instances]

    def world_to_table(self, points_world: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> table frame."""
        return transform_points(np.linalg.inv(self.table_to_world), np.asarray(points_world, dtype=np.float64))

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (camera block + instances of report.json)."""
        i = self.intrinsics
        return {
            "camera": {
                "fx": i.fx, "fy": i.fy, "cx": i.cx, "cy": i.cy, "width": i.width, "height": i.height,
                "extrinsics": np.round(self.camera_to_world, 6).tolist(),
                "extrinsics_source": self.extrinsics_source,
                "depth_units_assumed": self.depth_units,
                "intrinsics_read_as": i.source_form,
            },
            "table": {
                "normal_camera": np.round(self.table.normal, 6).tolist(),
                "camera_height_m": round(float(self.table.offset), 4),
                "inlier_fraction": round(self.table.inlier_fraction, 4),
                "rmse_mm": round(1000 * self.table.rmse, 2),
            },
            "instances": [inst.summary() for inst in self.instances],
            "white_balance_gains": [round(g, 4) for g in self.white_balance],
            "warnings": list(self.warnings),
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }


#: Tolerances of the check of given extrinsics against the perceived table plane.
MAX_TABLE_TILT_DEG = 10.0
MAX_TABLE_HEIGHT_M = 0.05


def check_extrinsics_against_table(camera_to_world: np.ndarray, camera_to_table: np.ndarray) -> np.ndarray:
    """Given extrinsics must describe a z-up world with the table at z = 0 (what the models
    were trained in). The table plane perception fits anyway is mapped through them: a table
    normal tilted more than :data:`MAX_TABLE_TILT_DEG` from +z, or a table more than
    :data:`MAX_TABLE_HEIGHT_M` from z = 0, is refused (not silently replaced by the estimate:
    the user gave the extrinsics on purpose, so they are told which part disagrees)."""
    table_to_world = camera_to_world @ np.linalg.inv(camera_to_table)
    up = table_to_world[:3, 2]
    tilt = float(np.degrees(np.arccos(np.clip(up[2] / max(np.linalg.norm(up), 1e-12), -1.0, 1.0))))
    height = float(table_to_world[2, 3])
    if tilt > MAX_TABLE_TILT_DEG or abs(height) > MAX_TABLE_HEIGHT_M:
        raise InputError(
            f"the given extrinsics disagree with the table seen in the depth: in their world frame the table is "
            f"tilted {tilt:.1f} deg from z-up (tolerance {MAX_TABLE_TILT_DEG:g}) and lies at z = "
            f"{100 * height:.1f} cm (tolerance {100 * MAX_TABLE_HEIGHT_M:g} cm). The world must be z-up with the "
            "table at z = 0; remove 'extrinsics' from the camera file to use the estimate from the table plane.")
    return camera_to_world


def _quick_table_plane(frame: RGBDFrame, seed: int, max_points: int = 20_000, iterations: int = 256,
                       threshold: float = 0.01) -> tuple[TablePlane, np.ndarray]:
    """The dominant plane of the frame by a seeded numpy RANSAC (no open3d, whose import alone
    takes over a second): for the early extrinsics check only; :func:`perceive` fits the plane
    it uses with open3d and checks again."""
    intr = frame.intrinsics
    v, u = np.nonzero(frame.depth > 0)
    step = max(1, int(np.ceil(len(u) / max_points)))
    u, v = u[::step], v[::step]
    z = frame.depth[v, u].astype(np.float64)
    pts = np.stack([(u - intr.cx) * z / intr.fx, (v - intr.cy) * z / intr.fy, z], axis=1)
    if len(pts) < 3:
        raise InputError("too few depth points to find a table plane.")
    rng = np.random.default_rng(int(seed))
    tri = pts[rng.integers(0, len(pts), size=(iterations, 3))]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-9
    n, tri = n[ok] / norm[ok, None], tri[ok]
    d = -np.einsum("ij,ij->i", n, tri[:, 0])
    counts = (np.abs(pts @ n.T + d) < threshold).sum(axis=0)
    best = int(np.argmax(counts))
    normal, offset = n[best], float(d[best])
    for _ in range(2):
        inl = np.abs(pts @ normal + offset) < threshold
        if inl.sum() < 3:
            break
        c = pts[inl].mean(axis=0)
        normal = np.linalg.svd(pts[inl] - c, full_matrices=False)[2][2]
        offset = float(-normal @ c)
    if offset < 0:
        normal, offset = -normal, -offset
    inl = np.abs(pts @ normal + offset) < threshold
    return TablePlane(normal=normal, offset=offset, inlier_fraction=float(inl.mean()), rmse=0.0,
                      inlier_mask=inl), pts


def check_frame_extrinsics(frame: RGBDFrame, extrinsics: np.ndarray | None = None, *, seed: int = 0) -> None:
    """The extrinsics check of :func:`perceive` ahead of it (a quick table fit, no model), so
    callers can refuse a disagreeing camera file before loading models. Does nothing when no
    extrinsics are given."""
    given = extrinsics if extrinsics is not None else frame.intrinsics.extrinsics
    if given is None:
        return
    plane, pts = _quick_table_plane(frame, seed)
    T_ct, _ = camera_to_table(plane, pts)
    check_extrinsics_against_table(validate_extrinsics(given), T_ct)


def perceive(
    rgb: ImageSource,
    depth: ImageSource,
    intrinsics: Intrinsics | dict[str, Any] | str | Path,
    *,
    seed: int = 0,
    extrinsics: np.ndarray | None = None,
    config: SegmentationConfig | None = None,
) -> Scene:
    """Run perception on one RGB-D frame.

    Args:
        rgb: colour image path or (H, W, 3) uint8 array, or an already loaded
            :class:`~unihm_core.perception.rgbd.RGBDFrame` (``depth``/``intrinsics`` ignored).
        depth: depth PNG/.npy path or (H, W) array (units: see :mod:`.rgbd`).
        intrinsics: :class:`Intrinsics`, camera.json mapping or path.
        seed: RANSAC seed.
        extrinsics: (4, 4) camera-to-world; overrides ``intrinsics.extrinsics``. When
            neither is given the world frame is the estimated table frame.
        config: segmentation parameters.

    Raises:
        InputError: unusable images, intrinsics or depth, or no table plane.
    """
    cfg = config or SegmentationConfig()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    frame = rgb if isinstance(rgb, RGBDFrame) else load_rgbd(rgb, depth, intrinsics)
    cloud = backproject(frame)
    timings["intake"] = time.perf_counter() - t
    warnings = list(frame.warnings)

    t = time.perf_counter()
    plane = fit_table_plane(cloud.points, seed=seed)
    T_ct, notes = camera_to_table(plane, cloud.points)
    warnings += notes
    given = extrinsics if extrinsics is not None else frame.intrinsics.extrinsics
    if given is not None:
        T_cw = check_extrinsics_against_table(validate_extrinsics(given), T_ct)
        source = "given"
    else:
        T_cw = T_ct
        source = "estimated from the table plane"
    timings["plane"] = time.perf_counter() - t

    t = time.perf_counter()
    pts_table = transform_points(T_ct, cloud.points)
    flags = depth_discontinuities(frame.depth).ravel()[cloud.pixel_index]
    clusters, notes = segment_objects(pts_table, plane.inlier_mask, flags, cfg)
    warnings += notes
    w = frame.intrinsics.width
    clusters.sort(key=lambda idx: float(np.mean(cloud.pixel_index[idx] % w)))
    timings["clustering"] = time.perf_counter() - t

    # white balance from the table and the objects on it (the room behind has other light)
    ref = np.concatenate([np.flatnonzero(plane.inlier_mask)] + list(clusters)).astype(np.int64)
    gains = white_balance_gains(cloud.colors[ref[:: max(1, len(ref) // 50000)]])
    colors = apply_white_balance(cloud.colors, gains)

    timings["attributes"] = 0.0
    timings["completion"] = 0.0
    instances = [
        build_instance(
            k, idx,
            points_camera=cloud.points, colors=colors, pixel_index=cloud.pixel_index,
            image_shape=frame.depth.shape, camera_to_table=T_ct, camera_to_world=T_cw,
            cfg=cfg, timings=timings,
        )
        for k, idx in enumerate(clusters)
    ]
    if not instances:
        warnings.append("no object found on the table (nothing stands more than "
                        f"{100 * cfg.margin:.0f} cm above the table plane).")
    return Scene(
        rgb=frame.rgb, depth=frame.depth, intrinsics=frame.intrinsics,
        camera_to_world=T_cw, camera_to_table=T_ct, extrinsics_source=source,
        depth_units=frame.depth_units, table=plane, instances=instances,
        warnings=warnings, timings_s=timings, seed=seed, white_balance=tuple(float(g) for g in gains),
    )
