"""The shipped tokenizer checkpoint on its bundled held-out sample (unseen split sequences).

Thresholds come from checkpoints/tokenizer/metrics.json (measured at training time, with a margin).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from unihm_core.paths import CHECKPOINTS_DIR  # noqa: E402

CKPT = CHECKPOINTS_DIR / "tokenizer"
pytestmark = pytest.mark.skipif(not (CKPT / "model.safetensors").exists(), reason="no shipped tokenizer checkpoint")


@pytest.fixture(scope="module")
def shipped():
    from unihm_core.tokenizer.tokenizer import Tokenizer
    from unihm_core.tokenizer.train import read_heldout_sample

    tok = Tokenizer.load()
    metrics = json.loads((CKPT / "metrics.json").read_text())
    ids, q, poses = read_heldout_sample(CKPT / "heldout_sample.npz")
    return tok, metrics, q, poses


def test_sample_is_unseen_and_covers_every_hand(shipped):
    tok, metrics, q, poses = shipped
    assert set(tok.hands) <= set(q)
    assert len(poses) >= 2
    assert tok.codebook_size == metrics["config"]["codebook_size"] and tok.chunk_len == metrics["config"]["chunk_len"]


def test_reconstruction_below_recorded_thresholds(shipped):
    from unihm_core.hands import load_hand

    tok, metrics, q, poses = shipped
    thr = metrics["thresholds"]
    for hand in tok.hands:
        hm = load_hand(hand)
        errs, tips = [], []
        for q_s, p in zip(q[hand], poses):
            tokens = tok.encode(hand, q_s, p)
            assert tokens.shape == (-(-len(q_s) // tok.chunk_len),)
            q_hat = tok.decode(hand, tokens, p)
            assert q_hat.shape == q_s.shape and np.all(hm.within_limits(q_hat))
            errs.append(np.abs(q_hat[:, 6:] - q_s[:, 6:]).ravel())
            tips.append(np.linalg.norm(hm.fingertip_positions(q_hat) - hm.fingertip_positions(hm.clamp(q_s)), axis=-1))
        assert np.mean(np.concatenate(errs)) < thr["mae_rad"][hand], hand
        assert 1e3 * np.mean(np.concatenate([t.ravel() for t in tips])) < thr["tip_mm"][hand], hand


def test_translation_shadow_to_allegro_near_retargeting(shipped):
    from unihm_core.hands import load_hand

    tok, metrics, q, poses = shipped
    allegro = load_hand("allegro")
    d = []
    for q_s, q_a, p in zip(q["shadow"], q["allegro"], poses):
        q_hat = tok.translate(q_s, "shadow", "allegro", p)
        d.append(np.linalg.norm(allegro.fingertip_positions(q_hat) - allegro.fingertip_positions(allegro.clamp(q_a)),
                                axis=-1).ravel())
    assert 1e3 * np.mean(np.concatenate(d)) < metrics["thresholds"]["translation_shadow_allegro_tip_mm"]
