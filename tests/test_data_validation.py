"""Validation rules of synthetic sequences: each rule rejects a sequence built to break it."""

import numpy as np
import pytest
import trimesh

from unihm_core.data.motions import SurfaceModel
from unihm_core.data.validation import moving_frames, validate_sequence

R = 0.04  # sphere radius [m]
T = 20


@pytest.fixture(scope="module")
def sphere():
    return SurfaceModel.from_mesh(trimesh.creation.icosphere(subdivisions=4, radius=R), 4000, seed=0)


def _lift(T_frames: int = T) -> np.ndarray:
    poses = np.tile(np.eye(4), (T_frames, 1, 1))
    poses[:, 2, 3] = np.concatenate([np.zeros(T_frames // 2), np.linspace(0, 0.1, T_frames - T_frames // 2)])
    return poses


def _grasp(poses: np.ndarray, offsets=(0.001, 0.001, 0.001)) -> tuple[np.ndarray, np.ndarray]:
    """Fingertips around the sphere at radius R + offset, wrist 10 cm away, all moving with it."""
    dirs = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0]], float)
    tips_local = dirs * (R + np.asarray(offsets))[:, None]
    tips = tips_local[None] + poses[:, None, :3, 3]
    wrist = poses.copy()
    wrist[:, 0, 3] += 0.1
    return tips, wrist


def test_good_sequence_passes(sphere):
    poses = _lift()
    tips, wrist = _grasp(poses)
    rep = validate_sequence(tips, wrist, poses, sphere)
    assert rep.ok, rep.reasons
    assert rep.min_contacts_while_moving == 3


def test_penetration_rejected(sphere):
    poses = _lift()
    tips, wrist = _grasp(poses, offsets=(-0.008, 0.001, 0.001))
    rep = validate_sequence(tips, wrist, poses, sphere)
    assert "penetration" in rep.reasons
    assert rep.max_penetration == pytest.approx(0.008, abs=0.0015)


def test_too_few_contacts_while_moving_rejected(sphere):
    poses = _lift()
    tips, wrist = _grasp(poses, offsets=(0.001, 0.02, 0.03))
    rep = validate_sequence(tips, wrist, poses, sphere)
    assert rep.reasons == ("no_contact_while_moving",)


def test_drift_rejected(sphere):
    poses = _lift()
    tips, wrist = _grasp(poses)
    wrist[:, 1, 3] += np.linspace(0, 0.04, T)  # slides 2 cm relative to the object while it moves
    rep = validate_sequence(tips, wrist, poses, sphere)
    assert rep.reasons == ("drift",)
    assert rep.max_drift > 0.01


def test_static_object_needs_no_contact(sphere):
    poses = np.tile(np.eye(4), (T, 1, 1))
    tips, wrist = _grasp(poses, offsets=(0.05, 0.05, 0.05))
    assert validate_sequence(tips, wrist, poses, sphere).ok
    assert not moving_frames(poses).any()


def test_robot_fingertip_spheres_are_measured_from_their_surface(sphere):
    """A robot fingertip is a sphere's centre: one radius off the surface it touches, and on the
    surface it is a radius deep inside."""
    r = 0.01
    poses = _lift()
    tips, wrist = _grasp(poses, offsets=(r + 0.001, r + 0.001, r + 0.001))
    assert validate_sequence(tips, wrist, poses, sphere, tip_radius=r).ok
    assert "no_contact_while_moving" in validate_sequence(tips, wrist, poses, sphere).reasons
    on_surface, _ = _grasp(poses)
    rep = validate_sequence(on_surface, wrist, poses, sphere, tip_radius=r)
    assert "penetration" in rep.reasons and rep.max_penetration == pytest.approx(r - 0.001, abs=0.0015)
