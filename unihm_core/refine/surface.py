"""The object surface the refinement touches: points, outward normals and a KD-tree.

P_obj of the paper, in the object frame. The k-d tree is built once per surface, on first
use, and reused for every nearest-neighbour query of a trajectory (Algorithm 1, line 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from unihm_core.errors import InputError
from unihm_core.refine.normals import _points, estimate_normals, mesh_normals_at


@dataclass(frozen=True, eq=False)
class ObjectSurface:
    """Object points ``(N, 3)`` [m] with unit outward normals ``(N, 3)``, object frame.

    Attributes:
        points, normals: the cloud and its normals.
        normals_source: ``"given"``, ``"mesh"`` or ``"estimated"``.
        planes: ``(N, 4)`` the tangent plane of every point, ``[n_j, n_j . p_j]``, so that the
            point-to-plane distance of ``x`` to point ``j`` (Eq. 11) is
            ``planes[j, :3] . x - planes[j, 3]`` (one gather per query); computed on first use,
            like the trees below.
        kdtree: the compiled k-d tree (:mod:`unihm_core.refine.kdtree`) that the compiled
            refinement, the contact schedule and :meth:`query` use, built on first use (so the
            Python reference loop also compiles numba code once, for the schedule). Among
            exactly equidistant points it answers the one listed first; scipy's tree may answer
            another, which matters only for duplicate points with different normals.
        tree: a scipy ``cKDTree`` over ``points`` for the Python reference loop, built on
            first use.
    """

    points: np.ndarray
    normals: np.ndarray
    normals_source: str = "given"

    def __post_init__(self) -> None:
        p = _points(self.points, "object points")
        n = np.asarray(self.normals, dtype=float)
        if n.shape != p.shape:
            raise InputError(f"object normals: expected shape {p.shape} (one per point), got {n.shape}.")
        from unihm_core.refine.arrays import _plain  # noqa: PLC0415
        from unihm_core.refine.kdtree import unit_normals  # noqa: PLC0415 (one compiled pass)

        unit, n_bad, n_zero = unit_normals(_plain(n))
        if n_bad:
            raise InputError("object normals: contain NaN or inf; pass normals=None to estimate them.")
        if n_zero:
            raise InputError(f"object normals: {n_zero} normals have zero length; "
                             "pass normals=None to estimate them from the cloud.")
        object.__setattr__(self, "points", _plain(p))  # C-contiguous, writable: the compiled helpers' one type
        object.__setattr__(self, "normals", unit)

    @cached_property
    def planes(self) -> np.ndarray:
        from unihm_core.refine.kdtree import tangent_planes  # noqa: PLC0415

        return tangent_planes(self.points, self.normals, np.arange(len(self.points)))

    @cached_property
    def kdtree(self):
        from unihm_core.refine.kdtree import build_kdtree  # noqa: PLC0415

        return build_kdtree(self.points)

    @cached_property
    def leaf_planes(self) -> np.ndarray:
        """``planes`` in the compiled k-d tree's leaf order (what the compiled loop reads)."""
        from unihm_core.refine.kdtree import tangent_planes  # noqa: PLC0415

        return tangent_planes(self.points, self.normals, self.kdtree.index)

    @cached_property
    def tree(self):
        from scipy.spatial import cKDTree  # noqa: PLC0415

        return cKDTree(self.points)

    def query(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(distances [m], indices)`` of the nearest points to ``x`` ``(..., 3)`` (object frame)."""
        from unihm_core.refine.kdtree import kdtree_query  # noqa: PLC0415

        return kdtree_query(self.kdtree, x)

    @classmethod
    def build(cls, points: np.ndarray, normals: np.ndarray | None = None, *, mesh=None,
              knn: int = 20, orient: str | np.ndarray = "centroid") -> ObjectSurface:
        """Surface from points with normals given, looked up on ``mesh``, or estimated.

        Given normals win; else the mesh's face normals at the points; else open3d
        estimation oriented by ``orient`` (see :mod:`unihm_core.refine.normals`).
        """
        if normals is not None:  # the points are checked once, in __post_init__
            return cls(points, normals, "given")
        p = _points(points, "object points")
        if mesh is not None:
            return cls(p, mesh_normals_at(mesh, p), "mesh")
        return cls(p, estimate_normals(p, knn=knn, orient=orient), "estimated")

    def nearest(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest points and their normals for queries ``x`` ``(F, 3)`` (object frame)."""
        _, idx = self.query(x)
        return self.points[idx], self.normals[idx]

    def signed_distance(self, x: np.ndarray) -> np.ndarray:
        """Point-to-plane distance (Eq. 11) of ``x`` ``(..., 3)`` (object frame) to its nearest
        neighbour's tangent plane [m]: positive outside, negative inside."""
        x = np.asarray(x, float)
        _, idx = self.query(x)
        return np.einsum("...j,...j->...", self.normals[idx], x - self.points[idx])
