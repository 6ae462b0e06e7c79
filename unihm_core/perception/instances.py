"""Object instances above the table: clustering and per-object attributes.

Segmentation
------------
Candidate points are those higher than ``margin`` above the table plane and lower than
``max_height``, not on a depth discontinuity (flying pixels between a front object and
the background would glue objects together), and standing over the table: their
projection lies within the convex hull of the table points (+ ``hull_margin``).

Clustering is connected components on a sparse voxel grid (``voxel`` edge, 26-neighbour
connectivity): the points are downsampled to occupied voxels, neighbouring occupied
voxels are joined (a hashed neighbour lookup over sorted voxel keys), and every point
inherits its voxel's component. Objects closer than about one voxel may merge; objects
more than two voxels apart never do. This is deterministic and linear in the number of
points (about 15-40 ms on a 300k-point 640x480 frame). Components with fewer than
``min_points`` points, smaller than ``min_size``, or thinner than 2 mm (std of the
footprint across its narrow direction: flying-pixel slivers along depth edges) are
dropped as noise.

Attributes
----------
* normals: open3d ``estimate_normals`` (hybrid radius/k-NN search), oriented towards the
  camera. Every observed point lies on a surface that faces the camera, so this is the
  outward normal also on concave parts (the inside of a bowl), where orienting away from
  the centroid would flip them.
* colour: the colour name held by most points (:mod:`unihm_core.perception.colors`).
* shape, size, centre, hidden-side completion: :mod:`unihm_core.perception.primitives`.
* size word from the largest extent: small (< 7 cm), medium (< 15 cm), large.
* categories: the learned classifier's probabilities over the catalogue types
  (:func:`instance_categories`), the hand-set prior when there is no checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unihm_core.perception.categories import category_probabilities, observed_extent, top_categories
from unihm_core.perception.colors import dominant_color
from unihm_core.perception.primitives import PrimitiveFit, complete_hidden, fit_primitive
from unihm_core.perception.table import transform_points, transform_vectors

#: Size words by the largest extent [m]: (upper bound, word).
SIZE_WORDS: tuple[tuple[float, str], ...] = ((0.07, "small"), (0.15, "medium"), (np.inf, "large"))


def size_word(extent: np.ndarray) -> str:
    """"small" / "medium" / "large" from the (3,) extent [m] (largest side)."""
    m = float(np.max(extent))
    for bound, word in SIZE_WORDS:
        if m < bound:
            return word
    return SIZE_WORDS[-1][1]


@dataclass(frozen=True)
class SegmentationConfig:
    """Parameters of the object segmentation (module docstring).

    Attributes:
        margin: points lower than this above the table are table [m].
        max_height: points higher than this above the table are ignored [m].
        voxel: clustering voxel edge [m].
        min_points: smallest object, in observed points.
        min_size: smallest object, largest extent [m].
        max_size: clusters with a larger footprint are not objects on the table [m].
        hull_margin: how far outside the table's visible hull an object may stand [m].
        drop_depth_edges: drop flying pixels at depth discontinuities.
        normal_radius: neighbourhood radius for normals [m].
        completion_spacing: sample spacing of the completed surface [m].
        classify: ask the learned category classifier (:mod:`.classifier`) for the
            instance's categories; False = the hand-set prior only (the classifier's own
            training data is made this way).
    """

    margin: float = 0.01
    max_height: float = 0.5
    voxel: float = 0.006
    min_points: int = 300
    min_size: float = 0.02
    max_size: float = 0.6
    hull_margin: float = 0.03
    drop_depth_edges: bool = True
    normal_radius: float = 0.015
    completion_spacing: float = 0.005
    classify: bool = True

    def __post_init__(self) -> None:
        from unihm_core.errors import ConfigError

        for name in ("margin", "max_height", "voxel", "min_size", "max_size", "normal_radius", "completion_spacing"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise ConfigError(f"SegmentationConfig.{name}={v!r} must be a positive number [m].")
        if self.max_height <= self.margin:
            raise ConfigError("SegmentationConfig.max_height must exceed margin.")
        if self.min_points < 1:
            raise ConfigError("SegmentationConfig.min_points must be >= 1.")
        if self.hull_margin < 0:
            raise ConfigError("SegmentationConfig.hull_margin must be >= 0 [m].")


@dataclass(frozen=True)
class ObjectInstance:
    """One object found on the table.

    Frames: "world" is the scene's world frame (the table frame unless extrinsics were
    given); "table" is always the estimated table frame (z up, table at z = 0).

    Attributes:
        index: position in ``Scene.instances`` (sorted left to right in the image).
        points: (N, 3) observed points, world frame [m].
        normals: (N, 3) unit outward normals of ``points``, world frame.
        colors: (N, 3) point colours in [0, 1].
        pixel_index: (N,) row-major pixel index ``v * W + u`` of each observed point.
        mask: (H, W) bool image mask (pixels of the observed points).
        completed_points: (M, 3) hidden-side surface samples of the fitted primitive,
            world frame [m]; empty when the shape is "other".
        completed_normals: (M, 3) outward normals of ``completed_points``.
        color: dominant colour name.
        color_fractions: fraction of points per colour name.
        shape: "box", "cylinder", "sphere" or "other".
        primitive: the fitted primitive, table frame.
        extent: (3,) (length, width, height) [m].
        size: "small", "medium" or "large".
        centroid_camera: (3,) object centre in the camera frame [m].
        centroid_world: (3,) object centre in the world frame [m].
        centroid_table: (3,) object centre in the table frame [m].
        bbox: (u_min, v_min, u_max, v_max) image bounding box [px].
        description: e.g. "a small red cylinder".
        categories: top-k (catalogue type, probability), most likely first, from the
            learned classifier (:mod:`unihm_core.perception.classifier`), or from the
            geometric and colour prior of :mod:`unihm_core.perception.categories` when its
            checkpoint is missing; ``extras["category_source"]`` says which (and why), and
            ``extras["category_probs"]`` holds every type's probability.
    """

    index: int
    points: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    pixel_index: np.ndarray
    mask: np.ndarray
    completed_points: np.ndarray
    completed_normals: np.ndarray
    color: str
    color_fractions: dict[str, float]
    shape: str
    primitive: PrimitiveFit
    extent: np.ndarray
    size: str
    centroid_camera: np.ndarray
    centroid_world: np.ndarray
    centroid_table: np.ndarray
    bbox: tuple[int, int, int, int]
    description: str
    extras: dict[str, Any] = field(default_factory=dict)
    categories: tuple[tuple[str, float], ...] = ()

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def label(self) -> str:
        """Short label, e.g. "red cylinder"."""
        return f"{self.color} {self.shape if self.shape != 'other' else 'object'}"

    @property
    def all_points(self) -> np.ndarray:
        """(N + M, 3) observed and completed points, world frame [m]."""
        return np.vstack([self.points, self.completed_points])

    @property
    def all_normals(self) -> np.ndarray:
        """(N + M, 3) normals of :attr:`all_points`."""
        return np.vstack([self.normals, self.completed_normals])

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (the fields report.json lists per instance)."""
        return {
            "index": self.index,
            "label": self.label,
            "description": self.description,
            "color": self.color,
            "shape": self.shape,
            "size": self.size,
            "extent_m": [round(float(x), 4) for x in self.extent],
            "centroid_camera": [round(float(x), 4) for x in self.centroid_camera],
            "centroid_world": [round(float(x), 4) for x in self.centroid_world],
            "num_points": self.num_points,
            "num_completed_points": int(self.completed_points.shape[0]),
            "shape_residual_mm": round(1000 * float(self.primitive.residual), 2),
            "bbox": list(self.bbox),
            "categories": [[name, p] for name, p in self.categories],
        }


def describe(size: str, color: str, shape: str) -> str:
    """Text description used for grounding, e.g. "a small red cylinder"."""
    noun = shape if shape != "other" else "object"
    article = "an" if size[0] in "aeiou" else "a"
    return f"{article} {size} {color} {noun}"


# ---------------------------------------------------------------------------------------
# segmentation
# ---------------------------------------------------------------------------------------
_NEIGHBOURS = np.array(
    [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1) if (dx, dy, dz) > (0, 0, 0)],
    dtype=np.int64,
)


def voxel_components(points: np.ndarray, voxel: float) -> np.ndarray:
    """(N,) connected-component label of each of (N, 3) points on a 26-connected voxel grid."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.floor(points / voxel).astype(np.int64)
    keys -= keys.min(axis=0) - 1  # >= 1, so -1 offsets never wrap
    dims = keys.max(axis=0) + 2
    lin = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    uniq, inv = np.unique(lin, return_inverse=True)
    rows, cols = [], []
    for off in _NEIGHBOURS:
        o = (off[0] * dims[1] + off[1]) * dims[2] + off[2]
        nb = uniq + o
        j = np.searchsorted(uniq, nb)
        j = np.minimum(j, len(uniq) - 1)
        hit = uniq[j] == nb
        rows.append(np.flatnonzero(hit))
        cols.append(j[hit])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    g = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(uniq), len(uniq)))
    _, comp = connected_components(g, directed=False)
    return comp[inv].astype(np.int64)


def _inside_hull(xy: np.ndarray, hull_xy: np.ndarray, margin: float) -> np.ndarray:
    from scipy.spatial import ConvexHull, QhullError

    try:
        eq = ConvexHull(hull_xy).equations
    except (QhullError, ValueError):
        return np.ones(len(xy), dtype=bool)
    return (xy @ eq[:, :2].T + eq[:, 2]).max(axis=1) <= margin


def segment_objects(
    points_table: np.ndarray,
    table_inliers: np.ndarray,
    pixel_flags: np.ndarray,
    cfg: SegmentationConfig,
) -> tuple[list[np.ndarray], list[str]]:
    """Split the above-table points into objects.

    Args:
        points_table: (N, 3) all valid points, table frame [m].
        table_inliers: (N,) bool, points on the table plane.
        pixel_flags: (N,) bool, points on a depth discontinuity (dropped if configured).
        cfg: segmentation parameters.

    Returns:
        ``(clusters, warnings)``: a list of (K_i,) index arrays into ``points_table``
        (unordered), and notes about dropped clusters.
    """
    notes: list[str] = []
    z = points_table[:, 2]
    cand = (z > cfg.margin) & (z < cfg.max_height)
    if cfg.drop_depth_edges:
        cand &= ~pixel_flags
    tab = np.flatnonzero(table_inliers)
    if len(tab) >= 3:
        step = max(1, len(tab) // 5000)
        cand_idx = np.flatnonzero(cand)
        inside = _inside_hull(points_table[cand_idx, :2], points_table[tab[::step], :2], cfg.hull_margin)
        cand[cand_idx[~inside]] = False
    idx = np.flatnonzero(cand)
    if len(idx) == 0:
        return [], notes
    labels = voxel_components(points_table[idx], cfg.voxel)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    clusters = []
    n_small = 0
    for group in np.split(order, bounds):
        if len(group) < cfg.min_points:
            n_small += 1
            continue
        p = points_table[idx[group]]
        ext = p.max(axis=0) - p.min(axis=0)
        if max(ext) < cfg.min_size:
            n_small += 1
            continue
        xy = p[:, :2] - p[:, :2].mean(axis=0)
        if np.sqrt(max(np.linalg.eigvalsh(xy.T @ xy / len(xy))[0], 0.0)) < 0.002:
            n_small += 1  # a vertical sliver: flying pixels along a depth edge, not a solid object
            continue
        if max(ext[0], ext[1]) > cfg.max_size:
            notes.append(
                f"ignored a {ext[0]:.2f} x {ext[1]:.2f} m region above the table: too large for an "
                "object (background or clutter?)."
            )
            continue
        clusters.append(idx[group])
    return clusters, notes


# ---------------------------------------------------------------------------------------
# attributes
# ---------------------------------------------------------------------------------------
def estimate_normals(points_camera: np.ndarray, radius: float) -> np.ndarray:
    """(N, 3) unit normals of camera-frame points, oriented towards the camera (origin)."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points_camera))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=radius, max_nn=30))
    n = np.asarray(pcd.normals, dtype=np.float64)
    flip = (n * points_camera).sum(axis=1) > 0  # normal should point back to the camera
    n[flip] *= -1
    return n


#: Exponent of the hand-set prior when it is combined with the classifier (0 = classifier only).
PRIOR_WEIGHT = 0.0


def instance_categories(points_table: np.ndarray, colors: np.ndarray, camera_to_table: np.ndarray,
                        extent: np.ndarray, shape: str, fractions: dict[str, float],
                        classify: bool = True) -> tuple[np.ndarray, str]:
    """(T,) category probabilities of one instance and where they come from.

    The learned classifier (:func:`.classifier.load_default_classifier`) when its
    checkpoint is there, times the hand-set prior to the power :data:`PRIOR_WEIGHT`;
    otherwise the prior alone, with the reason in the source string.
    """
    from unihm_core.perception.classifier import MIN_POINTS, classifier_note, combine, load_default_classifier

    prior = category_probabilities(extent, shape, fractions, observed_extent(points_table))
    if not classify:
        return prior, "prior (classifier not asked)"
    clf = load_default_classifier()
    if clf is None:
        return prior, f"prior only: {classifier_note()}"
    if len(points_table) < MIN_POINTS:
        return prior, f"prior only: fewer than {MIN_POINTS} points"
    cam = np.asarray(camera_to_table, dtype=np.float64)[:3, 3]
    p = clf.probabilities(points_table, colors, cam)
    return combine(p, prior, PRIOR_WEIGHT), "classifier"


def build_instance(
    index: int,
    idx: np.ndarray,
    *,
    points_camera: np.ndarray,
    colors: np.ndarray,
    pixel_index: np.ndarray,
    image_shape: tuple[int, int],
    camera_to_table: np.ndarray,
    camera_to_world: np.ndarray,
    cfg: SegmentationConfig,
    timings: dict[str, float] | None = None,
) -> ObjectInstance:
    """Compute every attribute of one cluster (indices ``idx`` into the camera cloud)."""
    import time

    t0 = time.perf_counter()
    pc = points_camera[idx]
    nc = estimate_normals(pc, cfg.normal_radius)
    pt = transform_points(camera_to_table, pc)
    nt = transform_vectors(camera_to_table, nc)
    col = colors[idx]
    color, fractions = dominant_color(col)
    step = max(1, len(pt) // 4000)  # fitting on <= ~4000 points keeps it fast on big objects
    fit = fit_primitive(pt[::step], nt[::step])
    t1 = time.perf_counter()
    comp_t, comp_n = complete_hidden(fit, pt, spacing=cfg.completion_spacing)
    t2 = time.perf_counter()
    if timings is not None:
        timings["attributes"] = timings.get("attributes", 0.0) + (t1 - t0)
        timings["completion"] = timings.get("completion", 0.0) + (t2 - t1)

    table_to_camera = np.linalg.inv(camera_to_table)
    table_to_world = camera_to_world @ table_to_camera
    centre_t = fit.center if fit.shape != "other" else pt.mean(axis=0)
    centre_c = transform_points(table_to_camera, centre_t[None])[0]
    centre_w = transform_points(table_to_world, centre_t[None])[0]
    h, w = image_shape
    pix = pixel_index[idx]
    mask = np.zeros(h * w, dtype=bool)
    mask[pix] = True
    mask = mask.reshape(h, w)
    v, u = np.divmod(pix, w)
    extent = fit.extent
    sw = size_word(extent)
    probs, source = instance_categories(pt, col, camera_to_table, extent, fit.shape, fractions, cfg.classify)
    return ObjectInstance(
        index=index,
        points=transform_points(camera_to_world, pc),
        normals=transform_vectors(camera_to_world, nc),
        colors=col,
        pixel_index=pix,
        mask=mask,
        completed_points=transform_points(table_to_world, comp_t),
        completed_normals=transform_vectors(table_to_world, comp_n),
        color=color,
        color_fractions=fractions,
        shape=fit.shape,
        primitive=fit,
        extent=extent,
        size=sw,
        centroid_camera=centre_c,
        centroid_world=centre_w,
        centroid_table=centre_t,
        bbox=(int(u.min()), int(v.min()), int(u.max()), int(v.max())),
        description=describe(sw, color, fit.shape),
        categories=top_categories(probs),
        extras={"category_probs": probs, "category_source": source},
    )
