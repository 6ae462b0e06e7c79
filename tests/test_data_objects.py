"""Procedural objects: valid meshes, metadata, seeded sizes, articulation, seen/unseen split."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.data import (
    COLOUR_RGB,
    MATERIAL_RENDER,
    OBJECT_REGISTRY,
    OBJECT_TYPES,
    SEEN_TYPES,
    UNSEEN_INSTANCE_FRACTION,
    UNSEEN_TYPES,
    JointSpec,
    make_object,
    sample_object,
    sample_object_type,
    split_of,
)
from unihm_core.errors import ConfigError, InputError

REQUIRED = ["cracker_box", "sugar_box", "soup_can", "tuna_can", "coffee_can", "mustard_bottle", "bleach_bottle",
            "water_bottle", "mug", "bowl", "plate", "tennis_ball", "apple", "orange", "lemon", "banana",
            "wooden_block", "toy_cube", "marker", "spray_can", "cup", "drawer", "lidded_box",
            # the YCB objects people put on tables (issue 17)
            "gelatin_box", "potted_meat_can", "pitcher", "foam_brick", "power_drill", "scissors", "clamp"]


def test_registry_has_required_types():
    assert len(OBJECT_TYPES) >= 30
    assert set(REQUIRED) <= set(OBJECT_TYPES)


def test_every_type_has_a_label_and_a_description():
    labels = [s.label for s in OBJECT_REGISTRY.values()]
    assert len(set(labels)) == len(labels)  # people tell the types apart by their labels
    for spec in OBJECT_REGISTRY.values():
        assert spec.label and len(spec.description.split()) >= 5, spec.type_name
        assert make_object(spec.type_name, 0).to_dict()["label"] == spec.label
    assert OBJECT_REGISTRY["potted_meat_can"].label == "Spam tin"
    assert "tin of spam" in OBJECT_REGISTRY["potted_meat_can"].nouns
    # tools and the Spam tin have the sizes of their YCB originals (largest side, [m])
    for name, (lo, hi) in {"power_drill": (0.17, 0.26), "scissors": (0.13, 0.21), "clamp": (0.12, 0.19),
                           "pitcher": (0.19, 0.26), "potted_meat_can": (0.09, 0.11)}.items():
        sizes = [max(make_object(name, s).size) for s in range(8)]
        assert lo <= min(sizes) and max(sizes) <= hi, (name, sizes)
    with pytest.raises(ConfigError, match="label and a description"):
        from unihm_core.data.objects import ObjectSpec
        ObjectSpec("x", "box", ("x",), "box", "power", False, ("red",), ("plastic",))


@pytest.mark.parametrize("type_name", OBJECT_TYPES)
def test_every_type_builds_a_valid_mesh_with_metadata(type_name):
    obj = make_object(type_name, 1234)
    for part in obj.parts:
        assert part.mesh.is_watertight, f"{type_name}/{part.name} not watertight"
        assert part.mesh.volume > 0, f"{type_name}/{part.name} has non-positive volume"
        assert len(part.rgb) == 3 and all(0.0 <= c <= 1.0 for c in part.rgb)
        assert part.material in MATERIAL_RENDER
    mesh = obj.mesh
    assert mesh.bounds[0, 2] == pytest.approx(0.0, abs=1e-9)  # rests on z = 0
    np.testing.assert_allclose(mesh.extents, obj.size, atol=1e-9)
    assert 0.015 < max(obj.size) < 0.35 and min(obj.size) > 0.005  # realistic tabletop sizes [m]
    # origin near the bottom centre: inside the footprint's bounding box
    lo, hi = mesh.bounds[0, :2], mesh.bounds[1, :2]
    assert np.all(lo < 0) and np.all(hi > 0)
    spec = obj.spec
    assert obj.name == spec.nouns[0] and len(spec.nouns) >= 2
    assert obj.colour_name in spec.colours and obj.colour_name in COLOUR_RGB
    assert spec.shape_class in ("box", "cylinder", "sphere", "other")
    assert spec.grasp_type in ("power", "pinch", "tripod", "lateral")
    assert obj.instance_id.startswith(type_name + "-")
    d = obj.to_dict()
    assert d["type_name"] == type_name and d["nouns"] == list(spec.nouns) and d["split"] == obj.split
    fp = obj.footprint()
    assert fp.shape[1] == 2 and len(fp) >= 3


@pytest.mark.parametrize("type_name", OBJECT_TYPES)
def test_sizes_vary_with_seed_and_are_deterministic(type_name):
    a, b = make_object(type_name, 7), make_object(type_name, 7)
    np.testing.assert_array_equal(a.mesh.vertices, b.mesh.vertices)
    assert a.rgb == b.rgb and a.colour_name == b.colour_name
    sizes = {tuple(np.round(make_object(type_name, s).size, 6)) for s in range(6)}
    assert len(sizes) >= 5
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    assert sample_object(type_name, rng1).instance_id == sample_object(type_name, rng2).instance_id


def test_colours_vary_for_multicolour_types():
    names = {make_object("mug", s).colour_name for s in range(30)}
    assert len(names) >= 3
    # the rgb stays close to the named colour (language must be truthful)
    for s in range(30):
        o = make_object("mug", s)
        assert np.linalg.norm(np.subtract(o.rgb, COLOUR_RGB[o.colour_name])) < 0.2


def test_articulated_objects_have_joints_and_moving_parts():
    drawer = make_object("drawer", 5)
    assert drawer.joint is not None and drawer.joint.kind == "prismatic"
    assert drawer.spec.articulated == "prismatic" and drawer.spec.is_receptacle
    moving_closed = drawer.moving_mesh.vertices
    opened = drawer.mesh_at(drawer.joint.upper)
    closed = drawer.mesh_at(drawer.joint.lower)
    np.testing.assert_allclose(opened.vertices[:len(drawer.parts[0].mesh.vertices)],
                               closed.vertices[:len(drawer.parts[0].mesh.vertices)])  # cabinet is static
    # the drawer slides out towards -y by exactly the opening, the cabinet stays
    assert opened.bounds[0, 1] == pytest.approx(closed.bounds[0, 1] - drawer.joint.upper, abs=1e-9)
    assert drawer.joint.upper > 0.1
    assert moving_closed.shape[0] > 0

    box = make_object("lidded_box", 5)
    assert box.joint is not None and box.joint.kind == "revolute"
    assert box.joint.upper > np.pi / 2  # the lid opens past vertical
    lid_closed = box.moving_mesh
    t = box.joint.transform(box.joint.upper)
    lid_open = lid_closed.copy()
    lid_open.apply_transform(t)
    assert lid_open.bounds[1, 2] > lid_closed.bounds[1, 2] + 0.05  # lid rises
    # hinge points stay fixed under the rotation
    o = np.append(box.joint.origin, 1.0)
    np.testing.assert_allclose(t @ o, o, atol=1e-12)

    for name in OBJECT_TYPES:
        if name not in ("drawer", "lidded_box"):
            obj = make_object(name, 0)
            assert obj.joint is None and obj.moving_mesh is None


def test_joint_limits_are_enforced():
    drawer = make_object("drawer", 1)
    with pytest.raises(InputError):
        drawer.mesh_at(drawer.joint.upper + 0.05)
    with pytest.raises(ConfigError):
        JointSpec("prismatic", (0.0, 2.0, 0.0), (0.0, 0.0, 0.0), 0.0, 0.1)
    with pytest.raises(ConfigError):
        JointSpec("revolute", (1.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.5, 0.1)


def test_unseen_types_never_in_seen_split():
    assert set(UNSEEN_TYPES) == {"lemon", "coffee_can"}
    assert not set(UNSEEN_TYPES) & set(SEEN_TYPES)
    rng = np.random.default_rng(0)
    for _ in range(200):
        t = sample_object_type(rng, "seen")
        assert t not in UNSEEN_TYPES
        obj = sample_object(t, rng, "seen")
        assert obj.split == "seen" and split_of(t, obj.instance_seed) == "seen"
    for t in UNSEEN_TYPES:
        with pytest.raises(InputError):
            sample_object(t, rng, "seen")
        assert all(split_of(t, s) == "unseen" for s in range(50))


def test_instance_split_fraction_and_determinism():
    seeds = range(3000)
    frac = np.mean([split_of("mug", s) == "unseen" for s in seeds])
    assert abs(frac - UNSEEN_INSTANCE_FRACTION) < 0.03
    assert [split_of("bowl", s) for s in range(100)] == [split_of("bowl", s) for s in range(100)]
    rng = np.random.default_rng(1)
    assert all(sample_object("bowl", rng, "unseen").split == "unseen" for _ in range(20))
    # overall share of unseen instances when types are drawn uniformly: about 20 %
    overall = (len(UNSEEN_TYPES) + len(SEEN_TYPES) * UNSEEN_INSTANCE_FRACTION) / len(OBJECT_TYPES)
    assert 0.17 < overall < 0.25


def test_unknown_type_raises():
    with pytest.raises(InputError, match="unknown object type"):
        make_object("teapot", 0)
    assert "mug" in OBJECT_REGISTRY
