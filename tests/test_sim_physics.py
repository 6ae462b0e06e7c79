"""Dynamics check: a hand-free object stays put (dropped), a kinematically carried one is held."""

import numpy as np
import pytest
import trimesh

from unihm_core.errors import RenderError
from unihm_core.hands import load_hand
from unihm_core.hands.poses import preset_pose


@pytest.fixture(scope="module")
def check():
    from conftest import in_ci

    try:
        from unihm_core.sim.physics import dynamics_check
        from unihm_core.sim.vulkan import import_sapien

        import_sapien()
    except RenderError as exc:
        if in_ci():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return dynamics_check


def _lift_plan(T=40):
    poses = np.tile(np.eye(4), (T, 1, 1))
    poses[:, :2, 3] = [0.3, 0.0]
    poses[:, 2, 3] = np.concatenate([np.zeros(10), np.linspace(0, 0.15, T - 10)])
    return poses


def test_untouched_object_is_dropped(check):
    hand = load_hand("allegro")
    q = np.tile(preset_pose(hand, "open", wrist=np.array([-0.3, 0.0, 0.3, 0.0, 0.0, 0.0])), (40, 1))
    box = trimesh.creation.box((0.05, 0.05, 0.08))
    box.apply_translation((0, 0, 0.04))
    rep = check("allegro", q, box, _lift_plan())
    assert rep.outcome == "dropped"
    assert rep.max_displacement < 0.01
    assert rep.tracking_error > 0.1


def test_object_resting_as_planned_is_held(check):
    hand = load_hand("inspire")
    q = np.tile(preset_pose(hand, "open", wrist=np.array([-0.3, 0.0, 0.3, 0.0, 0.0, 0.0])), (20, 1))
    box = trimesh.creation.box((0.05, 0.05, 0.08))
    box.apply_translation((0, 0, 0.04))
    plan = np.tile(np.eye(4), (20, 1, 1))
    plan[:, 0, 3] = 0.3
    rep = check("inspire", q, box, plan)
    assert rep.outcome == "held" and rep.final_position_error < 0.005
