"""Dynamics check: scripted good grasps hold, an open hand does not, results are deterministic."""

import numpy as np
import pytest
import trimesh

from unihm_core.errors import ConfigError, InputError, RenderError
from unihm_core.hands import load_hand
from unihm_core.hands.poses import preset_pose

LIFT_START = 35  # first frame of the lift in the scripted trajectories below


@pytest.fixture(scope="module")
def physics():
    from conftest import in_ci

    try:
        from unihm_core.sim import physics
        from unihm_core.sim.vulkan import import_sapien

        import_sapien()
    except RenderError as exc:
        if in_ci():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    return physics


def _ease(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    s = np.linspace(0.0, 1.0, n)
    s = 3 * s**2 - 2 * s**3
    return a + (b - a) * s[:, None]


def _approach_close_lift(hand, wrist_far, wrist, rot, open_q, closed_q, lift=0.10):
    """Approach (15) + pause (3) + close (12) + settle (5) + lift (20) + hold (10) = 65 frames."""

    def state(p, fingers):
        x = fingers.copy()
        x[:3], x[3:6] = p, rot
        return x

    up = wrist + np.array([0.0, 0.0, lift])
    q = np.concatenate([_ease(state(wrist_far, open_q), state(wrist, open_q), 15),
                        np.tile(state(wrist, open_q), (3, 1)),
                        _ease(state(wrist, open_q), state(wrist, closed_q), 12),
                        np.tile(state(wrist, closed_q), (5, 1)),
                        _ease(state(wrist, closed_q), state(up, closed_q), 20),
                        np.tile(state(up, closed_q), (10, 1))])
    return load_hand(hand).clamp(q)


def _plan(q, x, wrist_z):
    """The object rests at (x, 0, 0) until the lift, then moves up with the wrist."""
    poses = np.tile(np.eye(4), (len(q), 1, 1))
    poses[:, 0, 3] = x
    poses[:, 2, 3] = np.where(np.arange(len(q)) >= LIFT_START, q[:, 2] - wrist_z, 0.0)
    return poses


def panda_box_grasp(close: float = 0.012):
    """Parallel-jaw top grasp of a 4 x 4 x 6 cm box: fingers 1.5 cm above its centre, squeezing
    1 cm inside its faces, then a 10 cm lift."""
    hand = load_hand("panda_gripper")
    wrist_z = 0.045 + 0.103  # fingertip centres 0.103 m below the flipped wrist
    open_q, closed_q = hand.zero(), hand.zero()
    open_q[6], closed_q[6] = 0.04, close
    rot = np.array([np.pi, 0.0, 0.0])  # fingers point down
    q = _approach_close_lift("panda_gripper", np.array([0.3, 0.0, 0.25]), np.array([0.3, 0.0, wrist_z]), rot,
                             open_q, closed_q)
    box = trimesh.creation.box((0.04, 0.04, 0.06))
    box.apply_translation((0.0, 0.0, 0.03))
    return q, box, _plan(q, 0.3, wrist_z)


def allegro_cylinder_grasp(closure: float = 1.0):
    """Side power grasp of an upright cylinder (r = 3 cm, 16 cm tall): palm facing the cylinder,
    fingers horizontal, closing to ``closure`` of the 'power grasp' preset, then a 10 cm lift."""
    hand = load_hand("allegro")
    rot = np.array([np.pi / 2, 0.0, 0.0])  # hand y up, fingers along world -y
    from unihm_core.hands import q_to_wrist_pose

    R = q_to_wrist_pose(np.r_[np.zeros(3), rot])[:3, :3]
    wrist = np.array([0.3, 0.0, 0.08]) - R @ np.array([0.04, 0.0, -0.02])  # axis at palm-frame (x, z) = (4, -2) cm
    wrist[2] = 0.08
    open_q, grasp = preset_pose(hand, "open"), preset_pose(hand, "power grasp")
    closed_q = open_q + closure * (grasp - open_q)
    q = _approach_close_lift("allegro", wrist - R @ np.array([0.08, 0.0, 0.0]), wrist, rot, open_q, closed_q)
    cyl = trimesh.creation.cylinder(radius=0.03, height=0.16, sections=32)
    cyl.apply_translation((0.0, 0.0, 0.08))
    return q, cyl, _plan(q, 0.3, 0.08)


def test_parallel_grasp_holds_and_open_gripper_drops(physics):
    q, box, plan = panda_box_grasp()
    rep = physics.dynamics_check("panda_gripper", q, box, plan)
    assert rep.outcome == "held", rep.to_dict()
    assert rep.tracking_error < 0.01 and rep.final_rotation_error_deg < 5.0
    assert rep.object_positions[-1, 2] > 0.09  # lifted 10 cm
    q_open = q.copy()
    q_open[:, 6] = 0.04  # the same motion with the jaws open: nothing lifts the box
    rep = physics.dynamics_check("panda_gripper", q_open, box, plan)
    assert rep.outcome == "dropped", rep.to_dict()
    assert rep.max_displacement < 0.005 and rep.tracking_error > 0.09


def test_dexterous_power_grasp_holds_and_open_hand_does_not(physics):
    q, cyl, plan = allegro_cylinder_grasp()
    rep = physics.dynamics_check("allegro", q, cyl, plan)
    assert rep.outcome == "held", rep.to_dict()
    assert rep.tracking_error < 0.02 and rep.object_positions[-1, 2] > 0.08
    q_open, _, _ = allegro_cylinder_grasp(closure=0.0)
    rep = physics.dynamics_check("allegro", q_open, cyl, plan)
    assert rep.outcome != "held", rep.to_dict()
    assert rep.object_positions[-1, 2] < 0.01  # still on the table


def test_untouched_object_is_dropped_and_resting_plan_is_held(physics):
    hand = load_hand("inspire")
    q = np.tile(preset_pose(hand, "open", wrist=np.array([-0.3, 0.0, 0.3, 0.0, 0.0, 0.0])), (40, 1))
    box = trimesh.creation.box((0.05, 0.05, 0.08))
    box.apply_translation((0, 0, 0.04))
    lift = np.tile(np.eye(4), (40, 1, 1))
    lift[:, 0, 3] = 0.3
    lift[10:, 2, 3] = np.linspace(0, 0.15, 30)
    rep = physics.dynamics_check("inspire", q, box, lift)
    assert rep.outcome == "dropped" and rep.max_displacement < 0.005 and rep.tracking_error > 0.1
    rest = lift.copy()
    rest[:, 2, 3] = 0.0
    rep = physics.dynamics_check("inspire", q, box, rest)
    assert rep.outcome == "held" and rep.final_position_error < 0.005


def test_mimic_hand_stays_stable(physics):
    """Inspire's mimic joints are driven, not tendon-coupled: a free closing motion tracks (no blow-up)."""
    hand = load_hand("inspire")
    a = preset_pose(hand, "open", wrist=np.array([0.0, 0.0, 0.3, 0.0, 0.0, 0.0]))
    b = preset_pose(hand, "power grasp", wrist=np.array([0.0, 0.0, 0.3, 0.0, 0.0, 0.0]))
    q = _ease(a, b, 30)
    far = np.tile(np.eye(4), (30, 1, 1))
    far[:, 0, 3] = 2.0
    rep = physics.dynamics_check("inspire", q, trimesh.creation.box((0.04, 0.04, 0.04)), far)
    assert rep.hand_tracking_error < 0.02


def test_deterministic(physics):
    q, cyl, plan = allegro_cylinder_grasp()
    a = physics.dynamics_check("allegro", q, cyl, plan)
    b = physics.dynamics_check("allegro", q, cyl, plan)
    np.testing.assert_array_equal(a.object_positions, b.object_positions)
    assert a.to_dict() == b.to_dict()


def test_classify_and_validation(physics):
    plan = np.zeros((5, 3))
    plan[:, 2] = np.linspace(0.0, 0.1, 5)
    assert physics.classify(plan + 0.01, plan)[0] == "held"
    assert physics.classify(np.zeros((5, 3)), plan)[0] == "dropped"
    moved = np.zeros((5, 3))
    moved[:, 0] = 0.05
    assert physics.classify(moved, plan)[0] == "slipped"
    with pytest.raises(ConfigError):
        physics.DynamicsConfig(substeps=0)
    with pytest.raises(ConfigError):
        physics.DynamicsConfig(friction=-1.0)
    with pytest.raises(InputError):
        physics.dynamics_check("allegro", np.zeros((3, 5)), trimesh.creation.box((0.1, 0.1, 0.1)),
                               np.tile(np.eye(4), (3, 1, 1)))
