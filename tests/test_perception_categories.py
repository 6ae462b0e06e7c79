"""Catalogue categories: the per-instance prior, nouns the lists hold, free nouns by sentence
embedding, '#N' selection and the ambiguity path of grounding."""

from __future__ import annotations

import numpy as np
import pytest

from perception_synth import BLUE, CX, CY, FX, FY, GREEN, H, ORANGE, RED, W, WHITE, Obj, render
from unihm_core.data.objects import OBJECT_REGISTRY
from unihm_core.errors import InputError
from unihm_core.perception import Intrinsics, ground, perceive
from unihm_core.perception import categories as cat
from unihm_core.perception.grounding import AMBIGUITY_MARGIN, AmbiguityError, near_ties, parse_noun_phrase
from unihm_core.pipeline import check_instruction

INTR = Intrinsics(fx=FX, fy=FY, cx=CX, cy=CY, width=W, height=H)


@pytest.fixture(scope="module")
def scene():
    """A soup-can-sized red cylinder, a cracker-box-sized red box, an orange-sized orange
    sphere, two same-size blue cylinders and a white bowl-sized flat cylinder."""
    objs = [
        Obj("cylinder", (-0.02, 0.12), (0.034, 0.10), RED),
        Obj("box", (0.17, 0.12), (0.16, 0.06, 0.21), RED, yaw=0.2),
        Obj("sphere", (0.02, -0.10), (0.037,), ORANGE),
        Obj("cylinder", (-0.16, 0.0), (0.03, 0.09), BLUE),
        Obj("cylinder", (-0.16, 0.16), (0.03, 0.09), BLUE),
        Obj("cylinder", (0.18, -0.12), (0.08, 0.05), WHITE),
    ]
    rgb, depth, T, _ = render(objs, noise=0.0015, seed=5)
    s = perceive(rgb, depth, INTR, extrinsics=T)
    assert len(s.instances) == len(objs)
    return s, objs


def _idx(scene, obj):
    d = [np.linalg.norm(i.centroid_world[:2] - np.array(obj.xy)) for i in scene.instances]
    return int(np.argmin(d))


def test_catalogue_covers_the_registry_with_size_ranges():
    names = cat.category_names()
    assert names == tuple(OBJECT_REGISTRY)
    drill = cat.get_category("power_drill")
    assert drill.label == "power drill" and 0.17 < drill.size_hi[0] < 0.26
    assert np.all(drill.size_lo <= drill.size_hi)
    assert "blue" in cat.get_category("potted_meat_can").colours
    assert cat.noun_types("tin of spam") == {"potted_meat_can": 1.0}
    assert {"soup_can", "tuna_can", "coffee_can", "potted_meat_can"} <= set(cat.noun_types("can"))
    assert cat.noun_types("teapot") == {}


def test_instances_carry_top_k_categories_from_geometry_and_colour(scene):
    s, objs = scene
    for inst in s.instances:
        names = [n for n, _ in inst.categories]
        probs = [p for _, p in inst.categories]
        assert len(names) == cat.TOP_K and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
        assert inst.summary()["categories"][0][0] == names[0]
    top = {k: [n for n, _ in s.instances[_idx(s, o)].categories] for k, o in enumerate(objs)}
    assert top[1][0] == "cracker_box"           # a red 16 x 6 x 21 cm box
    assert "soup_can" in top[0]                # a red 6.8 x 10 cm cylinder
    assert top[2][0] in ("orange", "apple")    # an orange 7.4 cm sphere
    assert "cracker_box" not in top[2] and "orange" not in top[1]


def test_catalogue_nouns_are_parsed_as_the_head_noun():
    npr = parse_noun_phrase("the tin of spam")
    assert npr.noun == "tin of spam" and npr.types == {"potted_meat_can": 1.0}
    assert parse_noun_phrase("the power drill").types == {"power_drill": 1.0}
    box = parse_noun_phrase("the orange box")  # a box that is orange, not the fruit
    assert box.noun == "box" and box.colors == ["orange"] and "orange" not in box.types
    free = parse_noun_phrase("the small clementine")
    assert free.noun is None and free.free_noun == "clementine" and free.size == "small"
    assert parse_noun_phrase("#3").index == 3 and parse_noun_phrase("#3").free_noun is None


@pytest.mark.parametrize(("noun", "expected"), [("clementine", "orange"), ("cordless screwdriver", "power_drill"),
                                                 ("ceramic teacup", "mug")])
def test_free_nouns_match_the_nearest_type_by_embedding(encoder, noun, expected):
    texts = cat.catalogue_texts()[0]
    emb = encoder.encode([noun] + texts)
    types, best = cat.embedding_types(emb[0], emb[1:])
    assert expected in types and best >= cat.WEAK_SIMILARITY
    assert max(types, key=types.get) == expected


def test_unknown_noun_grounded_by_embedding_instead_of_refused(scene, encoder):
    s, objs = scene
    g = ground(s, "pick up the clementine", encoder=encoder)
    assert g.target == _idx(s, objs[2]), g.explanation
    assert "read as orange" in g.explanation
    g = ground(s, "grab the can of tomato soup", encoder=encoder)  # the head noun comes before "of"
    assert g.target == _idx(s, objs[0]), g.explanation
    # another language is still refused, not matched to the nearest type
    with pytest.raises(InputError, match="could not read"):
        ground(s, "prends la tasse jaune", encoder=encoder)


def test_catalogue_noun_prefers_the_matching_category(scene, encoder):
    s, objs = scene
    g = ground(s, "pick up the cracker box", encoder=encoder)
    assert g.target == _idx(s, objs[1])
    g = ground(s, "pick up the red soup can", encoder=encoder)  # both red: the size decides
    assert g.target == _idx(s, objs[0]), g.explanation


def test_number_selects_an_instance(scene, encoder):
    s, objs = scene
    a, b = _idx(s, objs[0]), _idx(s, objs[5])
    g = ground(s, f"put #{a} into #{b}", encoder=encoder)
    assert g.target == a and g.task == "pick_place" and g.place.kind == "instance" and g.place.index == b
    assert ground(s, f"#{b}", encoder=encoder).target == b
    with pytest.raises(InputError, match="no object #9"):
        ground(s, "pick up #9", encoder=encoder)
    with pytest.raises(InputError, match="already the object"):
        ground(s, f"put #{a} into #{a}", encoder=encoder)
    assert check_instruction(" #2 ") == "#2"  # no letters, but a number names an object
    with pytest.raises(InputError, match="no English words"):
        check_instruction("??")


def test_near_tie_is_reported_as_ambiguous_with_the_candidates(scene, encoder):
    s, objs = scene
    blue = {_idx(s, objs[3]), _idx(s, objs[4])}
    with pytest.raises(AmbiguityError) as err:
        ground(s, "pick up the blue cylinder", encoder=encoder)
    e = err.value
    assert set(e.candidates) == blue and e.what == "the object" and e.scores.shape == (len(s.instances),)
    assert "#" in str(e) and "click on it" in str(e)
    assert isinstance(e, InputError)  # every caller that shows refusals shows this one
    # saying which one, or clicking, resolves it
    assert ground(s, "pick up the nearest blue cylinder", encoder=encoder).target == _idx(s, objs[3])
    far = s.instances[_idx(s, objs[4])]
    v, u = np.argwhere(far.mask)[len(np.argwhere(far.mask)) // 2]
    assert ground(s, "pick it up", click=(float(u), float(v)), encoder=encoder).target == far.index
    # an ambiguous place is reported too
    with pytest.raises(AmbiguityError) as err:
        ground(s, "put the orange into the blue cylinder", encoder=encoder)
    assert err.value.what == "the place" and set(err.value.candidates) == blue


def test_near_ties_threshold():
    assert 0.0 < AMBIGUITY_MARGIN < 0.3
    assert near_ties(np.array([0.50, 0.49, 0.2])) == [0, 1]
    assert near_ties(np.array([0.50, 0.40, 0.2])) == [0]
    assert near_ties(np.zeros(3)) == []
