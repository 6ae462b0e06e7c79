"""The perceived point cloud in 3-D: the depth image back-projected with the perceived camera
(colours from the image), every instance's observed points and completed hidden side, and the
fitted table plane. Presentation only: the values come from ``result.scene``."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

PALETTE = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999")


def back_project(scene, stride: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3)`` world points [m] of every ``stride``-th pixel with a depth, and their ``(N, 3)``
    colours in [0, 1] (OpenCV pinhole, ``Scene.camera_to_world``)."""
    depth = np.asarray(scene.depth, float)[::stride, ::stride]
    rgb = np.asarray(scene.rgb)[::stride, ::stride, :3]
    v, u = np.nonzero(depth > 0)
    z = depth[v, u]
    intr = scene.intrinsics
    uu, vv = u * stride, v * stride
    cam = np.stack([(uu - intr.cx) * z / intr.fx, (vv - intr.cy) * z / intr.fy, z], axis=1)
    T = np.asarray(scene.camera_to_world, float)
    return cam @ T[:3, :3].T + T[:3, 3], rgb[v, u].astype(float) / 255.0


def table_quad(scene, points_world: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """``(4, 3)`` world corners of the table plane (z = 0 of the table frame) under the cloud's
    footprint, ``margin`` [m] beyond it."""
    T = np.asarray(scene.table_to_world, float)
    inv = np.linalg.inv(T)
    local = points_world @ inv[:3, :3].T + inv[:3, 3]
    lo, hi = local[:, :2].min(0) - margin, local[:, :2].max(0) + margin
    corners = np.array([[lo[0], lo[1], 0.0], [hi[0], lo[1], 0.0], [hi[0], hi[1], 0.0], [lo[0], hi[1], 0.0]])
    return corners @ T[:3, :3].T + T[:3, 3]


def point_cloud_figure(result, max_points: int = 8000, stride: int = 4) -> go.Figure:
    """The figure described in the module docstring; the grounded target's points are drawn larger."""
    scene = result.scene
    fig = go.Figure()
    pts, cols = back_project(scene, stride)
    if len(pts) > max_points:
        keep = np.random.default_rng(0).choice(len(pts), max_points, replace=False)
        pts, cols = pts[np.sort(keep)], cols[np.sort(keep)]
    rgb = [f"rgb({int(255 * r)},{int(255 * g)},{int(255 * b)})" for r, g, b in cols]
    fig.add_trace(go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], mode="markers", name="depth image (colours)",
                               marker=dict(size=1.5, color=rgb), hoverinfo="skip"))
    if len(pts):
        quad = table_quad(scene, pts)
        fig.add_trace(go.Mesh3d(x=quad[:, 0], y=quad[:, 1], z=quad[:, 2], i=[0, 0], j=[1, 2], k=[2, 3],
                                color="#c8b88a", opacity=0.35, name="table plane (fitted)", showlegend=True,
                                hoverinfo="name"))
    for inst in scene.instances:
        colour = PALETTE[inst.index % len(PALETTE)]
        target = inst.index == result.target.index
        p = np.asarray(inst.points)[:: max(1, len(inst.points) // 1500)]
        label = f"#{inst.index} {inst.label}" + (" (target)" if target else "")
        fig.add_trace(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", name=label, legendgroup=label,
                                   marker=dict(size=3.5 if target else 2.5, color=colour)))
        c = np.asarray(inst.completed_points)
        if len(c):
            c = c[:: max(1, len(c) // 800)]
            fig.add_trace(go.Scatter3d(x=c[:, 0], y=c[:, 1], z=c[:, 2], mode="markers", legendgroup=label,
                                       name=f"#{inst.index} completed (hidden side)",
                                       marker=dict(size=2, color=colour, opacity=0.35, symbol="diamond")))
    fig.update_layout(height=520, margin=dict(l=0, r=0, t=30, b=0), legend=dict(x=0.0, y=1.0),
                      scene=dict(aspectmode="data", xaxis_title="x [m]", yaxis_title="y [m]", zaxis_title="z [m]",
                                 camera=dict(eye=dict(x=0.0, y=-1.6, z=1.1))),
                      title="Perceived point cloud, world frame (table at z = 0)")
    return fig
