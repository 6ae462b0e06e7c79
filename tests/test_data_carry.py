"""Rigid carrying of retargeted robot sequences (unihm_core.data.carry)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from unihm_core.data.carry import BLEND_FRAMES, moving_runs, rigid_carry
from unihm_core.data.validation import moving_frames
from unihm_core.hands import load_hand


def test_moving_runs():
    m = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], bool)
    assert moving_runs(m) == [(1, 2), (5, 5), (7, 9)]
    assert moving_runs(np.zeros(4, bool)) == []


@pytest.fixture(scope="module")
def scene():
    """40 frames: object still for 10, lifted 10 cm and turned 70 degrees (with a 3-frame pause
    in the middle), then still; a hand trajectory that wobbles relative to it."""
    T = 40
    s = np.zeros(T)
    s[10:20] = np.linspace(0.05, 0.5, 10)
    s[20:23] = 0.5  # pause: the hand does not let go
    s[23:30] = np.linspace(0.55, 1.0, 7)
    s[30:] = 1.0
    P = np.repeat(np.eye(4)[None], T, axis=0)
    P[:, :3, :3] = Rotation.from_rotvec(np.outer(s, [0, 0, np.deg2rad(70)])).as_matrix()
    P[:, :3, 3] = np.array([0.4, 0.0, 0.05]) + np.outer(s, [0, 0, 0.1])
    hand = load_hand("allegro")
    rng = np.random.default_rng(0)
    q = np.repeat(hand.clamp(hand.zero() + 0.3)[None], T, axis=0)
    q[:, :3] = [0.4, -0.1, 0.15]
    q += rng.normal(size=q.shape) * 0.003  # drift/noise of per-frame solutions
    return hand, hand.clamp(q), P


def _palm_in_object(hand, q, P):
    palm = hand.link_positions(q, (hand.spec.palm_link,))[:, 0]
    inv = np.linalg.inv(P)
    return np.einsum("tij,tj->ti", inv[:, :3, :3], palm) + inv[:, :3, 3]


def test_grasp_is_held_while_the_object_moves(scene):
    hand, q, P = scene
    moving = moving_frames(P)
    out = rigid_carry(hand, q, P, moving)
    local = _palm_in_object(hand, out, P)
    carried = slice(9, 30)  # from the last still frame through the pause to the last moving one
    np.testing.assert_allclose(local[carried], np.repeat(local[9:10], 21, axis=0), atol=1e-9)
    np.testing.assert_allclose(out[carried, 6:], np.repeat(q[9:10, 6:], 21, axis=0))  # fingers frozen
    np.testing.assert_allclose(out[:10], q[:10], atol=1e-12)  # before the carry: untouched
    assert hand.within_limits(out).all()


def test_release_is_blended_not_jumped(scene):
    hand, q, P = scene
    out = rigid_carry(hand, q, P, moving_frames(P))
    step = np.abs(np.diff(out, axis=0)).max(1)
    offset = np.abs(out[29] - q[29]).max()
    assert offset > 0.003  # the carry really changed the end of the run
    assert step[29:29 + BLEND_FRAMES].max() < offset  # faded out over several frames
    np.testing.assert_allclose(out[30 + BLEND_FRAMES:], q[30 + BLEND_FRAMES:])
