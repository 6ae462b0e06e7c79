"""Top-down height/colour map of the workspace from one RGB-D frame (the planner's input).

The map is an orthographic view of the table from above, in the world (= table) frame:
cell ``(i, j)`` covers ``x in [x_min + j*res, x_min + (j+1)*res)`` and
``y in [y_min + i*res, y_min + (i+1)*res)``, so row 0 is the edge nearest the viewer
(-y) and column 0 the viewer's left (-x). Each cell holds the highest back-projected point
that falls in it: its height above the table [m] (clipped at 0), its colour, and (when
instance labels are given) its label. Cells no point reaches are marked invalid
(height 0, colour 0) — regions hidden behind objects from the camera's oblique view stay
empty, as in CLIPort's heightmaps.

Default workspace: x in [-0.40, 0.40] m, y in [-0.45, 0.35] m at 1 cm per cell
(80 x 80 cells); it covers the synthetic scenes' object area and every place target
(table locations, receptacles, hand-over points towards the viewer). 1 cm rather than
CLIPort's ~3 mm keeps the network trainable in minutes on two CPU cores (5 mm made one
training step 16x slower); the planner refines its arg-max to sub-cell precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import ConfigError, InputError

#: Network input channels of :meth:`Heightmap.features`.
FEATURE_CHANNELS = ("red", "green", "blue", "height", "valid")
HEIGHT_SCALE = 10.0  # height [m] * HEIGHT_SCALE -> network input (0.1 m -> 1.0)


@dataclass(frozen=True)
class HeightmapConfig:
    """Workspace rectangle [m] and cell size [m] of the heightmap."""

    x_range: tuple[float, float] = (-0.40, 0.40)
    y_range: tuple[float, float] = (-0.45, 0.35)
    resolution: float = 0.01
    max_height: float = 0.5

    def __post_init__(self) -> None:
        if not self.resolution > 0:
            raise ConfigError(f"HeightmapConfig.resolution must be > 0 m, got {self.resolution}")
        for name in ("x_range", "y_range"):
            lo, hi = getattr(self, name)
            if not hi > lo:
                raise ConfigError(f"HeightmapConfig.{name} must be (lo, hi) with hi > lo, got {(lo, hi)}")
        if not self.max_height > 0:
            raise ConfigError("HeightmapConfig.max_height must be > 0 m")

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) = (rows along y, columns along x)."""
        h = int(round((self.y_range[1] - self.y_range[0]) / self.resolution))
        w = int(round((self.x_range[1] - self.x_range[0]) / self.resolution))
        return h, w

    def xy_to_cell(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) world x, y [m] -> (..., 2) integer (row, col), clipped to the map."""
        xy = np.asarray(xy, dtype=np.float64)
        h, w = self.shape
        col = np.floor((xy[..., 0] - self.x_range[0]) / self.resolution).astype(np.int64)
        row = np.floor((xy[..., 1] - self.y_range[0]) / self.resolution).astype(np.int64)
        return np.stack([np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)], axis=-1)

    def cell_to_xy(self, cell: np.ndarray) -> np.ndarray:
        """(..., 2) (row, col), integer or fractional -> (..., 2) world x, y [m] of the cell centre."""
        cell = np.asarray(cell, dtype=np.float64)
        x = self.x_range[0] + (cell[..., 1] + 0.5) * self.resolution
        y = self.y_range[0] + (cell[..., 0] + 0.5) * self.resolution
        return np.stack([x, y], axis=-1)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """(...,) True where world x, y [m] lies inside the workspace rectangle."""
        xy = np.asarray(xy, dtype=np.float64)
        return ((xy[..., 0] >= self.x_range[0]) & (xy[..., 0] < self.x_range[1])
                & (xy[..., 1] >= self.y_range[0]) & (xy[..., 1] < self.y_range[1]))

    def to_dict(self) -> dict:
        return {"x_range": list(self.x_range), "y_range": list(self.y_range), "resolution": self.resolution,
                "max_height": self.max_height}


@dataclass(frozen=True)
class Heightmap:
    """A top-down map.

    Attributes:
        height: (H, W) float32 height above the table [m] (0 where invalid).
        color: (H, W, 3) uint8 colour of the highest point per cell.
        valid: (H, W) bool, a point fell in the cell.
        labels: (H, W) int32 instance label of the highest point (0 = background), or None.
        config: the workspace geometry.
    """

    height: np.ndarray
    color: np.ndarray
    valid: np.ndarray
    labels: np.ndarray | None
    config: HeightmapConfig

    def features(self) -> np.ndarray:
        """(5, H, W) float32 network input: RGB in [0, 1], height * 10, valid (see FEATURE_CHANNELS)."""
        rgb = self.color.astype(np.float32).transpose(2, 0, 1) / 255.0
        return np.concatenate([rgb, (HEIGHT_SCALE * self.height)[None].astype(np.float32),
                               self.valid[None].astype(np.float32)], axis=0)

    def height_at(self, xy: np.ndarray) -> float:
        """Height [m] of the cell holding world point ``xy`` (2,)."""
        r, c = self.config.xy_to_cell(np.asarray(xy)[:2])
        return float(self.height[r, c])


def heightmap_from_points(points: np.ndarray, colors: np.ndarray, config: HeightmapConfig | None = None,
                          labels: np.ndarray | None = None) -> Heightmap:
    """Project world points onto the top-down grid, keeping the highest point per cell.

    Args:
        points: (N, 3) world points [m] (z = height above the table).
        colors: (N, 3) uint8 colours.
        config: workspace geometry (default :class:`HeightmapConfig`).
        labels: (N,) integer instance labels, optional.
    """
    cfg = config or HeightmapConfig()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError(f"points must have shape (N, 3), got {pts.shape}")
    cols = np.asarray(colors)
    if cols.shape != pts.shape:
        raise InputError(f"colors must have the shape of points {pts.shape}, got {cols.shape}")
    h, w = cfg.shape
    keep = cfg.contains(pts[:, :2]) & np.isfinite(pts).all(1) & (pts[:, 2] < cfg.max_height)
    pts, cols = pts[keep], cols[keep]
    lab = np.asarray(labels)[keep] if labels is not None else None
    cell = cfg.xy_to_cell(pts[:, :2])
    flat = cell[:, 0] * w + cell[:, 1]
    z = np.clip(pts[:, 2], 0.0, None)
    order = np.lexsort((z, flat))  # by cell, then height ascending: the last per cell is the highest
    flat_s = flat[order]
    last = np.ones(len(flat_s), dtype=bool)
    last[:-1] = flat_s[1:] != flat_s[:-1]
    top = order[last]
    height = np.zeros(h * w, dtype=np.float32)
    color = np.zeros((h * w, 3), dtype=np.uint8)
    valid = np.zeros(h * w, dtype=bool)
    height[flat[top]] = z[top]
    color[flat[top]] = cols[top]
    valid[flat[top]] = True
    out_labels = None
    if lab is not None:
        out_labels = np.zeros(h * w, dtype=np.int32)
        out_labels[flat[top]] = lab[top]
        out_labels = out_labels.reshape(h, w)
    return Heightmap(height=height.reshape(h, w), color=color.reshape(h, w, 3), valid=valid.reshape(h, w),
                     labels=out_labels, config=cfg)


def backproject_depth(depth_m: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                      camera_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points of the valid depth pixels (OpenCV pinhole).

    Args:
        depth_m: (H, W) depth [m], 0 or non-finite = missing.
        fx, fy, cx, cy: intrinsics [px].
        camera_to_world: (4, 4) camera pose (OpenCV axes: x right, y down, z forward).

    Returns:
        (N, 3) world points [m] and (N,) flat pixel indices they come from.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2:
        raise InputError(f"depth must be an (H, W) image, got shape {d.shape}")
    T = np.asarray(camera_to_world, dtype=np.float64)
    if T.shape != (4, 4):
        raise InputError(f"camera_to_world must be 4x4, got {T.shape}")
    h, w = d.shape
    idx = np.flatnonzero(np.isfinite(d) & (d > 0))
    z = d.ravel()[idx]
    u, v = idx % w, idx // w
    pc = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=1)
    return pc @ T[:3, :3].T + T[:3, 3], idx


def heightmap_from_rgbd(rgb: np.ndarray, depth_m: np.ndarray, fx: float, fy: float, cx: float, cy: float,
                        camera_to_world: np.ndarray, config: HeightmapConfig | None = None,
                        labels: np.ndarray | None = None) -> Heightmap:
    """Heightmap of an RGB-D frame: back-project with the intrinsics, move to the world frame, project down.

    Args:
        rgb: (H, W, 3) uint8 colour image.
        depth_m: (H, W) depth [m] (0 = missing). Convert millimetre images first.
        fx, fy, cx, cy: intrinsics [px].
        camera_to_world: (4, 4) camera-to-world (world = table frame, z up).
        config: workspace geometry.
        labels: (H, W) instance mask image, optional (carried into ``Heightmap.labels``).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[:2] != np.shape(depth_m):
        raise InputError(f"rgb must be (H, W, 3) matching depth {np.shape(depth_m)}, got {rgb.shape}")
    pts, idx = backproject_depth(depth_m, fx, fy, cx, cy, camera_to_world)
    lab = np.asarray(labels).ravel()[idx] if labels is not None else None
    return heightmap_from_points(pts, rgb.reshape(-1, 3)[idx], config, labels=lab)
