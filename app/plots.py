"""Plotly figures of a generation result (presentation only: values come from the core)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

RAW, REFINED, OBJECT = "#d62728", "#1f77b4", "#7f7f7f"


def plan_figure(result) -> go.Figure:
    """Top view of the planned object path over the scene, with pick and place."""
    scene, plan = result.scene, result.plan
    fig = go.Figure()
    for inst in scene.instances:
        p = inst.points[:: max(1, len(inst.points) // 600)]
        fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", marker=dict(size=3),
                                 name=f"#{inst.index} {inst.label}" + (" (target)" if inst.index == result.target.index
                                                                       else "")))
    path = plan.object_poses[:, :3, 3]
    fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="object path",
                             line=dict(color="black"),
                             marker=dict(size=4, color=path[:, 2], colorscale="Viridis",
                                         colorbar=dict(title="object height [m]", x=1.0, xanchor="left",
                                                       thickness=14, len=0.9))))
    fig.add_trace(go.Scatter(x=[plan.pick_xyz[0]], y=[plan.pick_xyz[1]], mode="markers", name="planner pick",
                             marker=dict(size=12, symbol="circle-open", color="green")))
    fig.add_trace(go.Scatter(x=[plan.place_xyz[0]], y=[plan.place_xyz[1]], mode="markers", name="final object pose",
                             marker=dict(size=14, symbol="x", color="black")))
    # the legend sits below the plot, so the colour bar on the right covers none of it
    fig.update_layout(height=480, xaxis_title="x [m] (viewer's right)", yaxis_title="y [m] (away)",
                      yaxis=dict(scaleanchor="x"), margin=dict(l=40, r=10, t=30, b=40),
                      legend=dict(orientation="h", x=0.0, y=-0.18, yanchor="top"),
                      title=f"task: {plan.task}")
    return fig


def energy_figure(result) -> go.Figure:
    """Contact energy per fingertip over time (raw dashed, refined solid) and the refined
    energy terms (contact, generative, velocity, acceleration; with the whole-hand energy also
    link penetration, table, clearance, grip and hold)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("contact energy per fingertip", "energy terms (refined)"))
    e = result.energies  # an EnergyTrace (unihm_core.energy_trace), None without refinement
    if e is None:
        fig.add_annotation(text="refinement was off: no energies", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
        return fig
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for f, name in enumerate(e.fingertip_links):
        col = palette[f % len(palette)]
        fig.add_trace(go.Scatter(y=e.contact_raw[:, f], name=f"{name} raw", line=dict(color=col, dash="dash")), 1, 1)
        fig.add_trace(go.Scatter(y=e.contact_refined[:, f], name=f"{name} refined", line=dict(color=col)), 1, 1)
    colours = {"contact_total": "#d62728", "gen": "#2ca02c", "vel": "#9467bd", "acc": "#8c564b",
               "penetration": "#e377c2", "table": "#7f7f7f", "clearance": "#bcbd22", "grip": "#17becf",
               "hold": "#aec7e8"}
    for term, values in e.plotted_terms():  # the whole-hand energy adds link and grasp terms
        fig.add_trace(go.Scatter(y=values, name=term, line=dict(color=colours[term])), 2, 1)
    fig.add_trace(go.Scatter(y=e.total_raw, name="total before refinement", line=dict(color="black", dash="dot")),
                  2, 1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(type="log", row=2, col=1)
    fig.update_layout(height=620, xaxis2_title="frame", margin=dict(l=50, r=10, t=40, b=40))
    return fig


def joints_figure(result, max_joints: int = 12) -> go.Figure:
    """Finger joint angles over time, raw vs refined, with the joint limits."""
    from unihm_core import load_hand

    hand = load_hand(result.hand)
    names = list(hand.joint_names[6:])[:max_joints]
    rows = (len(names) + 2) // 3
    titles = [hand.joint_label(6 + k) for k in range(len(names))]
    fig = make_subplots(rows=rows, cols=3, subplot_titles=titles, shared_xaxes=True)
    for k, name in enumerate(names):
        i = 6 + k
        r, c = k // 3 + 1, k % 3 + 1
        fig.add_trace(go.Scatter(y=result.raw.q[:, i], line=dict(color=RAW, dash="dash"), name="raw",
                                 showlegend=k == 0), r, c)
        if result.refined is not None:
            fig.add_trace(go.Scatter(y=result.refined.q[:, i], line=dict(color=REFINED), name="refined",
                                     showlegend=k == 0), r, c)
        for lim in (hand.lower[i], hand.upper[i]):
            fig.add_hline(y=float(lim), line=dict(color="#bbb", width=1), row=r, col=c)
    fig.update_annotations(font_size=11)  # the subplot titles: joint names with their meaning
    fig.update_layout(height=220 * rows, margin=dict(l=40, r=10, t=40, b=30))
    return fig


def penetration_figure(result) -> go.Figure:
    """Deepest fingertip penetration per frame [mm], raw vs refined."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(y=result.metrics["raw"]["penetration_per_frame_mm"], name="raw",
                             line=dict(color=RAW, dash="dash")))
    if "refined" in result.metrics:
        fig.add_trace(go.Scatter(y=result.metrics["refined"]["penetration_per_frame_mm"], name="refined",
                                 line=dict(color=REFINED)))
    fig.update_layout(height=300, xaxis_title="frame", yaxis_title="penetration [mm]",
                      margin=dict(l=50, r=10, t=30, b=40))
    return fig
