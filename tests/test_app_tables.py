"""Readable result tables and legends (issue 18 item 5): labelled metrics, the Plan legend clear of its colour bar."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def _metrics():
    keys = ("penetration_max_mm", "penetration_mean_mm", "contact_distance_mm", "jerk_m_s3")
    return {"raw": {k: float(i) for i, k in enumerate(keys)}, "refined": {k: 10.0 + i for i, k in enumerate(keys)}}


def test_metrics_rows_have_units_and_meaning():
    from app.generate_tab import METRIC_LABELS, METRICS_HEADERS, metrics_rows

    rows = metrics_rows(SimpleNamespace(metrics=_metrics()))
    assert [r[0] for r in rows] == list(METRIC_LABELS.values())
    assert all("[" in r[0] and "]" in r[0] for r in rows)  # every metric names its unit
    assert rows[0][1:] == [0.0, 10.0] and rows[3][1:] == [3.0, 13.0]
    assert len(METRICS_HEADERS) == 3
    no_refine = metrics_rows(SimpleNamespace(metrics={"raw": _metrics()["raw"]}))
    assert all(r[2] == "—" for r in no_refine)


def test_metrics_tables_are_labelled_in_the_ui():
    import gradio as gr
    import pytest

    from app.ui import build_demo

    demo = build_demo(lambda: pytest.fail("no pipeline is needed to build the UI"))
    frames = [b for b in demo.blocks.values() if isinstance(b, gr.Dataframe)]
    assert frames and all(b.label for b in frames), [b.headers for b in frames if not b.label]


def test_plan_legend_sits_below_the_plot_clear_of_the_colour_bar():
    from app.plots import plan_figure

    pts = np.random.default_rng(0).normal(size=(50, 3)) * 0.02
    inst = [SimpleNamespace(index=0, label="red box", points=pts), SimpleNamespace(index=1, label="bowl", points=pts + 0.2)]
    poses = np.repeat(np.eye(4)[None], 8, 0)
    poses[:, 0, 3] = np.linspace(0, 0.2, 8)
    res = SimpleNamespace(scene=SimpleNamespace(instances=inst), target=SimpleNamespace(index=0),
                          plan=SimpleNamespace(object_poses=poses, pick_xyz=np.zeros(3), place_xyz=poses[-1, :3, 3],
                                               task="pick_place"))
    fig = plan_figure(res)
    legend = fig.layout.legend
    assert legend.orientation == "h" and legend.y < 0  # under the x axis
    bar = next(tr.marker.colorbar for tr in fig.data if tr.marker is not None and tr.marker.colorbar.title.text)
    assert bar.x >= 1.0 and bar.xanchor == "left"  # right of the plot area; the legend is not there
    assert "(target)" in fig.data[0].name
