"""Instruction grammar: distinctness, target mention, determinism, split policy, true spatial
relations, disambiguation, every task family, vocabulary variety."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from unihm_core.data import OBJECT_REGISTRY, make_object, sample_camera, sample_scene, scene_with_objects
from unihm_core.data.instructions import (
    FRAMES,
    LOCATIONS,
    PARTICIPLES,
    TASKS,
    TERSE_TEMPLATES,
    UNSEEN_ONLY_NOUNS,
    UNSEEN_ONLY_SYNONYMS,
    UNSEEN_ONLY_TEMPLATES,
    UNSEEN_ONLY_VERBS,
    VERB_TEMPLATES,
    describe_object,
    generate_instructions,
    is_unambiguous,
    make_instructions,
    referents,
    unseen_only_items,
)
from unihm_core.errors import InputError

CAMERA = sample_camera(np.random.default_rng(0))
SPATIAL_WORDS = re.compile(r"\b(left|right|leftmost|rightmost|front|back|behind|nearest|closest|farthest|furthest|"
                           r"middle|centre|next to|beside|near|by|closer)\b")
#: verb stems per task family (any inflection: "lift", "lifted", "lifting")
TASK_STEMS = {
    "grab": ("pick", "grab", "lift", "tak", "rais", "grasp", "hold", "held", "fetch", "hoist"),
    "pick_place": ("put", "plac", "set", "drop", "mov", "carr", "get", "relocat", "transfer"),
    "push": ("push", "shov", "slid", "nudg", "away"),  # terse: "The mug away from me, please."
    "pull": ("pull", "drag", "slid", "tug", "towards"),
    "open": ("open", "lid"),
    "close": ("clos", "shut", "lid", "push"),
    "rotate": ("rotat", "turn", "spin", "spun", "swivel", "twist"),
    "pour": ("pour", "tip", "empt", "dump", "decant"),
    "handover": ("hand", "pass", "giv", "brin", "brou", "fetch", "deliver", "please"),
}


def _has_task_verb(task: str, text: str) -> bool:
    return any(w.startswith(TASK_STEMS[task]) for w in _words(text))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z'-]+", text.lower()))


def _mentions_target(text: str, scene) -> bool:
    low = text.lower()
    return any(re.search(rf"\b{re.escape(n)}\b", low) for n in scene.target.instance.nouns)


def _task_for(scene, k: int) -> tuple[str, dict | None]:
    """A task the target supports and its place (cycles through the families)."""
    inst = scene.target.instance
    if inst.joint is not None:
        return ("open", "close")[k % 2], None
    task = [t for t in TASKS if t not in ("open", "close")][k % 7]
    if task == "pick_place" and scene.receptacle is None:
        return task, {"location": LOCATIONS[k % 5]}
    return task, None


@pytest.fixture(scope="module")
def scenes():
    return [sample_scene(np.random.default_rng(100 + s)) for s in range(40)]


def test_five_distinct_wellformed_instructions_mentioning_the_target(scenes):
    for k, sc in enumerate(scenes[:24]):
        task, place = _task_for(sc, k)
        for split in ("seen", "unseen"):
            ins = generate_instructions(task, sc, np.random.default_rng(k), place=place, split=split)
            texts = [i.text for i in ins]
            assert texts == make_instructions(task, sc, np.random.default_rng(k), place=place, split=split)
            assert len(texts) == 5 and len(set(texts)) == 5
            for t, i in zip(texts, ins):
                assert _mentions_target(t, sc), (t, sc.target.instance.nouns)
                assert t[0].isupper() and t[-1] in ".?", t
                assert "{" not in t and "  " not in t and " ," not in t and not re.search(r"\bthe the\b", t), t
                assert i.register == "terse" or _has_task_verb(task, t), (task, t)  # "Red mug into the bowl."


def test_deterministic_for_a_fixed_seed(scenes):
    sc = scenes[3]
    a = make_instructions("grab", sc, np.random.default_rng(7), split="unseen")
    b = make_instructions("grab", sc, np.random.default_rng(7), split="unseen")
    c = make_instructions("grab", sc, np.random.default_rng(8), split="unseen")
    assert a == b
    assert a != c


def test_split_inventories_are_disjoint():
    registry_nouns = {n for s in OBJECT_REGISTRY.values() for n in s.nouns}
    assert UNSEEN_ONLY_NOUNS <= registry_nouns
    for spec in OBJECT_REGISTRY.values():
        assert spec.nouns[0] not in UNSEEN_ONLY_NOUNS  # the canonical noun is always available
        assert any(n not in UNSEEN_ONLY_NOUNS for n in spec.nouns)
        for n in spec.nouns:  # seen nouns never contain an unseen-only item
            if n not in UNSEEN_ONLY_NOUNS:
                assert unseen_only_items(f"the {n}.") == [], n
    assert set(UNSEEN_ONLY_VERBS) | UNSEEN_ONLY_NOUNS == UNSEEN_ONLY_SYNONYMS
    seen_text = [p for _, p in FRAMES["seen"]] + [t for v in VERB_TEMPLATES.values() for t in v["seen"]]
    seen_text += [t for v in PARTICIPLES.values() for t in v["seen"]] + [t for v in TERSE_TEMPLATES.values() for t in v]
    for t in seen_text:
        assert unseen_only_items(t.replace("{", "").replace("}", "")) == [], t
    for t in [t for v in VERB_TEMPLATES.values() for t in v["unseen"]]:
        assert any(i.startswith("verb:") for i in unseen_only_items(t)), t
    for p in UNSEEN_ONLY_TEMPLATES:
        sample = p.replace("{VPing}", "picking it up").replace("{VP}", "pick it up").replace("{o}", "the mug")
        sample = sample.replace("{pp}", "lifted").replace("{vp_it}", "lift it")
        sample = sample[0].upper() + sample[1:]
        assert any(i.startswith("frame:") for i in unseen_only_items(sample)), p


def test_seen_split_never_and_unseen_split_often_uses_unseen_only_items(scenes):
    seen_hits = 0
    for k, sc in enumerate(scenes):  # 40 scenes x 5 = 200 seen instructions
        task, place = _task_for(sc, k)
        seen_hits += sum(bool(unseen_only_items(t))
                         for t in make_instructions(task, sc, np.random.default_rng(k), place=place, split="seen"))
    assert seen_hits == 0
    kinds, hits, total = Counter(), 0, 0
    for k, sc in enumerate(scenes):  # the same 40 scenes in unseen language: 200 instructions
        task, place = _task_for(sc, k)
        for ins in generate_instructions(task, sc, np.random.default_rng(k), place=place, split="unseen"):
            total += 1
            hits += bool(ins.unseen_only)
            kinds.update(i.split(":")[0] for i in ins.unseen_only)
    assert total == 200
    assert hits / total >= 0.3, hits / total
    assert kinds["verb"] >= 10 and kinds["noun"] >= 10 and kinds["frame"] >= 10, kinds


def _two_mug_scene(target_x: float, seed_a: int = 3, seed_b: int = 3):
    """Two mugs at y = 0 (x = +-0.15) with a bowl between them; the target is at ``target_x``."""
    return scene_with_objects([("mug", seed_a, (target_x, 0.0, 0.0)), ("mug", seed_b, (-target_x, 0.0, 0.0)),
                               ("bowl", 11, (0.0, 0.0, 0.0))], CAMERA)


def test_spatial_relation_predicates_follow_the_viewer_convention():
    sc = _two_mug_scene(-0.15)  # object 0 at x = -0.15 (viewer's left), object 1 at x = +0.15
    bowl = {"noun": "bowl"}
    assert referents({"noun": "mug", "relation": {"kind": "left_of", "landmark": bowl}}, sc) == [0]
    assert referents({"noun": "mug", "relation": {"kind": "right_of", "landmark": bowl}}, sc) == [1]
    assert referents({"noun": "mug", "superlative": "leftmost"}, sc) == [0]
    assert referents({"noun": "mug", "superlative": "rightmost"}, sc) == [1]
    assert referents({"noun": "mug", "location": "left"}, sc) == [0]
    assert referents({"noun": "mug", "location": "right"}, sc) == [1]
    assert referents({"noun": "mug", "relation": {"kind": "next_to", "landmark": bowl}}, sc) == [0, 1]
    assert not is_unambiguous({"noun": "mug"}, sc)
    assert is_unambiguous({"noun": "mug", "superlative": "leftmost"}, sc)
    assert not is_unambiguous({"noun": "mug", "superlative": "rightmost"}, sc)  # true of object 1, not the target
    # front/back: +y is away from the viewer
    fb = scene_with_objects([("mug", 3, (0.0, -0.12, 0.0)), ("mug", 3, (0.0, 0.14, 0.0)),
                             ("bowl", 11, (0.0, 0.01, 0.0))], CAMERA)
    assert referents({"noun": "mug", "superlative": "nearest"}, fb) == [0]
    assert referents({"noun": "mug", "superlative": "farthest"}, fb) == [1]
    assert referents({"noun": "mug", "relation": {"kind": "in_front_of", "landmark": bowl}}, fb) == [0]
    assert referents({"noun": "mug", "relation": {"kind": "behind", "landmark": bowl}}, fb) == [1]
    assert referents({"noun": "cup"}, fb) == [0, 1]  # bare head noun of "cup with a handle"


@pytest.mark.parametrize("target_x, good, bad", [(-0.15, "left", "right"), (0.15, "right", "left")])
def test_emitted_left_right_relations_are_true(target_x, good, bad):
    sc = _two_mug_scene(target_x)  # identical mugs: only the side tells them apart
    for seed in range(8):
        for ins in generate_instructions("grab", sc, np.random.default_rng(seed), split="seen"):
            low = ins.text.lower()
            assert good in low and bad not in low, ins.text
            assert is_unambiguous(ins.target_attrs, sc), (ins.text, ins.target_attrs)


def test_same_noun_distractor_forces_a_distinguishing_attribute():
    red = next(s for s in range(200) if make_object("mug", s).colour_name == "red")
    white = next(s for s in range(200) if make_object("mug", s).colour_name == "white")
    sc = scene_with_objects([("mug", red, (0.05, 0.10, 0.3)), ("mug", white, (-0.12, -0.05, 1.0)),
                             ("banana", 5, (0.2, -0.1, 0.0))], CAMERA)
    for seed in range(10):
        for task in ("grab", "push", "handover"):
            for ins in generate_instructions(task, sc, np.random.default_rng(seed), split="seen"):
                a = ins.target_attrs
                assert is_unambiguous(a, sc), (ins.text, a)
                assert set(a) & {"colour", "size", "material", "location", "relation", "superlative"}, ins.text
                low = ins.text.lower()
                if "colour" in a:
                    assert "red" in low, ins.text
                assert SPATIAL_WORDS.search(low) or "red" in low or "small" in low or "large" in low or \
                    "big" in low or "little" in low or "smaller" in low or "larger" in low or "bigger" in low, ins.text


def test_generated_phrases_are_unambiguous_in_random_scenes(scenes):
    for k, sc in enumerate(scenes):
        task, place = _task_for(sc, k)
        for ins in generate_instructions(task, sc, np.random.default_rng(k), place=place):
            assert is_unambiguous(ins.target_attrs, sc), (ins.text, ins.target_attrs)
            if ins.place_attrs is not None and "location" not in ins.place_attrs:
                assert is_unambiguous(ins.place_attrs, sc, index=place_index(sc, place)), ins.text


def place_index(sc, place):
    if place and "receptacle_index" in place:
        return place["receptacle_index"]
    return next(k for k, o in enumerate(sc.objects) if o.role == "receptacle")


def test_every_task_family_produces_sensible_text():
    rng = np.random.default_rng(3)
    mug = sample_scene(rng, target_type="mug", split="seen", receptacle_type="bowl", n_distractors=2)
    drawer = sample_scene(rng, target_type="drawer", split="seen", receptacle_type=False, n_distractors=2)
    lidded = sample_scene(rng, target_type="lidded_box", split="seen", receptacle_type=False, n_distractors=2)
    rec = next(k for k, o in enumerate(mug.objects) if o.role == "receptacle")
    cases = [("grab", mug, {}), ("push", mug, {}), ("pull", mug, {}), ("handover", mug, {}), ("pour", mug, {}),
             ("rotate", mug, {}), ("rotate", mug, {"angle_deg": 90.0}), ("rotate", mug, {"angle_deg": -45.0}),
             ("pick_place", mug, {"place": {"receptacle_index": rec}}),
             ("pick_place", mug, {"place": {"location": "left", "xyz": [-0.22, 0.0, 0.0]}}),
             ("pour", mug, {"place": {"receptacle_index": rec}}),
             ("open", drawer, {}), ("close", drawer, {}), ("open", lidded, {}), ("close", lidded, {})]
    for task, sc, kw in cases:
        for split in ("seen", "unseen"):
            for seed in range(2):
                for ins in generate_instructions(task, sc, np.random.default_rng(seed), split=split, **kw):
                    t, low = ins.text, ins.text.lower()
                    assert ins.register == "terse" or _has_task_verb(task, t), (task, t)
                    assert _mentions_target(t, sc), t
                    if "place" in kw and "location" in kw["place"]:
                        assert "left" in low, t
                    if "place" in kw and "receptacle_index" in kw["place"]:
                        assert any(n in low for n in sc.objects[rec].instance.nouns), t
                    if task == "rotate" and kw.get("angle_deg") == -45.0 and "clockwise" in low:
                        assert "anticlockwise" not in low and "counter" not in low, t
                    if task == "rotate" and "angle_deg" not in kw:
                        assert "degree" not in low and "quarter" not in low and "half" not in low, t
                    if sc is drawer:
                        assert not re.search(r"\blid\b", low), t
    rot = make_instructions("rotate", mug, np.random.default_rng(0), n=12, angle_deg=90.0)
    assert any(re.search(r"ninety|90|quarter", t) for t in rot)


def test_invalid_requests_raise():
    sc = sample_scene(np.random.default_rng(4), target_type="mug", split="seen", receptacle_type=False)
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        make_instructions("juggle", sc, rng)
    with pytest.raises(InputError):
        make_instructions("open", sc, rng)  # a mug has no joint
    with pytest.raises(InputError):
        make_instructions("grab", sc, rng, place={"location": "left"})
    with pytest.raises(InputError):
        make_instructions("pick_place", sc, rng)  # no receptacle, no place
    with pytest.raises(InputError):
        make_instructions("pick_place", sc, rng, place={"receptacle_index": 1})  # a distractor, not a receptacle
    with pytest.raises(InputError):
        make_instructions("pick_place", sc, rng, place={"location": "upstairs"})
    with pytest.raises(InputError):
        make_instructions("grab", sc, rng, split="test")
    with pytest.raises(InputError):
        referents({"colour": "red"}, sc)


def test_describe_object():
    seeds = sorted(range(60), key=lambda s: float(np.prod(make_object("mug", s).size)))
    small, large = seeds[0], seeds[-1]
    inst = make_object("mug", small)
    d = describe_object(inst)
    assert d.startswith("the ") and d.endswith(" mug") and inst.colour_name in d
    sc = scene_with_objects([("mug", small, (-0.1, 0.0, 0.0)), ("mug", large, (0.12, 0.0, 0.0))], CAMERA)
    ratio = np.prod(sc.objects[1].instance.size) / np.prod(sc.objects[0].instance.size)
    assert ratio >= 1.5
    assert describe_object(sc.objects[0].instance, sc).startswith("the small ")
    assert describe_object(sc.objects[1].instance, sc).startswith("the large ")
    assert describe_object(make_object("orange", 1)) in ("the orange", "the small orange")


def test_vocabulary_variety_over_60_scenes(scenes):
    extra = [sample_scene(np.random.default_rng(900 + s)) for s in range(20)]
    texts, verbs, frames = [], set(), set()
    for k, sc in enumerate(list(scenes) + extra):  # seen language
        task, place = _task_for(sc, k)
        for ins in generate_instructions(task, sc, np.random.default_rng(k), place=place):
            texts.append(ins.text)
            verbs.add(ins.verb_template)
            frames.add(ins.frame)
    words = Counter(w for t in texts for w in _words(t))
    lengths = [len(t.split()) for t in texts]
    assert len(texts) == 300
    assert len(set(texts)) >= 285
    assert len(verbs) >= 50 and len(frames) >= 30
    assert len(words) >= 150
    assert min(lengths) <= 4 and max(lengths) >= 18
