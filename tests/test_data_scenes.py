"""Tabletop scene sampling: layout without overlaps, distractor counts, camera, splits, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from unihm_core.data import (
    OBJECT_REGISTRY,
    UNSEEN_TYPES,
    SceneConfig,
    footprints_overlap,
    polygon_gap,
    sample_camera,
    sample_scene,
    visible_fractions,
)
from unihm_core.errors import ConfigError, InputError

SEEDS = range(16)


@pytest.fixture(scope="module")
def scenes():
    return [sample_scene(np.random.default_rng(s)) for s in SEEDS]


def test_polygon_gap_on_known_squares():
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert polygon_gap(sq, sq + [1.5, 0.0]) == pytest.approx(0.5)
    assert polygon_gap(sq, sq + [0.5, 0.5]) < 0
    assert footprints_overlap(sq, sq + [1.01, 0.0], min_gap=0.02)
    assert not footprints_overlap(sq, sq + [1.03, 0.0], min_gap=0.02)


def test_scenes_have_no_overlap_and_valid_roles(scenes):
    cfg = SceneConfig()
    for sc in scenes:
        roles = [o.role for o in sc.objects]
        assert roles[0] == "target"
        assert 1 <= roles.count("distractor") <= 4
        assert roles.count("receptacle") <= 1
        if sc.receptacle is not None:
            assert OBJECT_REGISTRY[sc.receptacle.instance.type_name].is_receptacle
        for a, b in itertools.combinations(sc.objects, 2):
            assert polygon_gap(a.footprint_world(), b.footprint_world()) >= cfg.min_gap - 1e-9
        for o in sc.objects:
            assert o.pose[2, 3] == 0.0  # resting on the table top
            np.testing.assert_allclose(o.pose[:3, 2], [0, 0, 1])  # upright, yaw only
            assert o.world_vertices()[:, 2].min() == pytest.approx(0.0, abs=1e-9)
        # distinct instances
        assert len({o.instance.instance_id for o in sc.objects}) == len(sc.objects)


def test_receptacles_and_distractor_counts_occur(scenes):
    n_d = {len(sc.distractors) for sc in scenes}
    assert min(n_d) >= 1 and max(n_d) <= 4 and len(n_d) >= 3
    assert any(sc.receptacle is not None for sc in scenes) and any(sc.receptacle is None for sc in scenes)


def test_camera_ranges_and_target_in_view(scenes):
    cfg = SceneConfig()
    for sc in scenes:
        cam = sc.camera
        assert (cam.width, cam.height) == (640, 480)
        assert cfg.focal_px[0] <= cam.fx <= cfg.focal_px[1]
        assert abs(cam.fy / cam.fx - 1) <= 0.005
        assert abs(cam.cx - 320) <= 4 and abs(cam.cy - 240) <= 4
        r = cam.extrinsics[:3, :3]
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(r) == pytest.approx(1.0)
        pos = cam.position
        dist = np.linalg.norm(pos)  # look-at point is within 7 cm of the origin
        assert 0.5 - 0.08 <= dist <= 1.0 + 0.08
        elev = np.degrees(np.arcsin(r[2, 2] * -1))  # optical axis pitch below horizontal
        assert 28.0 <= elev <= 67.0
        assert pos[1] < 0  # in front of the table (viewer on -y)
        # image "down" (y) points roughly down in the world
        assert r[2, 1] < 0
        uv, z = cam.project(sc.target.world_vertices().mean(axis=0, keepdims=True))
        assert z[0] > 0 and 0 <= uv[0, 0] < cam.width and 0 <= uv[0, 1] < cam.height
        assert visible_fractions(cam, sc.objects)[0] >= cfg.min_target_visible


def test_camera_projection_of_look_at_point_is_near_centre():
    cfg = SceneConfig(look_at_jitter=0.0, cam_roll_deg=0.0, principal_jitter_px=0.0)
    cam = sample_camera(np.random.default_rng(0), cfg, look_at=(0.1, 0.05, 0.0))
    uv, z = cam.project(np.array([[0.1, 0.05, 0.0]]))
    np.testing.assert_allclose(uv[0], [320.0, 240.0], atol=1e-6)
    assert z[0] == pytest.approx(np.linalg.norm(cam.position - [0.1, 0.05, 0.0]))


def test_split_respected():
    for s in range(8):
        sc = sample_scene(np.random.default_rng(100 + s), split="seen")
        assert all(o.instance.split == "seen" for o in sc.objects)
        assert not {o.instance.type_name for o in sc.objects} & set(UNSEEN_TYPES)
        sc = sample_scene(np.random.default_rng(200 + s), split="unseen")
        assert all(o.instance.split == "unseen" for o in sc.objects)
    with pytest.raises(InputError):
        sample_scene(np.random.default_rng(0), target_type="lemon", split="seen")


def test_arguments_control_the_scene():
    sc = sample_scene(np.random.default_rng(5), target_type="mug", receptacle_type="bowl", n_distractors=2)
    assert sc.target.instance.type_name == "mug"
    assert sc.receptacle.instance.type_name == "bowl"
    assert len(sc.distractors) == 2
    sc = sample_scene(np.random.default_rng(5), target_type="drawer", receptacle_type=False)
    assert sc.receptacle is None and sc.target.joint_value is not None
    lo, hi = sc.target.instance.joint.lower, sc.target.instance.joint.upper
    assert lo <= sc.target.joint_value <= hi
    with pytest.raises(InputError):
        sample_scene(np.random.default_rng(0), receptacle_type="mug")
    with pytest.raises(ConfigError):
        SceneConfig(min_distractors=3, max_distractors=2)


def test_scene_sampling_is_deterministic():
    a = sample_scene(np.random.default_rng(42))
    b = sample_scene(np.random.default_rng(42))
    assert [o.instance.instance_id for o in a.objects] == [o.instance.instance_id for o in b.objects]
    np.testing.assert_array_equal(a.object_poses, b.object_poses)
    np.testing.assert_array_equal(a.camera.extrinsics, b.camera.extrinsics)
    assert a.to_dict() == b.to_dict()
    c = sample_scene(np.random.default_rng(43))
    assert not np.array_equal(a.camera.extrinsics, c.camera.extrinsics)


def test_scene_dict_is_json_ready(scenes):
    import json

    d = scenes[0].to_dict()
    text = json.dumps(d)
    back = json.loads(text)
    assert back["objects"][0]["role"] == "target" and back["objects"][0]["mask_label"] == 1
    assert len(back["camera"]["extrinsics"]) == 4
