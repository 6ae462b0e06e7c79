"""Issue 18 item 4 on a real generation: the Tokens view (slot -> frames, codebook index, the
model's top-k probabilities), the planned path drawn on the colour image, and warnings that say
what to do."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

import generated
from app import path_overlay, tokens_view


@pytest.fixture(scope="module")
def res():
    return generated.result()


def test_token_rows_cover_every_frame_with_the_model_s_probabilities(res):
    rows = tokens_view.token_rows(res)
    s = res.token_sample
    assert [r[2] for r in rows] == res.tokens.tolist() and len(rows) == len(s.tokens)
    frames = [tuple(int(x) for x in r[1].split("–")) for r in rows]
    assert frames[0][0] == 0 and frames[-1][1] == len(res.raw.q) - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(frames, frames[1:]))  # contiguous chunks of chunk_len frames
    assert all(b - a + 1 == res.chunk_len for a, b in frames[:-1])
    np.testing.assert_allclose([r[3] for r in rows], np.round(100 * s.chosen_prob, 1), atol=0.051)
    for r, codes, probs, rank in zip(rows, s.top_codes, s.top_probs, s.rank):
        assert r[6].startswith(f"{codes[0]} ({100 * probs[0]:.1f})")
        assert r[4] == (rank + 1 if rank < len(codes) else f"> {len(codes)}")
    # a temperature > 0 sample: probabilities are real distributions, at least one slot is uncertain
    assert np.all(s.top_probs.sum(1) <= 1 + 1e-6) and s.entropy.max() > 0.1


def test_tokens_figure_and_summary(res):
    fig = tokens_view.tokens_figure(res)
    sampled = [t for t in fig.data if t.name == "sampled code"][0]
    np.testing.assert_allclose(sampled.y, 100 * res.token_sample.chosen_prob, atol=1e-3)
    assert len(fig.data) == res.token_sample.top_codes.shape[1] + 1
    text = tokens_view.tokens_summary(res)
    assert f"**{len(res.tokens)} hand tokens**" in text and f"decodes to {res.chunk_len} frames" in text
    # a result whose sampled codes are unlikely says which slots and what to try
    s = res.token_sample
    n = len(s.tokens)
    low = replace(s, chosen_prob=np.where(np.arange(n) == 2, 0.03, 0.5))
    text = tokens_view.tokens_summary(replace(res, token_sample=low))
    assert "Slot 2 took a code the model gave under 10 %" in text and "another seed" in text
    low = replace(s, chosen_prob=np.where(np.isin(np.arange(n), [1, 5]), 0.03, 0.5))
    assert "Slots 1, 5 took" in tokens_view.tokens_summary(replace(res, token_sample=low))
    sure = replace(s, chosen_prob=np.full(n, 0.5))
    assert "under 10 %" not in tokens_view.tokens_summary(replace(res, token_sample=sure))
    none = replace(res, token_sample=None)
    assert tokens_view.token_rows(none)[0][3] == "—" and not tokens_view.tokens_figure(none).data


def test_path_projection_lands_on_the_target(res):
    """The target's start centre, projected with the perceived camera, falls on the target's own
    pixels (a wrong camera convention would put it elsewhere); the drawn path changes the image."""
    inst = res.scene.instances[res.target.index]
    uv, front = path_overlay.project(res.scene, np.asarray(inst.centroid_world)[None])
    assert front[0]
    u, v = np.round(uv[0]).astype(int)
    ys, xs = np.nonzero(inst.mask)
    assert np.hypot(xs - u, ys - v).min() <= 3, "projected centre is not on the target's mask"
    img = path_overlay.path_image(res)
    assert img.shape == res.scene.rgb.shape and img.dtype == np.uint8
    yellow = np.all(img == path_overlay.OBJECT_PATH, axis=2)
    blue = np.all(img == path_overlay.HAND_PATH, axis=2)
    assert yellow.sum() > 50 and blue.sum() > 50
    # the yellow path starts on the target: some yellow pixels lie near the projected centre
    yy, yx = np.nonzero(yellow)
    assert np.hypot(yx - u, yy - v).min() < 25


def test_points_behind_the_camera_are_not_drawn():
    scene = SimpleNamespace(camera_to_world=np.eye(4), intrinsics=SimpleNamespace(fx=500.0, fy=500.0, cx=320, cy=240))
    uv, front = path_overlay.project(scene, np.array([[0.0, 0.0, 1.0], [0.1, 0.0, -1.0]]))
    assert front.tolist() == [True, False] and np.allclose(uv[0], [320, 240])


@pytest.mark.parametrize("failure, words", [("lost", "larger contact strength λ_c"),
                                            ("knocked", "another approach"), ("flung", "smaller W_gen scale"),
                                            ("something_new", "another seed")])
def test_physics_warning_says_what_to_try(failure, words):
    from unihm_core.pipeline import physics_warning

    text = physics_warning(SimpleNamespace(failure=failure, reason="lost at frame 17 while carried"))
    assert text.startswith("physics check") and "(lost at frame 17 while carried)" in text and words in text


def test_outputs_carry_the_tokens_view_and_the_path_image(res, tmp_path):
    from app import generate_tab

    run_dir = tmp_path / "s" / "run_0001"
    run_dir.parent.mkdir()
    shown = replace(res, warnings=["physics check: in simulation ... (x); try another seed. ..."])
    out = dict(zip(generate_tab.OUTPUT_NAMES, generate_tab._outputs(shown, run_dir, render=False)))
    assert out["state"] is shown and generate_tab.OUTPUT_NAMES.index("files") == 13
    assert out["tokens_table"] == tokens_view.token_rows(res)
    assert isinstance(out["path_image"], np.ndarray) and out["path_image"].shape == res.scene.rgb.shape
    assert "**Warnings** (what to check or try):\n\n- physics check" in out["explanation"]


def test_point_cloud_back_projects_onto_the_table_plane(res):
    """The Perception tab's cloud: pixels off every object lie on the fitted table plane (z = 0 of
    the table frame), the target's trace holds its perceived points, the table quad is flat."""
    from app import perception_view

    scene = res.scene
    pts, cols = perception_view.back_project(scene, stride=4)
    assert len(pts) > 1000 and cols.min() >= 0 and cols.max() <= 1
    inv = np.linalg.inv(scene.table_to_world)
    local = pts @ inv[:3, :3].T + inv[:3, 3]
    # pixels outside every instance mask (subsampled like back_project) are mostly table
    on_objects = np.zeros(scene.depth.shape, bool)
    for inst in scene.instances:
        on_objects |= inst.mask
    d = np.asarray(scene.depth)[::4, ::4]
    off = ~on_objects[::4, ::4][d > 0]
    assert np.median(np.abs(local[off, 2])) < 0.01
    fig = perception_view.point_cloud_figure(res, max_points=3000)
    names = [t.name for t in fig.data]
    assert len(fig.data[0].x) == 3000 and "table plane (fitted)" in names
    target = next(t for t in fig.data if t.name.endswith("(target)"))
    inst = scene.instances[res.target.index]
    np.testing.assert_allclose(target.x[0], inst.points[0, 0])
    quad = next(t for t in fig.data if t.name == "table plane (fitted)")
    corners = np.stack([quad.x, quad.y, quad.z], 1) @ inv[:3, :3].T + inv[:3, 3]
    np.testing.assert_allclose(corners[:, 2], 0, atol=1e-9)
