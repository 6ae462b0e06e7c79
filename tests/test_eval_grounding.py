"""The scoring rule of bench/eval_grounding.py on hand-made masks (no dataset needed)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.eval_grounding import MAJORITY, _scene_facts, instance_label, iou, matches


def _gt() -> np.ndarray:
    """8 x 10 label image: object 1 in columns 0-3, object 2 in columns 6-9, table (0) between."""
    gt = np.zeros((8, 10), dtype=np.uint8)
    gt[:, 0:4] = 1
    gt[:, 6:10] = 2
    return gt


def test_instance_inside_one_object_matches_it():
    gt = _gt()
    inst = np.zeros_like(gt, dtype=bool)
    inst[2:5, 1:3] = True  # 6 pixels, all on object 1 (a small part of its 32)
    assert instance_label(inst, gt) == (1, 1.0)
    assert matches(inst, gt, 1) and not matches(inst, gt, 2)
    assert iou(inst, gt, 1) == pytest.approx(6 / 32)  # low IoU does not fail a right pick


def test_majority_decides_and_a_tie_is_no_object():
    gt = _gt()
    inst = np.zeros_like(gt, dtype=bool)
    inst[0, 0:4] = True   # 4 pixels on object 1
    inst[0, 4:6] = True   # 2 table pixels
    inst[0, 6:9] = True   # 3 pixels on object 2
    label, frac = instance_label(inst, gt)
    assert label is None and frac == pytest.approx(4 / 9)  # 44 % is no majority
    assert not matches(inst, gt, 1) and not matches(inst, gt, 2)
    inst[1, 0:4] = True   # now 8 of 13 on object 1
    assert instance_label(inst, gt) == (1, pytest.approx(8 / 13))
    assert matches(inst, gt, 1)
    # exactly half is not a majority
    half = np.zeros_like(gt, dtype=bool)
    half[0, 2:4] = True
    half[0, 4:6] = True
    assert instance_label(half, gt)[1] == pytest.approx(MAJORITY)
    assert instance_label(half, gt)[0] is None


def test_table_and_empty_instances_never_match():
    gt = _gt()
    table = np.zeros_like(gt, dtype=bool)
    table[:, 4:6] = True
    assert instance_label(table, gt) == (0, 1.0)
    assert not matches(table, gt, 0)  # label 0 is the background, never a target
    assert instance_label(np.zeros_like(gt, dtype=bool), gt) == (None, 0.0)
    with pytest.raises(ValueError, match="differ in shape"):
        instance_label(np.zeros((3, 3), bool), gt)


def test_scene_facts_same_category_distractors():
    def obj(cat, colour, label, role):
        return {"category": cat, "colour_name": colour, "mask_label": label, "role": role, "shape_class": "cylinder"}

    rec = {"task": "pick_place", "place": {"receptacle_index": 2},
           "scene": {"target_index": 0, "objects": [obj("mug", "red", 1, "target"), obj("mug", "blue", 2, "distractor"),
                                                     obj("bowl", "white", 3, "receptacle")]}}
    f = _scene_facts(rec)
    assert f["target_label"] == 1 and f["receptacle_label"] == 3
    assert f["same_category"] and f["same_category_other_colour"] and not f["same_category_same_colour"]
    rec["scene"]["objects"][1]["category"] = "can"
    rec["task"] = "grab"
    f = _scene_facts(rec)
    assert not f["same_category"] and f["receptacle_label"] is None
