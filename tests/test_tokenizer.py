"""Tokenizer building blocks: quantiser, straight-through gradient, Eq. 5 loss, cold-code refresh,
features round trip, distillation, Tokenizer encode/decode/save/load on tiny synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from unihm_core.errors import InputError  # noqa: E402
from unihm_core.tokenizer.codebook import kmeans, quantise, refresh_cold_codes, usage_stats, vq_loss  # noqa: E402
from unihm_core.tokenizer.features import (  # noqa: E402
    Normaliser,
    features_to_q,
    hand_features,
    matrix_from_rot6d,
    pad_to_multiple,
    rot6d_from_matrix,
)
from unihm_core.tokenizer.model import MultiHandVQ, TokenizerConfig  # noqa: E402


def test_quantise_returns_true_nearest_code():
    g = torch.Generator().manual_seed(0)
    cb = torch.randn(37, 5, generator=g)
    z = torch.randn(4, 6, 5, generator=g)
    _, idx, z_q = quantise(z, cb)
    brute = torch.cdist(z.reshape(-1, 5), cb).argmin(1).reshape(4, 6)
    assert torch.equal(idx, brute)
    assert torch.allclose(z_q, cb[brute])


def test_straight_through_gradient_reaches_encoder_unchanged():
    cb = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    z = torch.tensor([[0.2, -0.1], [0.9, 1.3]], requires_grad=True)
    z_st, idx, _ = quantise(z, cb)
    assert idx.tolist() == [0, 1]
    assert torch.allclose(z_st, cb[idx])  # forward value is the code
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    (z_st * w).sum().backward()
    assert torch.allclose(z.grad, w)  # d/dz of the decoder input is the identity


def test_vq_loss_matches_eq5_by_hand():
    z_e = torch.tensor([[1.0, 2.0]], requires_grad=True)
    cb = torch.tensor([[0.0, 0.0], [1.5, 2.5]], requires_grad=True)
    _, idx, z_q = quantise(z_e, cb)
    assert idx.item() == 1
    total, cb_term, commit = vq_loss(z_e, z_q, beta=0.25)
    # squared distance (0.5^2 + 0.5^2) = 0.5, element mean over 2 dims -> 0.25
    assert cb_term.item() == pytest.approx(0.25)
    assert commit.item() == pytest.approx(0.25)
    assert total.item() == pytest.approx(0.25 + 0.25 * 0.25)
    total.backward()
    # codebook term moves e_c towards sg[z_e]: d/de = 2 (e - z_e) / 2 ; commitment moves z_e by beta
    assert torch.allclose(cb.grad[1], torch.tensor([0.5, 0.5]))
    assert torch.allclose(cb.grad[0], torch.zeros(2))
    assert torch.allclose(z_e.grad, 0.25 * torch.tensor([-0.5, -0.5]))


def test_cold_code_refresh_changes_exactly_the_cold_codes():
    rng = np.random.default_rng(0)
    cb = rng.normal(size=(10, 3)).astype(np.float32)
    counts = np.array([5, 0, 3, 0, 1, 0, 9, 2, 0, 1])
    buffer = rng.normal(loc=10.0, size=(200, 3))
    new, cold = refresh_cold_codes(cb, counts, buffer, tau_c=1, rng=rng)
    assert cold.tolist() == [1, 3, 5, 8]
    hot = np.setdiff1d(np.arange(10), cold)
    assert np.array_equal(new[hot], cb[hot])
    assert np.all(np.any(new[cold] != cb[cold], axis=1))
    assert np.all(np.abs(new[cold].mean(1) - 10.0) < 1.0)  # centroids of the buffer
    assert len({tuple(r) for r in new[cold]}) == 4  # distinct centroids


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    x = np.concatenate([c + 0.1 * rng.normal(size=(50, 2)) for c in centres])
    got = kmeans(x, 3, rng)
    assert np.max(np.min(np.linalg.norm(got[:, None] - centres[None], axis=-1), axis=0)) < 0.1


def test_usage_stats_perplexity():
    s = usage_stats(np.array([0, 1, 2, 3] * 5), 8)
    assert (s.used, s.dead) == (4, 4)
    assert s.perplexity == pytest.approx(4.0)
    assert usage_stats(np.zeros(10, int), 8).perplexity == pytest.approx(1.0)


def test_features_round_trip_and_object_frame():
    from unihm_core.hands import load_hand, q_to_wrist_pose

    rng = np.random.default_rng(2)
    hand = load_hand("allegro")
    q = hand.random(rng, 7)
    poses = q_to_wrist_pose(np.concatenate([rng.uniform(-0.2, 0.2, (7, 3)), rng.uniform(-3, 3, (7, 3))], 1))
    f = hand_features(q, poses)
    assert f.shape == (7, 9 + hand.finger_dof)
    back = features_to_q(f, poses)
    assert np.allclose(q_to_wrist_pose(back[:, :6]), q_to_wrist_pose(q[:, :6]), atol=1e-5)
    assert np.allclose(back[:, 6:], q[:, 6:], atol=1e-6)
    # moving the object and the hand together leaves the features unchanged
    shift = q_to_wrist_pose(np.array([0.1, -0.3, 0.05, 0.3, -0.2, 1.0]))
    q2 = q.copy()
    from unihm_core.hands import wrist_pose_to_q

    q2[:, :6] = wrist_pose_to_q(shift @ q_to_wrist_pose(q[:, :6]))
    assert np.allclose(hand_features(q2, shift @ poses), f, atol=1e-5)


def test_rot6d_gram_schmidt_and_padding():
    from scipy.spatial.transform import Rotation

    R = Rotation.random(5, random_state=3).as_matrix()
    assert np.allclose(matrix_from_rot6d(rot6d_from_matrix(R) * 2.0), R, atol=1e-9)
    a = np.arange(5)[:, None] * np.ones((1, 2))
    p = pad_to_multiple(a, 4)
    assert p.shape == (8, 2) and np.all(p[5:] == a[-1])
    with pytest.raises(InputError):
        pad_to_multiple(a[:0], 4)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_model_shapes_one_token_per_chunk(arch):
    cfg = TokenizerConfig(arch=arch, chunk_len=4, codebook_size=16, code_dim=8, hidden=16, depth=1, window=16)
    m = MultiHandVQ(cfg, {"a": 12, "b": 20})
    out = m("a", torch.randn(3, 16, 12))
    assert out["x_hat"].shape == (3, 16, 12) and out["idx"].shape == (3, 4)
    assert m.decode("b", m.codebook[out["idx"]]).shape == (3, 16, 20)


def _paired_toy(rng, n=64, T=16):
    """Two 'hands' observing the same latent motion through different linear maps."""
    s = np.cumsum(rng.normal(size=(n, T, 3)) * 0.3, axis=1)
    A, B = rng.normal(size=(3, 10)), rng.normal(size=(3, 14))
    return (s @ A).astype(np.float32), (s @ B).astype(np.float32)


def test_distillation_lowers_encoder_distance_on_heldout_pairs():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_ref, x_new = _paired_toy(rng, 96)
    tr, te = slice(0, 64), slice(64, 96)
    cfg = TokenizerConfig(arch="mlp", chunk_len=4, codebook_size=16, code_dim=8, hidden=32, depth=1, window=16)
    m = MultiHandVQ(cfg, {"ref": 10, "new": 14})
    xr, xn = torch.from_numpy(x_ref), torch.from_numpy(x_new)
    with torch.no_grad():
        before = (m.encode("new", xn[te]) - m.encode("ref", xr[te])).pow(2).mean().item()
    opt = torch.optim.Adam(m.encoders["new"].parameters(), lr=3e-3)
    for _ in range(150):
        with torch.no_grad():
            target = m.encode("ref", xr[tr])
        loss = (m.encode("new", xn[tr]) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = (m.encode("new", xn[te]) - m.encode("ref", xr[te])).pow(2).mean().item()
    assert after < 0.2 * before


def test_tokenizer_encode_decode_save_load(tmp_path):
    from unihm_core.hands import load_hand
    from unihm_core.tokenizer.features import feature_dim
    from unihm_core.tokenizer.tokenizer import Tokenizer

    torch.manual_seed(0)
    rng = np.random.default_rng(4)
    hand = load_hand("panda_gripper")
    cfg = TokenizerConfig(arch="conv", chunk_len=4, codebook_size=8, code_dim=4, hidden=8, depth=1, window=8)
    F = feature_dim(hand.finger_dof)
    model = MultiHandVQ(cfg, {"panda_gripper": F})
    model.eval()
    tok = Tokenizer(cfg, model, {"panda_gripper": Normaliser(np.zeros(F, np.float32), np.ones(F, np.float32))})
    q = hand.random(rng, 10)
    poses = np.repeat(np.eye(4)[None], 10, 0)
    tokens = tok.encode("panda_gripper", q, poses)
    assert tokens.shape == (3,) and tokens.dtype == np.int64 and tokens.max() < 8
    q_hat = tok.decode("panda_gripper", tokens, poses)
    assert q_hat.shape == (10, hand.dof) and np.all(hand.within_limits(q_hat))
    tok.save(tmp_path)
    tok2 = Tokenizer.load(tmp_path)
    assert np.array_equal(tok2.encode("panda_gripper", q, poses), tokens)
    assert np.allclose(tok2.decode("panda_gripper", tokens, poses), q_hat)
    with pytest.raises(InputError):
        tok.decode("panda_gripper", tokens, np.repeat(np.eye(4)[None], 13, 0))  # more frames than tokens cover
    with pytest.raises(InputError):
        tok.decode("panda_gripper", np.array([8]), poses[:4])  # id out of range
