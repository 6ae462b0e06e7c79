"""Table plane (seeded RANSAC) and the camera-to-table transform.

The table is taken to be the dominant plane of the frame *in pixels*: open3d's
``segment_plane`` (RANSAC, seeded through ``open3d.utility.random.seed``) on an every-k-th
point subsample of the back-projected pixels (not a voxel grid: far surfaces such as a
floor behind the table cover more voxels than the nearby table, but fewer pixels), then a least-squares refit (SVD) on all full-resolution points within the inlier
distance, twice. The normal is oriented towards the camera (the camera is above the
table), so signed distance to the plane = height above the table.

Table (world) frame when no extrinsics are given (DESIGN.md: world = table frame):

* z: the table normal, pointing up (towards the camera side);
* origin: where the camera's optical axis meets the table; if the axis does not hit the
  table in front of the camera (camera looking level or up), the projection of the table
  inliers' centroid, with a warning;
* x: the camera's x axis (image right) projected onto the table, so image-left is -x;
* y = z x x: roughly "away from the viewer" along the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError


@dataclass(frozen=True)
class TablePlane:
    """The table plane in the camera frame: ``normal . p + offset = 0``.

    Attributes:
        normal: (3,) unit normal in the camera frame, pointing to the camera's side.
        offset: plane offset [m]; equals the camera's height above the table.
        inlier_fraction: fraction of valid points within ``distance_threshold``.
        rmse: RMS distance of the inliers to the plane [m].
        inlier_mask: (N,) bool over the camera cloud: points on the table.
    """

    normal: np.ndarray
    offset: float
    inlier_fraction: float
    rmse: float
    inlier_mask: np.ndarray

    def height(self, points_camera: np.ndarray) -> np.ndarray:
        """(N,) signed height [m] of (N, 3) camera-frame points above the table."""
        return points_camera @ self.normal + self.offset

    def in_frame(self, camera_to_world: np.ndarray) -> tuple[np.ndarray, float]:
        """The plane ``(normal, offset)`` expressed in another frame (given camera-to-frame)."""
        R, t = camera_to_world[:3, :3], camera_to_world[:3, 3]
        n = R @ self.normal
        return n, float(self.offset - n @ t)


def _refit(points: np.ndarray) -> tuple[np.ndarray, float]:
    c = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - c, full_matrices=False)
    n = vt[2]
    return n, float(-n @ c)


def fit_table_plane(
    points_camera: np.ndarray,
    *,
    seed: int = 0,
    distance_threshold: float = 0.01,
    max_ransac_points: int = 30000,
    num_iterations: int = 1000,
    min_inlier_fraction: float = 0.05,
) -> TablePlane:
    """Estimate the table plane from camera-frame points.

    Args:
        points_camera: (N, 3) valid points [m].
        seed: RANSAC seed (open3d's global random engine is seeded with it).
        distance_threshold: inlier distance [m].
        max_ransac_points: RANSAC runs on at most about this many points (every k-th).
        num_iterations: RANSAC iterations.
        min_inlier_fraction: fewer table points than this fraction is an error.

    Raises:
        InputError: no plane supports at least ``min_inlier_fraction`` of the points.
    """
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points_camera))
    k = max(1, int(np.ceil(len(points_camera) / max_ransac_points)))
    down = pcd.uniform_down_sample(k) if k > 1 else pcd
    if len(down.points) < 3:
        raise InputError("too few depth points to find a table plane.")
    o3d.utility.random.seed(int(seed))
    model, _ = down.segment_plane(distance_threshold=distance_threshold, ransac_n=3, num_iterations=num_iterations)
    n = np.asarray(model[:3], dtype=np.float64)
    d = float(model[3])
    norm = np.linalg.norm(n)
    n, d = n / norm, d / norm
    for _ in range(2):
        inl = np.abs(points_camera @ n + d) < distance_threshold
        if inl.sum() < 3:
            break
        n, d = _refit(points_camera[inl])
    if d < 0:  # orient towards the camera (origin of the camera frame)
        n, d = -n, -d
    dist = points_camera @ n + d
    inl = np.abs(dist) < distance_threshold
    frac = float(inl.mean())
    if frac < min_inlier_fraction:
        raise InputError(
            f"no table plane found: the best plane holds only {100 * frac:.1f}% of the depth points; "
            "the camera must see a flat table surface."
        )
    rmse = float(np.sqrt(np.mean(dist[inl] ** 2)))
    return TablePlane(normal=n, offset=d, inlier_fraction=frac, rmse=rmse, inlier_mask=inl)


def camera_to_table(plane: TablePlane, points_camera: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """(4, 4) camera-to-table transform (frame defined in the module docstring).

    Args:
        plane: table plane in the camera frame.
        points_camera: the (N, 3) cloud, used only for the centroid fallback origin.

    Returns:
        ``(T, warnings)``.
    """
    notes: list[str] = []
    z = plane.normal
    if z[2] < -0.05:  # optical axis (0, 0, 1) hits the plane in front of the camera
        origin = np.array([0.0, 0.0, -plane.offset / z[2]])
    else:
        if points_camera is None:
            raise InputError("the camera does not look down at the table; give extrinsics.")
        c = points_camera[plane.inlier_mask].mean(axis=0)
        origin = c - (c @ z + plane.offset) * z
        notes.append("the optical axis does not meet the table; the table origin is the table points' centroid.")
    x = np.array([1.0, 0.0, 0.0]) - z[0] * z
    if np.linalg.norm(x) < 1e-3:  # camera x axis perpendicular to the table: use image down
        x = np.array([0.0, 1.0, 0.0]) - z[1] * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R_cw = np.stack([x, y, z], axis=1)  # world axes in camera coordinates
    T = np.eye(4)
    T[:3, :3] = R_cw.T
    T[:3, 3] = -R_cw.T @ origin
    return T, notes


def transform_points(T: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a (4, 4) rigid transform to (N, 3) points."""
    return points @ T[:3, :3].T + T[:3, 3]


def transform_vectors(T: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rotate (N, 3) direction vectors by the rotation of a (4, 4) transform."""
    return vectors @ T[:3, :3].T
