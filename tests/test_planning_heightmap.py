"""Top-down heightmap: geometry of the grid and projection of a synthetic RGB-D frame."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import ConfigError, InputError
from unihm_core.planning.heightmap import HeightmapConfig, backproject_depth, heightmap_from_points, heightmap_from_rgbd

FX = FY = 300.0
CX, CY = 80.0, 60.0
W, H = 160, 120
BOX_LO, BOX_HI, BOX_H = np.array([0.05, -0.02]), np.array([0.13, 0.06]), 0.08  # [m]


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV camera-to-world looking from ``eye`` at ``target`` (image x roughly along world +x)."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    x = -x if x[0] < 0 else x
    y = np.cross(z, x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, y, z], axis=1)
    T[:3, 3] = eye
    return T


def _scene_points(step: float = 0.0015) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense surface samples: the table (grey, label 0) and a red box (label 1), world frame."""
    g = np.arange(-0.35, 0.35, step)
    tx, ty = np.meshgrid(g, g)
    table = np.stack([tx.ravel(), ty.ravel(), np.zeros(tx.size)], 1)
    table = table[~(np.all(table[:, :2] >= BOX_LO, 1) & np.all(table[:, :2] <= BOX_HI, 1))]
    bx, by = np.meshgrid(np.arange(BOX_LO[0], BOX_HI[0], step), np.arange(BOX_LO[1], BOX_HI[1], step))
    top = np.stack([bx.ravel(), by.ravel(), np.full(bx.size, BOX_H)], 1)
    sides = []
    for zz in np.arange(0.0, BOX_H, step):
        for xx in np.arange(BOX_LO[0], BOX_HI[0], step):
            sides += [(xx, BOX_LO[1], zz), (xx, BOX_HI[1], zz)]
        for yy in np.arange(BOX_LO[1], BOX_HI[1], step):
            sides += [(BOX_LO[0], yy, zz), (BOX_HI[0], yy, zz)]
    box = np.concatenate([top, np.array(sides)])
    pts = np.concatenate([table, box])
    col = np.concatenate([np.full((len(table), 3), 128), np.tile([200, 20, 20], (len(box), 1))]).astype(np.uint8)
    lab = np.concatenate([np.zeros(len(table), int), np.ones(len(box), int)])
    return pts, col, lab


def _render(camera_to_world: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffered point splat of the synthetic scene: rgb (H, W, 3), depth [m] (H, W), labels (H, W)."""
    pts, col, lab = _scene_points()
    inv = np.linalg.inv(camera_to_world)
    pc = pts @ inv[:3, :3].T + inv[:3, 3]
    u = np.round(FX * pc[:, 0] / pc[:, 2] + CX).astype(int)
    v = np.round(FY * pc[:, 1] / pc[:, 2] + CY).astype(int)
    ok = (pc[:, 2] > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    u, v, z, col, lab = u[ok], v[ok], pc[ok, 2], col[ok], lab[ok]
    order = np.argsort(-z)  # far first; nearer points overwrite
    depth = np.zeros((H, W))
    rgb = np.zeros((H, W, 3), np.uint8)
    labels = np.zeros((H, W), int)
    depth[v[order], u[order]] = z[order]
    rgb[v[order], u[order]] = col[order]
    labels[v[order], u[order]] = lab[order]
    return rgb, depth, labels


def _box_cells(cfg: HeightmapConfig, shrink: float = 0.011) -> np.ndarray:
    mask = np.zeros(cfg.shape, bool)
    rows, cols = np.indices(cfg.shape)
    xy = cfg.cell_to_xy(np.stack([rows, cols], -1))
    inside = np.all(xy >= BOX_LO + shrink, -1) & np.all(xy <= BOX_HI - shrink, -1)
    mask[inside] = True
    return mask


def test_grid_geometry_round_trip():
    cfg = HeightmapConfig()
    assert cfg.shape == (80, 80)
    xy = np.array([[-0.395, -0.445], [0.0, 0.0], [0.123, -0.2]])
    cells = cfg.xy_to_cell(xy)
    np.testing.assert_allclose(cfg.cell_to_xy(cells), xy, atol=cfg.resolution / 2 + 1e-12)
    assert tuple(cfg.xy_to_cell(np.array([-0.395, -0.445]))) == (0, 0)  # row 0 = near edge, col 0 = left
    assert tuple(cfg.xy_to_cell(np.array([5.0, -5.0]))) == (0, 79)  # clipped
    with pytest.raises(ConfigError):
        HeightmapConfig(resolution=0.0)
    with pytest.raises(ConfigError):
        HeightmapConfig(x_range=(0.2, 0.1))


def test_highest_point_wins_per_cell():
    cfg = HeightmapConfig()
    pts = np.array([[0.001, 0.001, 0.02], [0.004, 0.002, 0.07], [0.006, 0.001, 0.03], [0.2, 0.1, -0.01]])
    col = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]], np.uint8)
    hm = heightmap_from_points(pts, col, cfg, labels=np.array([5, 6, 7, 8]))
    r, c = cfg.xy_to_cell(pts[0, :2])
    assert hm.height[r, c] == pytest.approx(0.07)
    assert tuple(hm.color[r, c]) == (2, 2, 2) and hm.labels[r, c] == 6
    r2, c2 = cfg.xy_to_cell(pts[3, :2])
    assert hm.valid[r2, c2] and hm.height[r2, c2] == 0.0  # below-table noise is clipped to 0
    assert hm.valid.sum() == 2
    f = hm.features()
    assert f.shape == (5, 80, 80) and f[3, r, c] == pytest.approx(0.7) and f[4].sum() == 2


@pytest.mark.parametrize("eye", [np.array([0.09, 0.02, 1.0]), np.array([0.0, -0.55, 0.6])],
                         ids=["top-down", "oblique"])
def test_box_of_known_height_lands_on_its_cells(eye):
    T = _look_at(eye, np.array([0.09, 0.02, 0.0]))
    rgb, depth, labels = _render(T)
    cfg = HeightmapConfig()
    hm = heightmap_from_rgbd(rgb, depth, FX, FY, CX, CY, T, cfg, labels=labels)
    box = _box_cells(cfg)
    assert box.sum() >= 20
    assert np.all(hm.valid[box])
    np.testing.assert_allclose(hm.height[box], BOX_H, atol=0.004)
    assert np.all(hm.labels[box] == 1)
    assert np.all(hm.color[box] == [200, 20, 20])
    # away from the box (2 cm margin) every valid cell is table: height ~0 (splat rounding < 2 mm), label 0
    rows, cols = np.indices(cfg.shape)
    xy = cfg.cell_to_xy(np.stack([rows, cols], -1))
    far = ~(np.all(xy >= BOX_LO - 0.02, -1) & np.all(xy <= BOX_HI + 0.02, -1)) & hm.valid
    assert far.sum() > 500
    assert np.abs(hm.height[far]).max() < 0.002 and np.all(hm.labels[far] == 0)


def test_backprojection_inverts_projection():
    T = _look_at(np.array([0.1, -0.4, 0.5]), np.zeros(3))
    depth = np.full((H, W), 0.7)
    depth[0, 0] = 0.0
    pts, idx = backproject_depth(depth, FX, FY, CX, CY, T)
    assert len(pts) == H * W - 1 and idx[0] == 1
    inv = np.linalg.inv(T)
    pc = pts @ inv[:3, :3].T + inv[:3, 3]
    np.testing.assert_allclose(pc[:, 2], 0.7)
    np.testing.assert_allclose(FX * pc[:, 0] / pc[:, 2] + CX, idx % W, atol=1e-9)
    with pytest.raises(InputError, match="4x4"):
        backproject_depth(depth, FX, FY, CX, CY, np.eye(3))
    with pytest.raises(InputError, match="rgb must be"):
        heightmap_from_rgbd(np.zeros((2, 2, 3), np.uint8), depth, FX, FY, CX, CY, T)
