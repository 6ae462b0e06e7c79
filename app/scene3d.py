"""The interactive 3-D view of a result: a Plotly figure whose slider and Play button move the scene.

What it shows, in the world frame (the table frame unless extrinsics were given):

* the hand as meshes: every link's collision primitives (:func:`unihm_core.hands.urdf.link_geometry`:
  capsules, fingertip spheres, the palm box) tessellated once per hand and posed by forward
  kinematics, for the raw, the refined and (after a physics check) the simulated trajectory;
* every perceived object as a convex hull of its observed and completed points in its own
  colour, the target moving along the planned path (and, simulated, where physics moved it),
  the table as a quad at z = 0 of the table frame, and the planned object path;
* per trajectory, the hand-surface points that penetrate the target's hull or the table
  (magenta ×) and those touching the target (within :data:`CONTACT_MM` of its surface, green).

Why the frames travel in ``layout.meta``: ``gr.Plot`` hands the browser ``data`` and ``layout``
only and drops ``frames``, so the figure reached the browser with no animation and the slider
moved nothing. :func:`scene_figure` therefore stores the frames in ``layout.meta["unihm_frames"]``
as plain lists, and ``app/plotly_frames.js`` (passed to ``launch(js=...)``) gives them to
``Plotly.addFrames`` once the plot is drawn (and marks the plot ``data-unihm-frames="N"``).

Colours are chosen so that nothing clashes: raw orange, refined blue, simulated purple, contacts
green, penetration magenta; objects keep their perceived colour, drawn translucent.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

COLORS = {"raw": "#ff7f0e", "refined": "#1f77b4", "simulated": "#9467bd"}
CONTACT_COLOR, PENETRATION_COLOR, PATH_COLOR, TABLE_COLOR = "#2ca02c", "#e6007e", "#222222", "#c8b89a"
CONTACT_MM = 5.0  # [mm] a hand point this close to the target's surface (outside or inside) touches it
PENETRATION_MM = 2.0  # [mm] a hand point deeper than this inside the target or below the table penetrates
FRAMES_JS = Path(__file__).with_name("plotly_frames.js")
META_KEY = "unihm_frames"


def frames_js() -> str:
    """The launch ``js`` that hands ``layout.meta`` frames to ``Plotly.addFrames``."""
    return FRAMES_JS.read_text()


# ----------------------------------------------------------------------------------- geometry
@lru_cache(maxsize=16)
def hand_template(hand_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hand's collision primitives as one triangle mesh in link frames.

    Returns ``(link_index (N,), vertices_link (N, 3), faces (F, 3))``: vertex n lies in the frame
    of ``HandModel.link_names[link_index[n]]``; faces index the concatenated vertices.
    """
    import trimesh

    from unihm_core import load_hand
    from unihm_core.hands.urdf import link_geometry

    hand = load_hand(hand_name)
    link_idx, verts, faces, offset = [], [], [], 0
    for name, prims in link_geometry(hand.spec).items():
        k = hand.link_names.index(name)
        for kind, p in prims:
            if kind == "capsule":
                p1 = np.asarray(p["p1"], float)
                length = float(np.linalg.norm(p1))
                m = trimesh.creation.capsule(height=length, radius=p["radius"], count=[6, 4])
                T = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], p1 / length)
                T[:3, 3] = p1 / 2
                m.apply_transform(T)
            elif kind == "sphere":
                m = trimesh.creation.icosphere(subdivisions=1, radius=p["radius"])
            elif kind == "box":
                m = trimesh.creation.box(extents=p["size"])
                m.apply_translation(p["center"])
            else:  # pragma: no cover - link_geometry documents only these three kinds
                continue
            link_idx.append(np.full(len(m.vertices), k))
            verts.append(np.asarray(m.vertices, float))
            faces.append(np.asarray(m.faces) + offset)
            offset += len(m.vertices)
    return np.concatenate(link_idx), np.concatenate(verts), np.concatenate(faces)


def hand_vertices(hand_name: str, q: np.ndarray) -> np.ndarray:
    """``(T, N, 3)`` world positions of the hand mesh's vertices for joint trajectory ``q`` ``(T, D)``."""
    from unihm_core import load_hand

    hand = load_hand(hand_name)
    li, V, _ = hand_template(hand_name)
    poses = hand.fk(hand.clamp(np.atleast_2d(q))).link_poses  # (T, L, 4, 4)
    P = poses[:, li]  # (T, N, 4, 4)
    R, p = P[..., :3, :3], P[..., :3, 3]
    return np.einsum("tnij,nj->tni", R, V) + p


def hull(points: np.ndarray):
    """Convex hull of ``points`` (None when they span no volume)."""
    import trimesh

    pts = np.asarray(points, float)
    if len(pts) < 4:
        return None
    try:
        h = trimesh.Trimesh(pts).convex_hull
    except Exception:  # noqa: BLE001 - degenerate (flat or collinear) points: no hull to draw
        return None
    return h if len(h.faces) >= 4 else None


def signed_distance_to_hull(h, points: np.ndarray, within: float | None = None) -> np.ndarray:
    """``(N,)`` signed distance [m] of ``points`` to convex hull ``h``: negative inside (exact),
    positive outside (the largest face-plane distance, a lower bound of the true distance).

    With ``within`` [m], points farther than that outside the hull's bounding box are not
    evaluated and get ``+inf`` (they are outside by more than ``within``): most of a hand is far
    from the object, so this skips most of the work."""
    P = np.asarray(points, float)
    n = np.asarray(h.face_normals)
    d = np.einsum("fj,fj->f", n, np.asarray(h.triangles_center))
    if within is None:
        return (P @ n.T - d).max(axis=1)
    lo, hi = np.asarray(h.bounds[0]) - within, np.asarray(h.bounds[1]) + within
    near = np.all((P >= lo) & (P <= hi), axis=1)
    out = np.full(len(P), np.inf)
    if near.any():
        out[near] = (P[near] @ n.T - d).max(axis=1)
    return out


def _transform(T: np.ndarray, P: np.ndarray) -> np.ndarray:
    return P @ T[:3, :3].T + T[:3, 3]


def contact_masks(vertices: np.ndarray, object_poses: np.ndarray, target_hull, world_to_table: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, which hand vertices penetrate (target or table) and which touch the target.

    ``vertices`` ``(T, N, 3)`` world, ``object_poses`` ``(T, 4, 4)`` object → world. Returns two
    ``(T, N)`` bool arrays (penetrating, touching); a penetrating point is not also touching.
    """
    T = len(vertices)
    pen = np.zeros(vertices.shape[:2], bool)
    touch = np.zeros(vertices.shape[:2], bool)
    for t in range(T):
        below = _transform(world_to_table, vertices[t])[:, 2] < -PENETRATION_MM / 1000
        if target_hull is not None:
            local = _transform(np.linalg.inv(object_poses[min(t, len(object_poses) - 1)]), vertices[t])
            sd = signed_distance_to_hull(target_hull, local, within=2 * CONTACT_MM / 1000)
            inside = sd < -PENETRATION_MM / 1000
            touch[t] = (np.abs(sd) <= CONTACT_MM / 1000) & ~inside
        else:
            inside = np.zeros(len(vertices[t]), bool)
        pen[t] = inside | below
        touch[t] &= ~pen[t]
    return pen, touch


# ----------------------------------------------------------------------------------- figure
def _rgb(colors: np.ndarray) -> str:
    c = np.clip(np.asarray(colors, float).reshape(-1, 3).mean(0) if len(colors) else [0.6, 0.6, 0.6], 0, 1)
    return "rgb({},{},{})".format(*(int(round(255 * x)) for x in c))


def _r(a: np.ndarray) -> list:
    """Plain lists with 1 mm resolution (frames go through layout.meta as JSON, not typed arrays)."""
    return np.round(np.asarray(a, float), 3).tolist()


# Traces are plain dicts: go.Figure validates the first frame's once, and the 33 frames' copies
# are never validated (building go objects per frame took about 2 s of a 5 s figure).
def _mesh(V: np.ndarray, F: np.ndarray, name: str, color: str, group: str, opacity: float = 1.0,
          showlegend: bool = True) -> dict:
    return dict(type="mesh3d", x=_r(V[:, 0]), y=_r(V[:, 1]), z=_r(V[:, 2]), i=F[:, 0].tolist(), j=F[:, 1].tolist(),
                k=F[:, 2].tolist(), name=name, color=color, opacity=opacity, flatshading=True, legendgroup=group,
                showlegend=showlegend, hoverinfo="name", lighting=dict(ambient=0.55, diffuse=0.8, specular=0.2))


def _markers(P: np.ndarray, name: str, color: str, symbol: str, group: str) -> dict:
    P = np.asarray(P, float).reshape(-1, 3)
    return dict(type="scatter3d", x=_r(P[:, 0]), y=_r(P[:, 1]), z=_r(P[:, 2]), mode="markers", name=name,
                legendgroup=group, marker=dict(size=3 if symbol == "circle" else 4, color=color, symbol=symbol),
                hoverinfo="name")


def _frame_indices(T: int, stride: int) -> list[int]:
    idx = list(range(0, T, max(1, stride)))
    if idx[-1] != T - 1:
        idx.append(T - 1)
    return idx


def trajectories(result, simulated=None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{name: (q (T, D), object poses (T, 4, 4))}`` of the trajectories to draw."""
    out = {"raw": (np.asarray(result.raw.q), result.plan.object_poses)}
    if result.refined is not None:
        out["refined"] = (np.asarray(result.refined.q), result.plan.object_poses)
    if simulated is None:
        rep = (result.physics or {}).get("refined") or (result.physics or {}).get("raw")
        simulated = rep
    if simulated is not None and getattr(simulated, "hand_q", None) is not None:
        out["simulated"] = (np.asarray(simulated.hand_q), np.asarray(simulated.object_poses))
    return out


def scene_figure(result, stride: int = 2, simulated=None) -> go.Figure:
    """The 3-D scene with every trajectory; frames in ``layout.meta`` (see the module docstring)."""
    scene, plan, target = result.scene, result.plan, result.target
    world_to_table = np.linalg.inv(scene.table_to_world)
    target_hull = hull(target.points)
    _, _, F = hand_template(result.hand)
    trajs = trajectories(result, simulated)
    T = min(len(q) for q, _ in trajs.values())
    fidx = _frame_indices(T, stride)

    # static: the other objects, the table, the planned path
    static: list = []
    everything = [plan.object_poses[:, :3, 3]]
    for inst in scene.instances:
        pts = np.concatenate([inst.points, inst.completed_points]) if len(inst.completed_points) else inst.points
        everything.append(pts)
        if inst.index == target.index:
            continue
        h = hull(pts)
        if h is not None:
            static.append(_mesh(np.asarray(h.vertices), np.asarray(h.faces), f"#{inst.index} {inst.label}",
                                _rgb(inst.colors), "objects", opacity=0.45))
    allp = _transform(world_to_table, np.concatenate(everything))
    lo, hi = allp[:, :2].min(0) - 0.12, allp[:, :2].max(0) + 0.12
    quad = np.array([[lo[0], lo[1], 0], [hi[0], lo[1], 0], [hi[0], hi[1], 0], [lo[0], hi[1], 0]])
    quad = _transform(scene.table_to_world, quad)
    static.append(_mesh(quad, np.array([[0, 1, 2], [0, 2, 3]]), "table", TABLE_COLOR, "table", opacity=0.5))
    path = plan.object_poses[:, :3, 3]
    static.append(dict(type="scatter3d", x=_r(path[:, 0]), y=_r(path[:, 1]), z=_r(path[:, 2]), mode="lines",
                       name="planned object path", line=dict(color=PATH_COLOR, width=4), legendgroup="plan"))

    # dynamic: per trajectory the hand mesh, its penetrating and touching points; the target
    verts, masks = {}, {}
    for name, (q, poses) in trajs.items():
        verts[name] = hand_vertices(result.hand, q[:T])
        masks[name] = contact_masks(verts[name], poses, target_hull, world_to_table)
    tV = np.asarray(target_hull.vertices) if target_hull is not None else np.zeros((0, 3))
    tF = np.asarray(target_hull.faces) if target_hull is not None else np.zeros((0, 3), int)
    target_color = _rgb(scene.instances[target.index].colors) if target.index < len(scene.instances) else "grey"

    def dynamic(t: int) -> list:
        out = []
        for name, (q, poses) in trajs.items():
            V = verts[name][t]
            pen, touch = masks[name][0][t], masks[name][1][t]
            out.append(_mesh(V, F, f"{name} hand", COLORS[name], name, opacity=0.55 if name == "raw" else 1.0))
            out.append(_markers(V[pen], f"{name}: penetrating ({int(pen.sum())} pts)", PENETRATION_COLOR, "x", name))
            out.append(_markers(V[touch], f"{name}: contact ({int(touch.sum())} pts)", CONTACT_COLOR, "circle", name))
        out.append(_mesh(_transform(plan.object_poses[min(t, len(plan.object_poses) - 1)], tV), tF,
                         f"target #{target.index} (planned pose)", target_color, "plan", opacity=0.7))
        if "simulated" in trajs:
            sim_poses = trajs["simulated"][1]
            out.append(_mesh(_transform(sim_poses[min(t, len(sim_poses) - 1)], tV), tF,
                             f"target #{target.index} (simulated)", COLORS["simulated"], "simulated", opacity=0.4))
        return out

    first = dynamic(fidx[0])
    n_static = len(static)
    dyn_idx = list(range(n_static, n_static + len(first)))
    frames = []
    for t in fidx:
        data = []
        for tr in (first if t == fidx[0] else dynamic(t)):  # only what moves: positions, marker names
            d = {"x": tr["x"], "y": tr["y"], "z": tr["z"]}
            if tr["type"] == "scatter3d":
                d["name"] = tr["name"]
            data.append(d)
        frames.append({"name": str(t), "data": data, "traces": dyn_idx})

    groups = [tr["legendgroup"] for tr in static + first]

    def visible(show: set[str]) -> list:
        return [True if g in show or g in ("objects", "table", "plan") else "legendonly" for g in groups]

    names = list(trajs)
    buttons = [dict(label="all hands", method="restyle", args=[{"visible": visible(set(names))}])]
    if "refined" in trajs:
        buttons.append(dict(label="raw vs refined", method="restyle",
                            args=[{"visible": visible({"raw", "refined"})}]))
    buttons += [dict(label=n, method="restyle", args=[{"visible": visible({n})}]) for n in names]
    default = {"refined", "simulated"} if "refined" in trajs else set(names)
    for tr, v in zip(static + first, visible(default)):
        tr["visible"] = v
    fig = go.Figure(data=static + first)
    play = dict(frame=dict(duration=80, redraw=True), transition=dict(duration=0), fromcurrent=True, mode="immediate")
    fig.update_layout(
        height=640, margin=dict(l=0, r=0, t=40, b=0), uirevision="scene3d",
        scene=dict(aspectmode="data", xaxis_title="x [m]", yaxis_title="y [m]", zaxis_title="z [m]",
                   camera=dict(eye=dict(x=1.0, y=-1.2, z=0.8)), domain=dict(x=[0.0, 0.78], y=[0.12, 1.0])),
        legend=dict(x=1.0, xanchor="right", y=1.0, yanchor="top", bgcolor="rgba(255,255,255,0.8)",
                    font=dict(size=11), groupclick="toggleitem"),
        meta={META_KEY: frames},
        sliders=[dict(active=0, x=0.16, len=0.84, y=0.02, yanchor="bottom", pad=dict(t=0, b=0),
                      currentvalue=dict(prefix="frame ", xanchor="left"), steps=[
            dict(method="animate", label=str(t),
                 args=[[str(t)], dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))])
            for t in fidx])],
        updatemenus=[
            dict(type="buttons", direction="left", x=0.0, y=0.02, xanchor="left", yanchor="bottom",
                 buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                          dict(label="❚❚ Pause", method="animate",
                               args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])]),
            dict(type="buttons", direction="left", x=0.0, y=1.0, xanchor="left", yanchor="top", active=-1,
                 buttons=buttons)])
    return fig


def frame_count(fig: go.Figure) -> int:
    """How many animation frames the figure carries (in ``layout.meta``)."""
    meta = fig.layout.meta
    return len(meta.get(META_KEY, [])) if isinstance(meta, dict) else 0


def figure_json_size(fig: go.Figure) -> int:
    """Bytes of the JSON gr.Plot sends."""
    return len(json.dumps(json.loads(fig.to_json())))
