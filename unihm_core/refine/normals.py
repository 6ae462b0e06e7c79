"""Outward surface normals of an object point cloud (the n_i of Eq. 11).

Two sources, in order of preference:

* **From the mesh** when the object's mesh is known (synthetic data, primitive fits):
  :func:`sample_mesh_surface` samples points with the normals of the faces they lie on, and
  :func:`mesh_normals_at` looks up the face normal of the closest face for given points.
  A watertight trimesh has outward face normals, so these are exact.
* **Estimated from the cloud** otherwise (:func:`estimate_normals`, open3d): a PCA normal
  over the ``knn`` nearest neighbours, then oriented outwards by one of these rules:

  - ``"centroid"`` (default): flip each normal so that it points away from the cloud's
    centroid, ``n . (p - c) >= 0``. Exact for convex and star-shaped objects (boxes, cans,
    bottles, fruit), wrong inside concavities (the inside of a bowl).
  - ``"tangent_plane"``: open3d's consistent propagation over a k-NN graph (Hoppe et al.),
    then one global flip so that the majority points away from the centroid. Handles
    concave shapes when the cloud is dense and clean; can fail on thin or noisy parts.
  - a 3-vector ``camera`` position (object frame): each normal points towards the camera, the
    right rule for a single-view RGB-D cloud, where only camera-facing surface is seen.

open3d is imported lazily (only :func:`estimate_normals` needs it).
"""

from __future__ import annotations

import numpy as np

from unihm_core.errors import InputError


def _points(points: np.ndarray, name: str = "points") -> np.ndarray:
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) == 0:
        raise InputError(f"{name}: expected an (N, 3) array with N >= 1, got shape {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise InputError(f"{name}: contains NaN or inf; remove invalid points (e.g. missing depth) first.")
    return p


def sample_mesh_surface(mesh, n: int, seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniformly on a trimesh surface and their (outward) face normals.

    Returns:
        points ``(n, 3)`` and unit normals ``(n, 3)`` in the mesh frame.
    """
    import trimesh  # noqa: PLC0415

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if n < 1:
        raise InputError(f"sample_mesh_surface: n={n} must be >= 1.")
    pts, face = trimesh.sample.sample_surface(mesh, int(n), seed=int(rng.integers(2**31)))
    return np.asarray(pts, float), np.asarray(mesh.face_normals[face], float)


def mesh_normals_at(mesh, points: np.ndarray) -> np.ndarray:
    """``(N, 3)`` outward normals of the faces of ``mesh`` closest to ``points`` ``(N, 3)``."""
    import trimesh  # noqa: PLC0415

    p = _points(points)
    _, _, face = trimesh.proximity.closest_point(mesh, p)
    return np.asarray(mesh.face_normals[face], float)


def orient_outward(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Flip each normal so that it points away from the centroid of ``points``."""
    p = _points(points)
    n = np.array(normals, dtype=float)
    flip = np.einsum("ij,ij->i", n, p - p.mean(0)) < 0
    n[flip] *= -1.0
    return n


def estimate_normals(points: np.ndarray, knn: int = 20,
                     orient: str | np.ndarray = "centroid") -> np.ndarray:
    """Unit normals ``(N, 3)`` estimated from a point cloud ``(N, 3)`` [m] with open3d.

    Args:
        points: the cloud, object frame.
        knn: neighbours used for each PCA normal (and for the propagation graph).
        orient: ``"centroid"``, ``"tangent_plane"`` or a camera position ``(3,)`` [m]
            (see the module docstring).
    """
    import open3d as o3d  # noqa: PLC0415

    p = _points(points)
    if len(p) < 3:
        raise InputError(f"estimate_normals: need at least 3 points, got {len(p)}.")
    knn = int(max(3, min(knn, len(p))))
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=knn))
    if isinstance(orient, str):
        if orient == "centroid":
            return orient_outward(p, np.asarray(pcd.normals))
        if orient == "tangent_plane":
            try:
                pcd.orient_normals_consistent_tangent_plane(knn)
            except RuntimeError as exc:  # open3d's Qhull step fails on degenerate (e.g. exactly spherical) clouds
                raise InputError(f"estimate_normals: consistent tangent-plane orientation failed ({str(exc)[:80]}); "
                                 "use orient='centroid' or a camera position.") from exc
            n = np.asarray(pcd.normals).copy()
            if np.mean(np.einsum("ij,ij->i", n, p - p.mean(0)) < 0) > 0.5:
                n *= -1.0
            return n
        raise InputError(f"estimate_normals: orient={orient!r}; use 'centroid', 'tangent_plane' "
                         "or a camera position (3,).")
    cam = np.asarray(orient, dtype=float)
    if cam.shape != (3,) or not np.all(np.isfinite(cam)):
        raise InputError(f"estimate_normals: camera position must be a finite (3,) array, got {orient!r}.")
    pcd.orient_normals_towards_camera_location(cam)
    return np.asarray(pcd.normals).copy()
