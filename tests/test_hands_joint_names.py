"""Joint names that mean something (unihm_core/hands/joint_names.py)."""

from __future__ import annotations

import pytest

from unihm_core import HAND_NAMES, load_hand
from unihm_core.errors import JointLimitError
from unihm_core.hands.joint_names import describe_joints, joint_label


def test_leap_numbers_become_finger_and_joint():
    spec = load_hand("leap").spec
    assert joint_label(spec, "1") == "1 (index finger, MCP flexion)"
    assert joint_label(spec, "0") == "0 (index finger, MCP abduction)"
    assert joint_label(spec, "7") == "7 (middle finger, DIP)"
    assert joint_label(spec, "13") == "13 (thumb, joint 2 of 4 from the palm)"
    m = describe_joints(spec)
    assert {m[str(i)].finger for i in range(4)} == {"index"} and {m[str(i)].finger for i in range(12, 16)} == {"thumb"}


def test_shadow_wrist_joints_are_wrist():
    hand = load_hand("shadow")
    m = describe_joints(hand.spec)
    assert m["WRJ1"].kind == m["WRJ2"].kind == "wrist"
    assert m["FFJ3"].kind == "finger" and m["FFJ3"].finger == "index" and m["LFJ5"].finger == "little"
    table = {r["joint"]: r for r in hand.joint_table()}
    assert table["WRJ2"]["kind"] == "wrist" and table["FFJ4"]["kind"] == "finger"
    assert table[hand.joint_names[0]]["kind"] == "floating wrist"
    assert "wrist" in table["WRJ1"]["meaning"] and table["THJ1"]["meaning"] == "thumb, IP (J1)"


def test_descriptive_names_stay_and_every_joint_is_described():
    for name in HAND_NAMES:
        hand = load_hand(name)
        m = describe_joints(hand.spec)
        assert set(hand.joint_names[6:]) <= set(m), name
    human = load_hand("human").spec
    assert joint_label(human, "index_pip_flex") == "index_pip_flex"
    assert describe_joints(human)["index_pip_flex"].finger == "index"
    allegro = load_hand("allegro").spec
    assert joint_label(allegro, "joint_0.0") == "joint_0.0 (index finger, abduction)"


def test_limit_error_names_the_joint_meaningfully():
    hand = load_hand("leap")
    q = hand.zero()
    q[6] = 99.0
    with pytest.raises(JointLimitError, match=r"'1 \(index finger, MCP flexion\)' = 99"):
        hand.check(q)
