"""A static k-d tree over an object cloud, compiled, with exact nearest-neighbour queries, and the
cloud's tangent planes.

A static k-d tree (split on the widest extent near the median, 9 to 32 points
per leaf for N > 32, a cluster of identical points as one leaf whatever its size; points stored
in leaf order, by axis) with an exact nearest-neighbour query (scipy ``cKDTree``'s answer;
among exactly equidistant points the first in the caller's order, where scipy may pick
another), pruned with the distance to
each node's bounding box and warm-started from the previous nearest neighbour. The boxes
matter for object clouds: the points lie on a surface, so a node's box is much smaller than
its k-d cell (the space between the splits), and a query near the surface visits about a
third as many nodes (about 100 ns per query instead of 270 measured on the benchmark
scenes). Large leaves pay off too: a leaf's 32 contiguous coordinates are scanned with
vector instructions, cheap next to another level of branching.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from unihm_core.refine.arrays import _plain

LEAF_SIZE = 32
STACK = 256  # search stack: at most one pending child per level plus one; a split leaves each side at
# least a quarter, so the depth is at most log_{4/3}(N) (62 levels for N = 5e7)


class KDTree(NamedTuple):
    """Static k-d tree over ``N`` points (see the module docstring), ``M`` nodes. Node ``n`` is
    ``nodes[n] = [left child, right child, start, end]`` with the bounding box ``box[n]`` of
    its points; a leaf has ``left == -1`` and owns the points ``start:end``. Points are stored
    in leaf order; ``index`` maps leaf order to the caller's order. (Few, wide arrays: every array
    a compiled function binds costs a reference-count update per call.)"""

    points: np.ndarray  # (3, N) coordinates by axis, points in leaf order
    index: np.ndarray  # (N,) int64, leaf order -> caller's order
    nodes: np.ndarray  # (M, 4) int64: left child, right child, start, end
    box: np.ndarray  # (M, 6) bounding box of the node's points: lower x, y, z, upper x, y, z


@njit(cache=True, error_model="numpy")
def _med3(a, b, c):
    """The median of three values."""
    return max(min(a, b), min(max(a, b), c))


@njit(cache=True, error_model="numpy")
def _select(P, idx, s, e, k, d):
    """Reorder rows ``s:e`` of ``P`` (and ``idx`` alike) so that row ``k`` holds the point with the
    k-th smallest coordinate ``d``, smaller or equal ones before it and larger or equal ones
    after (quickselect, Hoare partition around a median of three)."""
    lo, hi = s, e - 1
    while hi > lo:
        pivot = _med3(P[lo, d], P[(lo + hi) // 2, d], P[hi, d])
        i, j = lo, hi
        while i <= j:
            while P[i, d] < pivot:
                i += 1
            while P[j, d] > pivot:
                j -= 1
            if i <= j:
                for c in range(3):
                    P[i, c], P[j, c] = P[j, c], P[i, c]
                idx[i], idx[j] = idx[j], idx[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@njit(cache=True, error_model="numpy")
def _split(P, idx, s, e, d):
    """Partition rows ``s:e`` of ``P`` (``idx`` alike) around the median of nine coordinates ``d``
    sampled evenly (Tukey's ninther) and return the split row ``m``: coordinates before it are
    smaller than the pivot, the others not. One pass, and a branch-free one: every row is swapped
    unconditionally and the comparison only moves the boundary, so unpredictable comparisons cost
    no mispredicted branches (2.5x faster than a quickselect to the exact median, measured). If
    either side gets under a quarter of the rows, the exact median split instead (:func:`_select`)."""
    n = e - s
    st = (n - 1) // 8
    pivot = _med3(_med3(P[s, d], P[s + st, d], P[s + 2 * st, d]),
                  _med3(P[s + 3 * st, d], P[s + 4 * st, d], P[s + 5 * st, d]),
                  _med3(P[s + 6 * st, d], P[s + 7 * st, d], P[e - 1, d]))
    m = s
    for i in range(s, e):
        less = P[i, d] < pivot
        for c in range(3):
            t = P[i, c]
            P[i, c] = P[m, c]
            P[m, c] = t
        j = idx[i]
        idx[i] = idx[m]
        idx[m] = j
        m += less
    if 4 * (m - s) < n or 4 * (e - m) < n:
        m = (s + e) // 2
        _select(P, idx, s, e, m, d)
    return m


@njit(cache=True, nogil=True, error_model="numpy")
def _kd_build(points, leaf_size):
    """Arrays of :class:`KDTree` (rows of a copy of ``points`` are reordered in place, so every
    leaf's points are contiguous)."""
    P = points.copy()
    N = P.shape[0]
    perm = np.arange(N)
    # a node of n > leaf_size points splits into parts of at least n / 4 > leaf_size / 4 points, so
    # there are at most 4 N / leaf_size leaves and twice that many nodes
    M = 8 * N // max(leaf_size, 1) + 8
    left, right = np.full(M, -1, np.int64), np.full(M, -1, np.int64)
    start, end = np.zeros(M, np.int64), np.zeros(M, np.int64)
    box = np.empty((M, 6))
    stack = np.empty(M, np.int64)
    n_nodes, top = 1, 1
    start[0], end[0], stack[0] = 0, N, 0
    while top > 0:
        top -= 1
        node = stack[top]
        s, e = start[node], end[node]
        lo0, lo1, lo2 = P[s, 0], P[s, 1], P[s, 2]
        hi0, hi1, hi2 = lo0, lo1, lo2
        for i in range(s + 1, e):
            lo0, hi0 = min(lo0, P[i, 0]), max(hi0, P[i, 0])
            lo1, hi1 = min(lo1, P[i, 1]), max(hi1, P[i, 1])
            lo2, hi2 = min(lo2, P[i, 2]), max(hi2, P[i, 2])
        box[node, 0], box[node, 1], box[node, 2] = lo0, lo1, lo2
        box[node, 3], box[node, 4], box[node, 5] = hi0, hi1, hi2
        e0, e1, e2 = hi0 - lo0, hi1 - lo1, hi2 - lo2
        if e - s <= leaf_size or max(e0, e1, e2) <= 0.0:  # a leaf (all points equal: one leaf)
            continue
        d = 0 if (e0 >= e1 and e0 >= e2) else (1 if e1 >= e2 else 2)  # split the widest extent
        if n_nodes + 2 > M:  # cannot happen (see M); numba does not check bounds, so say it loudly
            raise RuntimeError("k-d tree build: node array too small")
        mid = _split(P, perm, s, e, d)
        left[node], right[node] = n_nodes, n_nodes + 1
        start[n_nodes], end[n_nodes] = s, mid
        start[n_nodes + 1], end[n_nodes + 1] = mid, e
        stack[top], stack[top + 1] = n_nodes, n_nodes + 1
        top += 2
        n_nodes += 2
    nodes = np.empty((n_nodes, 4), np.int64)
    nodes[:, 0], nodes[:, 1], nodes[:, 2], nodes[:, 3] = left[:n_nodes], right[:n_nodes], start[:n_nodes], end[:n_nodes]
    return np.ascontiguousarray(P.T), perm, nodes, box[:n_nodes].copy()


def build_kdtree(points: np.ndarray) -> KDTree:
    """:class:`KDTree` over finite ``points`` ``(N, 3)`` (N >= 1)."""
    points = _plain(points)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise ValueError(f"k-d tree: expected (N, 3) points with N >= 1, got shape {points.shape}")
    return KDTree(*_kd_build(points, LEAF_SIZE))


@njit(cache=True, error_model="numpy", inline="always")
def _box_dist(box, n, x0, x1, x2):
    """Squared distance from ``(x0, x1, x2)`` to the bounding box of node ``n`` (0 inside)."""
    a = max(box[n, 0] - x0, 0.0, x0 - box[n, 3])
    b = max(box[n, 1] - x1, 0.0, x1 - box[n, 4])
    c = max(box[n, 2] - x2, 0.0, x2 - box[n, 5])
    return a * a + b * b + c * c


@njit(cache=True, error_model="numpy", inline="always")
def _kd_nearest(tree, x0, x1, x2, stack_node, stack_bound, guess):
    """Leaf-order index and squared distance of the point nearest to ``(x0, x1, x2)``.

    Depth-first search, nearer child first, pruned with the squared distance from the query to
    each node's bounding box (a lower bound for its points; on a surface cloud the boxes are
    much tighter than the k-d cells). ``stack_node`` (int64, ``(STACK,)``) and ``stack_bound``
    (float, ``(STACK,)``) are scratch.

    ``guess`` (leaf order, or -1): a point likely to be near, e.g. the previous iterate's
    nearest neighbour; its distance bounds the search from the start, so more of the tree is
    pruned. The answer does not depend on it: among exactly equidistant points the one first in
    the caller's order wins (boxes at exactly the best distance are therefore still visited).

    A leaf is scanned first only to count the points that can win (unsigned indices, so there is
    no negative-index wraparound and the loop compiles to vector instructions), and a second
    time, only when there are any, for the index."""
    P = tree.points  # (3, N); no row views (a view is a new reference numba must count)
    nodes, box, index = tree.nodes, tree.box, tree.index
    best_i = guess if guess >= 0 else 0  # a real point from the start
    g0, g1, g2 = P[0, best_i] - x0, P[1, best_i] - x1, P[2, best_i] - x2
    best = g0 * g0 + g1 * g1 + g2 * g2
    top = 1
    stack_node[0], stack_bound[0] = 0, _box_dist(box, 0, x0, x1, x2)
    while top > 0:
        top -= 1
        node = stack_node[top]
        if stack_bound[top] > best:
            continue
        left = nodes[node, 0]
        if left < 0:  # leaf
            s, n = np.uint64(nodes[node, 2]), np.uint64(nodes[node, 3] - nodes[node, 2])
            n_le = 0
            for k in range(n):
                i = s + k
                d0, d1, d2 = P[0, i] - x0, P[1, i] - x1, P[2, i] - x2
                n_le += d0 * d0 + d1 * d1 + d2 * d2 <= best
            if n_le > 0:
                for k in range(n):
                    i = s + k
                    d0, d1, d2 = P[0, i] - x0, P[1, i] - x1, P[2, i] - x2
                    dd = d0 * d0 + d1 * d1 + d2 * d2
                    if dd < best or (dd == best and index[i] < index[best_i]):
                        best, best_i = dd, np.int64(i)
            continue
        right = nodes[node, 1]
        bl, br = _box_dist(box, left, x0, x1, x2), _box_dist(box, right, x0, x1, x2)
        if bl > br:  # push the farther child first, so the nearer one is searched first
            left, right, bl, br = right, left, br, bl
        if br <= best:
            stack_node[top], stack_bound[top] = right, br
            top += 1
        if bl <= best:
            stack_node[top], stack_bound[top] = left, bl
            top += 1
    return best_i, best


@njit(cache=True, nogil=True, error_model="numpy")
def _kd_query_many(tree, X):
    n = X.shape[0]
    idx, dist = np.empty(n, np.int64), np.empty(n)
    sn, sb = np.empty(STACK, np.int64), np.empty(STACK)
    for i in range(n):
        j, dd = _kd_nearest(tree, X[i, 0], X[i, 1], X[i, 2], sn, sb, -1)
        idx[i], dist[i] = tree.index[j], math.sqrt(dd)
    return dist, idx


@njit(cache=True, nogil=True, error_model="numpy")
def nearest_planes(tree, planes, X):
    """For finite queries ``X`` ``(n, 3)``: the distance to the nearest point and the signed distance
    to its tangent plane (Eq. 11; ``planes`` in the tree's leaf order), each ``(n,)``."""
    n = X.shape[0]
    dist, d_plane = np.empty(n), np.empty(n)
    sn, sb = np.empty(STACK, np.int64), np.empty(STACK)
    for i in range(n):
        j, dd = _kd_nearest(tree, X[i, 0], X[i, 1], X[i, 2], sn, sb, -1)
        dist[i] = math.sqrt(dd)
        d_plane[i] = planes[j, 0] * X[i, 0] + planes[j, 1] * X[i, 1] + planes[j, 2] * X[i, 2] - planes[j, 3]
    return dist, d_plane


def kdtree_query(tree: KDTree, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distances, indices)`` of the nearest points to ``x`` ``(..., 3)``, like ``cKDTree.query``
    (which also rejects non-finite queries)."""
    x = np.asarray(x, float)
    if not np.isfinite(x).all():
        raise ValueError("k-d tree query: the query points must be finite")
    d, i = _kd_query_many(tree, _plain(x.reshape(-1, 3)))
    return d.reshape(x.shape[:-1]), i.reshape(x.shape[:-1])


@njit(cache=True, nogil=True, error_model="numpy")
def unit_normals(n):
    """``n`` ``(N, 3)`` scaled to unit rows, with the number of rows that are not finite and the
    number shorter than 1e-9 (those rows are left as they are; the caller refuses them)."""
    out = np.empty_like(n)
    n_bad, n_zero = 0, 0
    for i in range(n.shape[0]):
        a, b, c = n[i, 0], n[i, 1], n[i, 2]
        norm = math.sqrt(a * a + b * b + c * c)
        if not math.isfinite(norm):
            n_bad += 1
            norm = 1.0
        elif norm < 1e-9:
            n_zero += 1
            norm = 1.0
        out[i, 0], out[i, 1], out[i, 2] = a / norm, b / norm, c / norm
    return out, n_bad, n_zero


@njit(cache=True, nogil=True, error_model="numpy")
def tangent_planes(points, normals, order):
    """``(len(order), 4)``: the tangent plane ``[n_j, n_j . p_j]`` of point ``j = order[i]`` in row
    ``i`` (so that the point-to-plane distance of Eq. 11 is ``plane[:3] . x - plane[3]``)."""
    out = np.empty((len(order), 4))
    for i in range(len(order)):
        j = order[i]
        n0, n1, n2 = normals[j, 0], normals[j, 1], normals[j, 2]
        out[i, 0], out[i, 1], out[i, 2] = n0, n1, n2
        out[i, 3] = n0 * points[j, 0] + n1 * points[j, 1] + n2 * points[j, 2]
    return out
