"""A self-contained HTML page showing one dataset sequence (``unihm data show``).

The page holds: the five instructions and metadata; the RGB image, the depth map and the
instance masks (when the sequence was rendered); and an animated 3-D view (frame slider)
of the object's surface samples moving along its trajectory, the human hand skeleton and
each robot hand's links and fingertips. Plotly is imported only here.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from unihm_core.data.dataset import SyntheticDataset
from unihm_core.errors import InputError

HUMAN_BONES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
               (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20), (5, 9), (9, 13), (13, 17)]
HAND_COLOURS = {"human": "#d9822b", "shadow": "#3a6ea5", "allegro": "#5b8c5a", "schunk_svh": "#8e5ea2",
                "leap": "#c44e52", "ability": "#4c9f9f", "inspire": "#a0785a", "panda_gripper": "#555555"}


def _png_data_uri(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _colourise_depth(depth_mm: np.ndarray) -> np.ndarray:
    d = depth_mm.astype(float)
    valid = d > 0
    out = np.zeros(d.shape + (3,), np.uint8)
    if valid.any():
        lo, hi = np.percentile(d[valid], [2, 98])
        v = np.clip((d - lo) / max(hi - lo, 1.0), 0, 1)
        out[..., 0] = (255 * v).astype(np.uint8)
        out[..., 1] = (255 * (1 - np.abs(2 * v - 1))).astype(np.uint8)
        out[..., 2] = (255 * (1 - v)).astype(np.uint8)
        out[~valid] = 0
    return out


def _colourise_mask(mask: np.ndarray) -> np.ndarray:
    palette = np.array([[40, 40, 40], [230, 80, 60], [70, 130, 200], [90, 180, 90], [220, 180, 60],
                        [160, 90, 190], [80, 190, 190], [200, 120, 160]], np.uint8)
    return palette[np.asarray(mask) % len(palette)]


def sequence_figure(arrays: dict[str, np.ndarray], hands: list[str], stride: int = 2):
    """Plotly figure: object points, human skeleton and robot hands over time (frame slider)."""
    import plotly.graph_objects as go

    from unihm_core.hands import load_hand

    poses = arrays["object_poses"].astype(float)
    pts = arrays["obj_points"].astype(float)[::2]
    kp = arrays["human_keypoints"].astype(float)
    T = len(poses)
    frames_idx = list(range(0, T, stride))
    robot = {h: load_hand(h).link_positions(arrays[f"q/{h}"].astype(float)) for h in hands if f"q/{h}" in arrays}
    tips = {h: load_hand(h).fingertip_positions(arrays[f"q/{h}"].astype(float)) for h in robot}
    path = poses[:, :3, 3]

    def traces(t: int) -> list:
        P = pts @ poses[t, :3, :3].T + poses[t, :3, 3]
        out = [go.Scatter3d(x=P[:, 0], y=P[:, 1], z=P[:, 2], mode="markers", marker=dict(size=2, color="#999"),
                            name="object"),
               go.Scatter3d(x=path[:, 0], y=path[:, 1], z=path[:, 2], mode="lines", line=dict(color="black", width=3),
                            name="object path")]
        xs, ys, zs = [], [], []
        for a, b in HUMAN_BONES:
            xs += [kp[t, a, 0], kp[t, b, 0], None]
            ys += [kp[t, a, 1], kp[t, b, 1], None]
            zs += [kp[t, a, 2], kp[t, b, 2], None]
        out.append(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color=HAND_COLOURS["human"], width=5),
                                name="human"))
        for h, L in robot.items():
            out.append(go.Scatter3d(x=L[t, :, 0], y=L[t, :, 1], z=L[t, :, 2], mode="markers",
                                    marker=dict(size=3, color=HAND_COLOURS.get(h, "#333")), name=f"{h} links"))
            out.append(go.Scatter3d(x=tips[h][t, :, 0], y=tips[h][t, :, 1], z=tips[h][t, :, 2], mode="markers",
                                    marker=dict(size=6, symbol="diamond", color=HAND_COLOURS.get(h, "#333")),
                                    name=f"{h} tips"))
        return out

    fig = go.Figure(data=traces(0), frames=[go.Frame(data=traces(t), name=str(t)) for t in frames_idx])
    all_pts = np.concatenate([kp.reshape(-1, 3), path] + [L.reshape(-1, 3) for L in robot.values()])
    lo, hi = all_pts.min(0) - 0.05, all_pts.max(0) + 0.05
    lo[2] = min(lo[2], 0.0)
    fig.update_layout(
        height=640, margin=dict(l=0, r=0, t=30, b=0),
        scene=dict(xaxis=dict(range=[lo[0], hi[0]]), yaxis=dict(range=[lo[1], hi[1]]),
                   zaxis=dict(range=[lo[2], hi[2]]), aspectmode="data"),
        sliders=[dict(steps=[dict(method="animate", label=str(t), args=[[str(t)], dict(mode="immediate",
                 frame=dict(duration=0, redraw=True))]) for t in frames_idx], currentvalue=dict(prefix="frame "))],
        updatemenus=[dict(type="buttons", buttons=[dict(label="play", method="animate",
                     args=[None, dict(frame=dict(duration=60, redraw=True), fromcurrent=True)])])])
    return fig


def write_sequence_page(data_dir: str | Path, seq_id: str | None, out_html: str | Path,
                        hands: list[str] | None = None) -> Path:
    """Write the HTML page of sequence ``seq_id`` (default: the first) of dataset ``data_dir``."""
    ds = SyntheticDataset(data_dir)
    if seq_id is None:
        seq_id = ds.records[0]["seq_id"]
    rec = next((r for r in ds.records if r["seq_id"] == seq_id), None)
    if rec is None:
        raise InputError(f"no sequence {seq_id!r} in {data_dir}; ids look like {ds.records[0]['seq_id']!r}")
    arrays = ds.arrays(seq_id)
    hands = hands or [h for h in rec["hands_valid"]]
    fig = sequence_figure(arrays, hands)
    images = ""
    if "rgb" in arrays:
        images = "".join(
            f'<figure><img src="{_png_data_uri(img)}" width="320"><figcaption>{cap}</figcaption></figure>'
            for img, cap in ((arrays["rgb"], "RGB"), (_colourise_depth(arrays["depth_mm"]), "depth (noisy)"),
                             (_colourise_mask(arrays["mask"]), "instance masks (target = 1)")))
    target = rec["target"]
    meta = (f"<p><b>{html.escape(seq_id)}</b> · split {rec['split']} · task <b>{rec['task']}</b> · grasp "
            f"{rec['grasp_type']} · {rec['num_frames']} frames · target: {html.escape(target['colour_name'])} "
            f"{html.escape(target['type_name'])}</p><p>valid robot sequences: "
            + ", ".join(f"{h}: {'yes' if ok else 'no'}" for h, ok in rec["hands_valid"].items()) + "</p>")
    instr = "<ol>" + "".join(f"<li>{html.escape(s)}</li>" for s in rec["instructions"]) + "</ol>"
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>UniHM data {html.escape(seq_id)}</title>"
            f"<style>body{{font-family:sans-serif;margin:1em}} figure{{display:inline-block;margin:4px}}</style>"
            f"</head><body><h2>UniHM synthetic sequence</h2>{meta}{instr}<div>{images}</div>"
            f"{fig.to_html(full_html=False, include_plotlyjs=True)}</body></html>")
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    ds.close()
    return out
