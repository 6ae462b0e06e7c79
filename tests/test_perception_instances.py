"""Instances: count, sizes, shape classes, colours, normals, masks, completion, overlay."""

from __future__ import annotations

import numpy as np
import pytest

from perception_synth import (
    BLUE, CX, CY, FX, FY, GREEN, H, RED, W, YELLOW, Obj, look_at, render, three_shapes,
)
from unihm_core.errors import ConfigError
from unihm_core.perception import Intrinsics, SegmentationConfig, instance_table, mask_overlay, perceive
from unihm_core.perception.instances import voxel_components
from unihm_core.perception.primitives import fit_primitive, surface_distance

INTR = Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H)


@pytest.fixture(scope="module")
def scene_and_truth():
    objs = three_shapes()
    rgb, depth, T, ids = render(objs, noise=0.0015, seed=2)
    return perceive(rgb, depth, INTR, seed=0, extrinsics=T), objs, ids


def _match(scene, obj):
    """Instance whose world centroid is nearest the object's footprint centre."""
    d = [np.linalg.norm(i.centroid_world[:2] - np.array(obj.xy)) for i in scene.instances]
    return scene.instances[int(np.argmin(d))], min(d)


def test_instance_count_shapes_colours_sizes(scene_and_truth):
    scene, objs, _ = scene_and_truth
    assert len(scene.instances) == 3
    expect = {"box": ("red", (0.08, 0.05, 0.12)), "cylinder": ("blue", (0.07, 0.07, 0.11)),
              "sphere": ("green", (0.08, 0.08, 0.08))}
    for obj in objs:
        inst, dist = _match(scene, obj)
        assert dist < 0.01  # centre within 1 cm
        assert inst.shape == obj.kind
        color, ext = expect[obj.kind]
        assert inst.color == color
        np.testing.assert_allclose(inst.extent, ext, atol=0.006)
        assert inst.description == f"a medium {color} {obj.kind}"


def test_instances_sorted_left_to_right_and_masks_match_truth(scene_and_truth):
    scene, objs, ids = scene_and_truth
    us = [np.mean(np.flatnonzero(i.mask) % W) for i in scene.instances]
    assert us == sorted(us)
    for inst in scene.instances:
        obj_id = int(np.bincount(ids[inst.mask] + 2).argmax()) - 2
        truth = ids == obj_id
        inter = (inst.mask & truth).sum()
        assert inter / inst.mask.sum() > 0.98  # precision: mask pixels belong to the object
        assert inter / truth.sum() > 0.75  # recall: the bottom cm and silhouette edges are dropped
        np.testing.assert_array_equal(np.flatnonzero(inst.mask.ravel()), np.sort(inst.pixel_index))


def test_normals_point_outward(scene_and_truth):
    scene, objs, _ = scene_and_truth
    sphere = _match(scene, objs[2])[0]
    c = np.array([0.16, 0.0, 0.04])
    radial = sphere.points - c
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    cos = (sphere.normals * radial).sum(axis=1)
    assert np.median(cos) > 0.98 and np.mean(cos > 0.8) > 0.95
    np.testing.assert_allclose(np.linalg.norm(sphere.normals, axis=1), 1.0, atol=1e-6)


def test_completion_covers_the_hidden_side(scene_and_truth):
    scene, objs, _ = scene_and_truth
    cam = scene.camera_to_world[:3, 3]
    for obj in objs:
        inst = _match(scene, obj)[0]
        assert len(inst.completed_points) > 100
        # completed samples lie on the far side: their normals face away from the camera
        to_cam = cam - inst.completed_points
        facing = (inst.completed_normals * to_cam).sum(axis=1) > 0
        assert facing.mean() < 0.2
        # observed + completed span the full object around its centre (both sides)
        allp = inst.all_points - inst.centroid_world
        view = (inst.centroid_world - cam)[:2]
        along = allp[:, :2] @ (view / np.linalg.norm(view))
        assert along.min() < -0.02 and along.max() > 0.02
        assert inst.all_normals.shape == inst.all_points.shape


def test_primitive_fit_on_exact_surfaces():
    rng = np.random.default_rng(0)
    # the visible half of an upright cylinder r=4 cm, h=10 cm, plus its top
    a = rng.uniform(-np.pi / 2, np.pi / 2, 1500)
    z = rng.uniform(0, 0.10, 1500)
    side = np.column_stack([0.04 * np.cos(a), 0.04 * np.sin(a), z])
    rr = np.sqrt(rng.uniform(0, 1, 500)) * 0.04
    aa = rng.uniform(0, 2 * np.pi, 500)
    top = np.column_stack([rr * np.cos(aa), rr * np.sin(aa), np.full(500, 0.10)])
    p = np.vstack([side, top]) + np.array([0.1, -0.05, 0.0])
    n = np.vstack([np.column_stack([np.cos(a), np.sin(a), np.zeros(1500)]), np.tile([0, 0, 1.0], (500, 1))])
    fit = fit_primitive(p, n)
    assert fit.shape == "cylinder"
    assert fit.dims[0] == pytest.approx(0.04, abs=1e-4)
    assert fit.dims[2] == pytest.approx(0.10, abs=1e-3)
    assert surface_distance(fit, p).max() < 1e-3
    # a cone (radius 6 cm at the table, apex 12 cm up) is none of the primitives
    h = rng.uniform(0, 0.12, 3000)
    ang = rng.uniform(-np.pi / 2, np.pi / 2, 3000)
    rad = 0.06 * (1 - h / 0.12)
    cone = np.column_stack([rad * np.cos(ang), rad * np.sin(ang), h])
    fit = fit_primitive(cone)
    assert fit.shape == "other"
    assert min(fit.residuals.values()) > 0.007


def test_shapes_from_another_viewpoint_and_touching_objects_split():
    objs = [
        Obj("box", (-0.1, 0.1), (0.06, 0.06, 0.06), YELLOW, yaw=0.8),
        Obj("cylinder", (0.02, 0.1), (0.03, 0.15), RED),  # 3 cm gap to the box
        Obj("sphere", (0.12, 0.12), (0.03,), BLUE),
        Obj("box", (0.0, -0.1), (0.20, 0.10, 0.03), GREEN, yaw=-0.3),  # flat, large
    ]
    T = look_at(np.array([0.3, -0.45, 0.5]), np.array([0.0, 0.05, 0.0]))
    rgb, depth, T, _ = render(objs, T, noise=0.002, seed=4)
    scene = perceive(rgb, depth, INTR, extrinsics=T)
    assert len(scene.instances) == 4
    got = {(i.shape, i.color) for i in scene.instances}
    assert got == {("box", "yellow"), ("cylinder", "red"), ("sphere", "blue"), ("box", "green")}
    flat = next(i for i in scene.instances if i.color == "green")
    assert flat.size == "large"
    np.testing.assert_allclose(flat.extent, (0.20, 0.10, 0.03), atol=0.008)
    small = next(i for i in scene.instances if i.shape == "sphere")
    assert small.size == "small"


def test_voxel_components_separate_gaps():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 0.05, (500, 3))
    b = rng.uniform(0, 0.05, (500, 3)) + np.array([0.05 + 0.02, 0, 0])  # 2 cm gap, 8 mm voxels
    c = rng.uniform(0, 0.05, (500, 3)) + np.array([0, 0.05 + 0.002, 0])  # 2 mm gap: merges
    lab = voxel_components(np.vstack([a, b, c]), 0.008)
    assert len(set(lab[:500])) == 1 and len(set(lab[500:1000])) == 1
    assert lab[0] != lab[500]
    assert lab[0] == lab[1000]


def test_empty_table_gives_warning_not_error():
    rgb, depth, T, _ = render([], noise=0.001)
    scene = perceive(rgb, depth, INTR)
    assert scene.instances == []
    assert any("no object" in w for w in scene.warnings)


def test_config_validation():
    with pytest.raises(ConfigError, match="voxel"):
        SegmentationConfig(voxel=0.0)
    with pytest.raises(ConfigError, match="max_height"):
        SegmentationConfig(margin=0.2, max_height=0.1)


def test_overlay_and_table(scene_and_truth):
    scene, _, _ = scene_and_truth
    img = mask_overlay(scene, target=1)
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    tgt = scene.instances[1].mask
    # the target is tinted red: red channel dominates inside its mask
    assert img[tgt][:, 0].mean() > img[tgt][:, 2].mean() + 40
    untouched = np.ones((H, W), dtype=bool)
    for inst in scene.instances:
        untouched &= ~inst.mask
    untouched[:40] = False  # labels may be drawn near the top of a bbox
    for inst in scene.instances:
        u0, v0, u1, _ = inst.bbox
        untouched[max(0, v0 - 14): v0 + 2, u0: u0 + 30] = False
    np.testing.assert_array_equal(img[untouched], scene.rgb[untouched])
    rows = instance_table(scene, scores=np.array([0.1, 0.8, 0.1]))
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert rows[1]["score"] == 0.8
    assert set(rows[0]) >= {"description", "color", "shape", "size", "extent_cm", "centroid_world", "num_points"}
    summary = scene.summary()
    assert summary["camera"]["depth_units_assumed"].startswith("metres")
    assert len(summary["instances"]) == 3
    assert set(scene.timings_s) == {"intake", "plane", "clustering", "attributes", "completion"}
