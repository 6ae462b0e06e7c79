"""Motion metrics (App. F) on hand-computed examples, the motion-encoder inputs and network,
and the retrieval baseline's motion transfer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from unihm_core.errors import InputError
from unihm_core.hands import load_hand, q_to_wrist_pose
from unihm_core.metrics import (
    diversity,
    fid,
    fol_deg,
    fpl_mm,
    hand_joint_positions,
    mpjpe_mm,
    rotation_angle_deg,
    trajectory_errors,
)


def rz(deg: float) -> np.ndarray:
    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


# ---------------------------------------------------------------------------------- MPJPE / FPL / FOL
def test_mpjpe_of_known_offsets():
    gt = np.random.default_rng(0).normal(size=(6, 5, 3))
    assert mpjpe_mm(gt + np.array([0.02, 0.0, 0.0]), gt) == pytest.approx(20.0)
    off = np.zeros_like(gt)
    off[:3, :, 1] = 0.01     # half the frames 1 cm off, half 3 cm off -> mean 2 cm
    off[3:, :, 2] = -0.03
    assert mpjpe_mm(gt + off, gt) == pytest.approx(20.0)
    with pytest.raises(InputError):
        mpjpe_mm(gt[:, :4], gt)


def test_fpl_of_known_final_displacement_ignores_earlier_frames():
    gt = np.zeros((4, 3))
    pred = gt.copy()
    pred[:3] += 5.0                                   # earlier frames do not count
    pred[-1] = [0.03, 0.04, 0.0]                      # 3-4-5 triangle: 5 cm
    assert fpl_mm(pred, gt) == pytest.approx(50.0)
    poses_p, poses_g = np.tile(np.eye(4), (4, 1, 1)), np.tile(np.eye(4), (4, 1, 1))
    poses_p[-1, :3, 3] = [0.0, 0.0, 0.012]
    assert fpl_mm(poses_p, poses_g) == pytest.approx(12.0)


def test_fol_of_known_rotations():
    T = np.tile(np.eye(4), (3, 1, 1))
    P = T.copy()
    P[-1, :3, :3] = rz(30.0)
    assert fol_deg(P, T) == pytest.approx(30.0, abs=1e-6)
    P[-1, :3, :3] = Rotation.from_rotvec(np.radians(135.0) * np.array([1.0, 1.0, 0.0]) / np.sqrt(2)).as_matrix()
    assert fol_deg(P, T) == pytest.approx(135.0, abs=1e-6)
    # relative angle, not absolute: both rotated by the same extra rotation -> 0
    R0 = Rotation.from_euler("xyz", [0.3, -0.7, 1.1]).as_matrix()
    assert rotation_angle_deg(R0, R0 @ rz(45.0)) == pytest.approx(45.0, abs=1e-6)
    assert rotation_angle_deg(R0, R0) == pytest.approx(0.0, abs=1e-5)


def test_trajectory_errors_from_fk_rigid_wrist_shift_and_rotation():
    hand = load_hand("allegro")
    rng = np.random.default_rng(1)
    q = hand.random(rng, 5)
    shifted = q.copy()
    shifted[:, 0] += 0.01                             # every link moves 1 cm with the wrist
    e = trajectory_errors(hand, shifted, q)
    assert e["mpjpe_mm"] == pytest.approx(10.0, abs=1e-6)
    assert e["fpl_mm"] == pytest.approx(10.0, abs=1e-6)
    assert e["fol_deg"] == pytest.approx(0.0, abs=1e-4)
    rotated = q.copy()                                # rotate the last frame's root by 20 deg about its own z
    W = q_to_wrist_pose(q[-1, :6])
    W[:3, :3] = W[:3, :3] @ rz(20.0)
    from unihm_core.hands import wrist_pose_to_q

    rotated[-1, :6] = wrist_pose_to_q(W)
    e = trajectory_errors(hand, rotated, q)
    assert e["fol_deg"] == pytest.approx(20.0, abs=1e-5)
    assert e["fpl_mm"] == pytest.approx(0.0, abs=1e-6)
    assert e["mpjpe_mm"] > 0.0


def test_human_mpjpe_uses_the_21_keypoints():
    hand = load_hand("human")
    q = hand.random(np.random.default_rng(2), 3)
    np.testing.assert_allclose(hand_joint_positions(hand, q), hand.keypoints(q), atol=1e-12)
    assert hand_joint_positions(load_hand("shadow"), load_hand("shadow").random(np.random.default_rng(0), 2)).shape[1] \
        == len(load_hand("shadow").link_names)


# ---------------------------------------------------------------------------------- FID / Diversity
def test_fid_zero_for_identical_sets_and_grows_with_mean_shift():
    z = np.random.default_rng(3).normal(size=(200, 8))
    assert fid(z, z) == pytest.approx(0.0, abs=1e-6)
    # equal covariances: FID = ||shift||^2 exactly
    assert fid(z, z + np.array([0.5] + [0.0] * 7)) == pytest.approx(0.25, rel=1e-6)
    values = [fid(z, z + s) for s in (0.1, 0.5, 1.0, 2.0)]
    assert values == sorted(values) and values[-1] == pytest.approx(8 * 4.0, rel=1e-6)


def test_fid_of_known_gaussians():
    # 1-D: FID = (mu1 - mu2)^2 + (s1 - s2)^2 ; take sets with exact sample mean / std
    a = np.array([[-1.0], [1.0]])       # mean 0, sample var 2
    b = np.array([[1.0], [5.0]])        # mean 3, sample var 8
    assert fid(a, b) == pytest.approx(9.0 + (np.sqrt(2) - np.sqrt(8)) ** 2, rel=1e-6)


def test_diversity_of_identical_and_known_samples():
    assert diversity(np.ones((5, 4))) == pytest.approx(0.0, abs=1e-9)
    tri = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])   # pairwise 3, 4, 5
    assert diversity(tri) == pytest.approx(4.0)
    with pytest.raises(InputError):
        diversity(np.zeros((1, 3)))


# ---------------------------------------------------------------------------------- motion encoder
def test_frame_features_are_object_relative_and_padded():
    from unihm_core.metrics.motion_encoder import TIP_SLOTS, feature_width, frame_features

    hand = load_hand("panda_gripper")
    q = hand.random(np.random.default_rng(4), 6)
    poses = np.tile(np.eye(4), (6, 1, 1))
    f0 = frame_features(hand, q, poses)
    assert f0.shape == (6, feature_width(8))
    # move hand and object together: the object-frame hand features stay, the displacement changes
    shift = np.array([0.1, -0.2, 0.05])
    q2 = q.copy()
    q2[:, :3] += shift
    poses2 = poses.copy()
    poses2[:, :3, 3] += shift * np.linspace(1, 2, 6)[:, None]
    q2[:, :3] = q[:, :3] + shift * np.linspace(1, 2, 6)[:, None]
    f1 = frame_features(hand, q2, poses2)
    hand_cols = 9 + 3 * TIP_SLOTS
    np.testing.assert_allclose(f1[:, :hand_cols], f0[:, :hand_cols], atol=1e-5)
    assert not np.allclose(f1[:, hand_cols:hand_cols + 3], f0[:, hand_cols:hand_cols + 3])
    # panda has 2 fingertips: slots 3-5 repeat their centroid
    tips = f0[:, 9:9 + 3 * TIP_SLOTS].reshape(6, TIP_SLOTS, 3)
    np.testing.assert_allclose(tips[:, 2], tips[:, :2].mean(axis=1), atol=1e-5)
    assert f0[0, -8:].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]


def test_encoder_padding_is_invisible():
    import torch

    from unihm_core.metrics.motion_encoder import MotionEncoder, MotionEncoderConfig, MotionEncoderNet

    torch.manual_seed(0)
    cfg = MotionEncoderConfig(hands=("allegro", "human"), tasks=("a", "b"), categories=("x",))
    enc = MotionEncoder(cfg, MotionEncoderNet(cfg))
    rng = np.random.default_rng(5)
    feats = [rng.normal(size=(n, 9 + 15 + 9 + 2)).astype(np.float32) for n in (7, 20, 13)]
    together = enc.encode(feats)
    alone = np.stack([enc.encode([f])[0] for f in feats])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (3, cfg.feature_dim)


# ---------------------------------------------------------------------------------- retrieval baseline
def _moving_poses(T: int) -> np.ndarray:
    P = np.tile(np.eye(4), (T, 1, 1))
    s = np.linspace(0.0, 1.0, T)
    P[:, 0, 3] = 0.3 * s
    P[:, 2, 3] = 0.1 * np.sin(np.pi * s)
    for t in range(T):
        P[t, :3, :3] = rz(90.0 * s[t])
    return P


def test_carry_motion_follows_the_target_object():
    from unihm_core.metrics.baselines import anchored_frames, carry_motion

    hand = load_hand("allegro")
    rng = np.random.default_rng(6)
    Ts, T = 30, 47
    src_poses = np.tile(np.eye(4), (Ts, 1, 1))
    src_poses[:, :3, 3] = [0.05, -0.02, 0.0]
    src_poses[:, :3, :3] = rz(40.0)                    # the source object's yaw does not matter
    q_src = np.repeat(hand.random(rng, 1, wrist_scale=0.0), Ts, axis=0)
    q_src[:, :3] = [0.05, -0.12, 0.08]                 # 10 cm in front of, 8 cm above the object
    tgt = _moving_poses(T)
    tgt[:, :3, 3] += [0.2, 0.1, 0.0]
    q = carry_motion(hand, q_src, src_poses, tgt)
    assert q.shape == (T, hand.dof)
    # anchored frame: world-aligned at the start position, moving rigidly with the object
    C = anchored_frames(tgt)
    np.testing.assert_allclose(C[0], np.block([[np.eye(3), tgt[0, :3, 3:]], [np.zeros((1, 3)), np.ones((1, 1))]]))
    np.testing.assert_allclose(C[-1] @ np.linalg.inv(C[0]), tgt[-1] @ np.linalg.inv(tgt[0]), atol=1e-12)
    rel_src = np.linalg.inv(anchored_frames(src_poses)[0]) @ q_to_wrist_pose(q_src[0, :6])
    rel = np.linalg.inv(C) @ q_to_wrist_pose(q[:, :6])
    np.testing.assert_allclose(rel, np.broadcast_to(rel_src, rel.shape), atol=1e-9)
    np.testing.assert_allclose(rel_src[:3, 3], [0.0, -0.1, 0.08], atol=1e-12)
    np.testing.assert_allclose(q[:, 6:], q_src[:1, 6:].repeat(T, 0), atol=1e-12)
    assert np.all(hand.within_limits(q))
    # time warp: a finger joint ramping linearly in the source ramps linearly over the target
    q_src2 = q_src.copy()
    q_src2[:, 7] = np.linspace(hand.lower[7], hand.upper[7], Ts)
    q2 = carry_motion(hand, q_src2, src_poses, tgt)
    np.testing.assert_allclose(q2[:, 7], np.linspace(hand.lower[7], hand.upper[7], T), atol=1e-12)


def test_carry_motion_starts_at_q0_and_blends_back():
    from unihm_core.metrics.baselines import blend_weights, carry_motion

    w = blend_weights(11, grasp_start=4.0, retreat_start=8.0)
    np.testing.assert_allclose(w, [1, 0.75, 0.5, 0.25, 0, 0, 0, 0, 0, 0.5, 1.0])
    hand = load_hand("allegro")
    rng = np.random.default_rng(8)
    Ts = T = 40
    src_poses = np.tile(np.eye(4), (Ts, 1, 1))
    q_src = np.repeat(hand.random(rng, 1, wrist_scale=0.1), Ts, axis=0)
    q0 = hand.random(rng, wrist_scale=0.1)
    phases = {"grasp": [10, 15], "retreat": [30, 40]}
    q = carry_motion(hand, q_src, src_poses, src_poses, q0=q0, phases=phases)
    np.testing.assert_allclose(q_to_wrist_pose(q[0, :6]), q_to_wrist_pose(q0[:6]), atol=1e-9)
    np.testing.assert_allclose(q[0, 6:], q0[6:], atol=1e-12)
    np.testing.assert_allclose(q[10:31], q_src[10:31], atol=1e-9)   # holding: the recorded motion, unchanged
    np.testing.assert_allclose(q[-1, 6:], q0[6:], atol=1e-12)       # back to the q0 correction at the end


class _FakeDataset:
    def __init__(self, arrays: dict[str, dict[str, np.ndarray]]):
        self._arrays = arrays

    def arrays(self, seq_id: str) -> dict[str, np.ndarray]:
        return self._arrays[seq_id]


class _WordEncoder:
    """Bag-of-words unit vectors over a fixed vocabulary."""

    VOCAB = ("lift", "push", "mug", "box", "the", "please", "rotate")

    def encode(self, texts):
        out = np.array([[w in t.split() for w in self.VOCAB] for t in texts], dtype=np.float64) + 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_retrieval_picks_same_category_and_nearest_instruction_and_excludes_self():
    from unihm_core.metrics.baselines import RetrievalBaseline

    hand, human = load_hand("allegro"), load_hand("human")
    rng = np.random.default_rng(7)
    recs, arrays = [], {}
    spec = [("a", "mug", "lift the mug"), ("b", "mug", "push the mug"), ("c", "box", "lift the box"),
            ("d", "mug", "lift the mug please")]
    for sid, cat, text in spec:
        T = int(rng.integers(20, 40))
        q = hand.random(rng, T, wrist_scale=0.1)
        recs.append({"seq_id": sid, "instructions": [text], "target": {"category": cat},
                     "hands_valid": {"allegro": sid != "d"}})
        arrays[sid] = {"q/allegro": q, "object_poses": np.tile(np.eye(4), (T, 1, 1)),
                       "human_q": human.random(rng, T, wrist_scale=0.1)}
    base = RetrievalBaseline(_FakeDataset(arrays), recs, text_encoder=_WordEncoder())
    out = base.generate("allegro", "lift the mug", "mug", _moving_poses(25))
    assert out.seq_id == "a" and out.same_category and out.q.shape == (25, hand.dof)
    assert base.generate("allegro", "lift the mug", "mug", _moving_poses(25), exclude=("a",)).seq_id == "b"
    # with q0, the initial hand pose decides among the top-k instruction matches
    q0_b = arrays["b"]["q/allegro"][0]
    got = base.generate("allegro", "lift the mug", "mug", np.tile(np.eye(4), (25, 1, 1)), q0=q0_b)
    assert got.seq_id == "b"
    np.testing.assert_allclose(q_to_wrist_pose(got.q[0, :6]), q_to_wrist_pose(q0_b[:6]), atol=1e-9)
    np.testing.assert_allclose(got.q[0, 6:], q0_b[6:], atol=1e-12)
    top1 = RetrievalBaseline(_FakeDataset(arrays), recs, text_encoder=_WordEncoder(), top_k=1)
    assert top1.generate("allegro", "lift the mug", "mug", np.tile(np.eye(4), (25, 1, 1)), q0=q0_b).seq_id == "a"
    # 'd' matches best but its allegro trajectory is invalid; the human hand may use it
    assert base.generate("human", "lift the mug please", "mug", _moving_poses(10)).seq_id == "d"
    # unknown category: falls back to every sequence, nearest instruction wins
    out = base.generate("allegro", "lift the box", "bowl", _moving_poses(12))
    assert out.seq_id == "c" and not out.same_category
