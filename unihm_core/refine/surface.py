"""The object surface the refinement touches: points, outward normals and a KD-tree.

P_obj of the paper, in the object frame. The KD-tree (scipy ``cKDTree``) is built once per
object and reused for every nearest-neighbour query of a trajectory (Algorithm 1, line 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
        tree: scipy ``cKDTree`` over ``points``.
        point_normals: ``(N, 6)`` points and normals side by side (one gather per query).
        planes: ``(N, 4)`` the tangent plane of every point, ``[n_j, n_j . p_j]``, so that the
            point-to-plane distance of ``x`` to point ``j`` (Eq. 11) is
            ``planes[j, :3] . x - planes[j, 3]`` (one gather per query).
    """

    points: np.ndarray
    normals: np.ndarray
    normals_source: str = "given"
    tree: object = field(default=None, repr=False)
    point_normals: np.ndarray = field(init=False, repr=False)
    planes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = _points(self.points, "object points")
        n = np.asarray(self.normals, dtype=float)
        if n.shape != p.shape:
            raise InputError(f"object normals: expected shape {p.shape} (one per point), got {n.shape}.")
        if not np.all(np.isfinite(n)):
            raise InputError("object normals: contain NaN or inf; pass normals=None to estimate them.")
        norm = np.linalg.norm(n, axis=1)
        if np.any(norm < 1e-9):
            raise InputError(f"object normals: {int(np.sum(norm < 1e-9))} normals have zero length; "
                             "pass normals=None to estimate them from the cloud.")
        from scipy.spatial import cKDTree  # noqa: PLC0415

        object.__setattr__(self, "points", np.ascontiguousarray(p))
        object.__setattr__(self, "normals", np.ascontiguousarray(n / norm[:, None]))
        if self.tree is None:
            object.__setattr__(self, "tree", cKDTree(self.points))
        object.__setattr__(self, "point_normals", np.hstack([self.points, self.normals]))
        offsets = np.einsum("ij,ij->i", self.normals, self.points)
        object.__setattr__(self, "planes", np.hstack([self.normals, offsets[:, None]]))

    @classmethod
    def build(cls, points: np.ndarray, normals: np.ndarray | None = None, *, mesh=None,
              knn: int = 20, orient: str | np.ndarray = "centroid") -> ObjectSurface:
        """Surface from points with normals given, looked up on ``mesh``, or estimated.

        Given normals win; else the mesh's face normals at the points; else open3d
        estimation oriented by ``orient`` (see :mod:`unihm_core.refine.normals`).
        """
        p = _points(points, "object points")
        if normals is not None:
            return cls(p, normals, "given")
        if mesh is not None:
            return cls(p, mesh_normals_at(mesh, p), "mesh")
        return cls(p, estimate_normals(p, knn=knn, orient=orient), "estimated")

    @cached_property
    def kdtree(self):
        """The compiled k-d tree of :mod:`unihm_core.refine.compiled` over ``points`` (built on
        first use; the compiled refinement queries it)."""
        from unihm_core.refine.compiled import build_kdtree  # noqa: PLC0415

        return build_kdtree(self.points)

    def nearest(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest points and their normals for queries ``x`` ``(F, 3)`` (object frame)."""
        _, idx = self.tree.query(x)
        return self.points[idx], self.normals[idx]

    def signed_distance(self, x: np.ndarray) -> np.ndarray:
        """Point-to-plane distance (Eq. 11) of ``x`` ``(..., 3)`` (object frame) to its nearest
        neighbour's tangent plane [m]: positive outside, negative inside."""
        x = np.asarray(x, float)
        _, idx = self.tree.query(x)
        return np.einsum("...j,...j->...", self.normals[idx], x - self.points[idx])
