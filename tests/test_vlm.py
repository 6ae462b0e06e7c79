"""DexHand VLM: vocabulary, masking curriculum, slot alignment, generation, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlm_standin import HashTextEncoder, StandInTokenizer, synth_sequence
from unihm_core.errors import ConfigError, InputError
from unihm_core.vlm import SPECIAL_TOKENS, VLM_HANDS, VLMConfig, mask_rate
from unihm_core.vlm.conditioning import trajectory_features
from unihm_core.vlm.generate import filter_logits, generate_tokens
from unihm_core.vlm.masking import sample_mask
from unihm_core.vlm.model import DexHandVLM, VLMExample
from unihm_core.vlm.pointnet import PointNetEncoder, preprocess_points
from unihm_core.vlm.vocab import BPETextTokenizer, VocabLayout

TINY = dict(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, head_dim=32, intermediate_size=128,
            traj_hidden=64, pointnet_dims=(32, 64), max_text_tokens=12, pc_points=64, pc_slots=2,
            codebook_size=32, chunk_len=4)
TEXTS = ["lift the mug", "push the box to the left", "rotate the red ball", "please lift the small mug"]


@pytest.fixture(scope="module")
def model() -> DexHandVLM:
    torch.set_num_threads(1)
    bpe = BPETextTokenizer.train(TEXTS, vocab_size=300)
    m = DexHandVLM.from_scratch(VLMConfig(text_vocab_size=bpe.vocab_size, **TINY), bpe, seed=0)
    m.attach_tokenizer(StandInTokenizer(codebook_size=32, chunk_len=4))
    m.text_encoder = HashTextEncoder()
    return m.eval()


def request(seed: int = 0, task: str = "lift", T: int = 21):
    arr = synth_sequence(np.random.default_rng(seed), task, T)
    return arr["obj_points"], arr["object_poses"], arr


def example(model: DexHandVLM, hand: str = "allegro", seed: int = 0, text: str = "lift the mug") -> VLMExample:
    pts, poses, arr = request(seed)
    q = arr["human_q"] if hand == "human" else arr[f"q/{hand}"]
    ex = model.make_example(hand, text, pts, poses, q[0])
    ex.tokens = model.hand_tokenizer.encode(hand, q, poses)
    return ex


# ------------------------------------------------------------------ vocabulary
def test_vocabulary_layout_is_contiguous(model):
    lay = model.layout
    K = model.config.codebook_size
    assert lay.code_hi - lay.code_lo == K == 32
    assert [lay.hand_type(h) for h in VLM_HANDS] == list(range(lay.hand_lo, lay.hand_lo + 8))
    assert [lay.special(s) for s in SPECIAL_TOKENS] == list(range(lay.text_vocab_size, lay.hand_lo))
    assert lay.code_lo == lay.hand_lo + 8 and lay.size == lay.code_hi
    assert model.qwen.get_input_embeddings().num_embeddings == lay.size
    assert model.qwen.get_output_embeddings().weight.shape[0] == lay.size
    ids = model.text_ids("lift the mug")
    assert ids.max() < lay.text_vocab_size
    assert model.text_tokenizer.decode(ids.tolist()).strip() == "lift the mug"
    with pytest.raises(ConfigError):
        lay.hand_type("octopus")


def test_restricted_logits_equal_masked_full_logits(model):
    batch = model.collate([example(model)], 1.0)
    with torch.no_grad():
        h = model.qwen.model(inputs_embeds=model.embed(batch)).last_hidden_state[:, model.prefix_len:]
        full = model.qwen.lm_head(h)
        restricted = model.hand_logits(h)
    lay = model.layout
    masked = torch.full_like(full, float("-inf"))
    masked[..., lay.code_lo:lay.code_hi] = full[..., lay.code_lo:lay.code_hi]
    assert restricted.shape[-1] == 32
    torch.testing.assert_close(torch.log_softmax(restricted, -1),
                               torch.log_softmax(masked, -1)[..., lay.code_lo:lay.code_hi])
    # unrestricted argmax would often be a text token for an untrained model; restricted never is
    toks = generate_tokens(model, [example(model)], temperature=1.0, seed=0)[0]
    assert toks.min() >= 0 and toks.max() < 32


# ------------------------------------------------------------------ masking curriculum
def test_mask_rate_schedule_exact():
    assert [mask_rate(e, 10) for e in range(3)] == [0.0, 0.0, 0.0]        # progress <= 20 %
    assert mask_rate(5, 10) == pytest.approx(0.5)                          # 50 % at 50 %
    assert mask_rate(8, 10) == 1.0 and mask_rate(9, 10) == 1.0             # 100 % from 80 %
    assert mask_rate(20, 100) == 0.0 and mask_rate(35, 100) == pytest.approx(0.25)
    assert mask_rate(50, 100) == pytest.approx(0.5) and mask_rate(80, 100) == 1.0 and mask_rate(99, 100) == 1.0
    rates = [mask_rate(e, 100) for e in range(100)]
    assert all(b >= a for a, b in zip(rates, rates[1:]))
    with pytest.raises(ConfigError):
        mask_rate(0, 0)


def test_sample_mask_rate():
    g = torch.Generator().manual_seed(0)
    assert not sample_mask((100,), 0.0, g).any() and sample_mask((100,), 1.0, g).all()
    assert abs(float(sample_mask((20000,), 0.3, g).float().mean()) - 0.3) < 0.02


def test_collate_context_follows_mask_rate(model):
    ex = example(model)
    lay, S0 = model.layout, model.prefix_len
    b0 = model.collate([ex], 0.0)
    ctx = b0.ids[0, S0:S0 + len(ex.tokens)].numpy()
    assert ctx[0] == lay.code_lo + ex.pose_token                          # slot 0: E_h(q0)
    np.testing.assert_array_equal(ctx[1:], lay.code_lo + ex.tokens[:-1])  # slot i: GT token i-1
    np.testing.assert_array_equal(b0.labels[0].numpy(), ex.tokens)        # label i: token i
    b1 = model.collate([ex], 1.0)
    assert (b1.ids[0, S0:] == lay.special("[MASK]")).all()


# ------------------------------------------------------------------ slot alignment
def test_trajectory_slot_i_aligns_with_label_i(model):
    """Output i depends on trajectory chunk i but not on chunks > i (and not on label i)."""
    ex = example(model)
    base = model.collate([ex], 0.0)
    with torch.no_grad():
        ref = model(base)
        j = 3
        pert = model.collate([ex], 0.0)
        pert.traj[0, j] += 1.0
        out = model(pert)
        torch.testing.assert_close(out[0, :j], ref[0, :j])
        assert (out[0, j] - ref[0, j]).abs().max() > 1e-4
        # changing GT token j changes only the context of slot j+1: outputs <= j are unchanged
        ex2 = VLMExample(**{**ex.__dict__, "tokens": ex.tokens.copy()})
        ex2.tokens[j] = (ex2.tokens[j] + 1) % 32
        out2 = model(model.collate([ex2], 0.0))
        torch.testing.assert_close(out2[0, :j + 1], ref[0, :j + 1])
        assert (out2[0, j + 1] - ref[0, j + 1]).abs().max() > 1e-4


def test_trajectory_features_chunks():
    poses = np.repeat(np.eye(4)[None], 10, axis=0)
    poses[:, 0, 3] = np.arange(10) * 0.01
    f = trajectory_features(poses, 4)
    assert f.shape == (3, 48)
    per_frame = f.reshape(12, 12)
    np.testing.assert_allclose(per_frame[:10, 0], np.arange(10) * 0.1, atol=1e-6)   # displacement [dm]
    np.testing.assert_allclose(per_frame[10:, 0], 0.9, atol=1e-6)                  # padded by repeating frame 9
    np.testing.assert_allclose(per_frame[0, 3:9], [1, 0, 0, 0, 1, 0])               # 6-D rotation of I
    with pytest.raises(InputError):
        trajectory_features(np.zeros((5, 3, 3)), 4)


# ------------------------------------------------------------------ point cloud
def test_pointnet_preprocessing_and_permutation_invariance():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(300, 3)) * 0.04 + 0.5
    a, s1 = preprocess_points(pts, 128, seed=0)
    b, s2 = preprocess_points(pts, 128, seed=0)
    np.testing.assert_array_equal(a, b)
    assert s1 == s2
    assert abs(np.linalg.norm(a, axis=1).max() - 1) < 1e-6 and np.abs(a.mean(0)).max() < 1e-6
    _, big = preprocess_points(pts * 2, 128, seed=0)
    assert big == pytest.approx(s1 + np.log(2), abs=1e-6)
    torch.manual_seed(0)
    net = PointNetEncoder((16, 32))
    x = torch.from_numpy(a)[None]
    perm = torch.from_numpy(rng.permutation(128))
    torch.testing.assert_close(net(x), net(x[:, perm]))
    with pytest.raises(InputError):
        preprocess_points(np.zeros((0, 3)), 16, 0)


# ------------------------------------------------------------------ generation
def test_kv_cache_equals_no_cache_at_temperature_zero(model):
    exs = [example(model, "allegro", 0), example(model, "human", 1, "push the box to the left")]
    runs = {s: generate_tokens(model, exs, temperature=0.0, strategy=s)
            for s in ("cache", "hf_cache", "full", "parallel")}
    for s in ("hf_cache", "full", "parallel"):
        for a, b in zip(runs["cache"], runs[s]):
            np.testing.assert_array_equal(a, b)
    assert [len(t) for t in runs["cache"]] == [len(e.traj) for e in exs]


def test_sampling_is_seeded_and_filters_work(model):
    pts, poses, arr = request(2)
    kw = dict(temperature=1.0, top_k=8, top_p=0.9)
    a = model.generate("shadow", "lift the mug", pts, poses, arr["q/shadow"][0], seed=5, **kw)
    b = model.generate("shadow", "lift the mug", pts, poses, arr["q/shadow"][0], seed=5, **kw)
    np.testing.assert_array_equal(a, b)
    logits = torch.tensor([[3.0, 1.0, 0.5, 0.0, -1.0]])
    assert torch.isfinite(filter_logits(logits, top_k=2)).sum() == 2
    kept = torch.isfinite(filter_logits(logits, top_p=0.5))
    assert kept.tolist() == [[True, False, False, False, False]]          # p(3.0) = 0.80 >= 0.5
    kept = torch.isfinite(filter_logits(logits, top_p=0.85))
    assert kept.sum() == 2
    with pytest.raises(ConfigError):
        model.generate("shadow", "lift the mug", pts, poses, arr["q/shadow"][0], top_p=0.0)
    with pytest.raises(InputError):
        model.generate("shadow", " ", pts, poses, arr["q/shadow"][0])


def test_generate_trajectory_decodes_with_tokenizer(model):
    pts, poses, arr = request(3, T=19)
    q, tokens = model.generate_trajectory("inspire", "rotate the red ball", pts, poses, arr["q/inspire"][0],
                                          temperature=0.0)
    assert q.shape == (19, 12) and tokens.shape == (5,)


def test_save_load_identical_outputs(model, tmp_path):
    model.save(tmp_path)
    loaded = DexHandVLM.load(tmp_path, tokenizer=model.hand_tokenizer, text_encoder=HashTextEncoder())
    exs = [example(model, "leap", 4)]
    with torch.no_grad():
        torch.testing.assert_close(loaded(loaded.collate(exs, 1.0)), model(model.collate(exs, 1.0)), rtol=0, atol=0)
    for seed in (0, 1):
        np.testing.assert_array_equal(generate_tokens(loaded, exs, seed=seed)[0], generate_tokens(model, exs, seed=seed)[0])
    assert loaded.config == model.config
    bad = StandInTokenizer(codebook_size=16)
    with pytest.raises(Exception, match="does not match"):
        loaded.attach_tokenizer(bad)


def test_config_validation_and_yaml(tmp_path):
    cfg = VLMConfig(**TINY)
    cfg.save_yaml(tmp_path / "c.yaml")
    assert VLMConfig.load_yaml(tmp_path / "c.yaml") == cfg
    with pytest.raises(ConfigError):
        VLMConfig(num_heads=3, num_kv_heads=2)
    with pytest.raises(ConfigError):
        VLMConfig(hidden_size=0)
    with pytest.raises(ConfigError):
        VLMConfig.from_dict({"hidden": 3})
    assert VocabLayout(10, ("a", "b"), 4).size == 10 + len(SPECIAL_TOKENS) + 2 + 4


def test_static_kv_decoder_matches_transformers_forward(model):
    """The lean KV-cache loop reproduces the decoder's hidden states (prefill and every step)."""
    from unihm_core.vlm.kv_decode import StaticKVDecoder

    dec = model.qwen.model
    S0, N = 7, 5
    emb = torch.randn(2, S0 + N, model.qwen.config.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = dec(inputs_embeds=emb, use_cache=False).last_hidden_state
        kv = StaticKVDecoder(dec, 2, S0 + N)
        torch.testing.assert_close(kv.prefill(emb[:, :S0]), ref[:, :S0], atol=1e-5, rtol=1e-5)
        for i in range(N):
            torch.testing.assert_close(kv.step(emb[:, S0 + i:S0 + i + 1]), ref[:, S0 + i], atol=1e-5, rtol=1e-5)


def test_static_kv_decoder_sees_weight_updates(model):
    """Cached gathered weights are rebuilt after an in-place parameter change."""
    from unihm_core.vlm.kv_decode import StaticKVDecoder

    dec = model.qwen.model
    emb = torch.randn(1, 4, model.qwen.config.hidden_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = StaticKVDecoder(dec, 1, 4).prefill(emb)
        w = dec.layers[0].self_attn.q_proj.weight
        w.mul_(1.5)
        after = StaticKVDecoder(dec, 1, 4).prefill(emb)
        torch.testing.assert_close(after, dec(inputs_embeds=emb, use_cache=False).last_hidden_state, atol=1e-5, rtol=1e-5)
        w.div_(1.5)
    assert not torch.allclose(before, after)


def test_sample_tokens_keeps_the_model_s_probabilities_and_the_tokens(model):
    """sample_tokens draws the same tokens as generate_tokens and reports the model's own per-slot
    distribution (softmax of the restricted logits of a full forward pass)."""
    from unihm_core.vlm.generate import sample_tokens

    exs = [example(model, "allegro", 0), example(model, "human", 1, "push the box to the left")]
    with torch.no_grad():
        probs = torch.softmax(model(model.collate(exs, 1.0)), -1).numpy()  # (B, N, K)
    for strategy in ("cache", "full", "parallel"):
        for temperature, top_k, top_p, seed in ((0.0, 0, 1.0, 0), (1.0, 0, 0.9, 3), (0.7, 5, 1.0, 7)):
            kw = dict(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, strategy=strategy)
            samples = sample_tokens(model, exs, keep=4, **kw)
            plain = generate_tokens(model, exs, **kw)
            for b, (s, t, e) in enumerate(zip(samples, plain, exs)):
                np.testing.assert_array_equal(s.tokens, t)
                n = len(e.traj)
                assert s.top_codes.shape == s.top_probs.shape == (n, 4)
                p = probs[b, :n]
                np.testing.assert_allclose(s.top_probs, np.sort(p, 1)[:, ::-1][:, :4], atol=1e-5)
                np.testing.assert_allclose(s.chosen_prob, p[np.arange(n), s.tokens], atol=1e-5)
                np.testing.assert_allclose(s.entropy, -(p * np.log(p)).sum(1), atol=1e-4)
                assert np.all(np.diff(s.top_probs, axis=1) <= 1e-7)
                if temperature == 0:  # greedy: the sampled code is the most likely one
                    assert np.all(s.rank == 0)
    pts, poses, arr = request(2)
    one = model.sample("shadow", "lift the mug", pts, poses, arr["q/shadow"][0], seed=5, keep=3)
    np.testing.assert_array_equal(one.tokens, model.generate("shadow", "lift the mug", pts, poses,
                                                             arr["q/shadow"][0], seed=5))
    assert one.top_codes.shape[1] == 3
