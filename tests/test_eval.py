"""Evaluation harness (``unihm eval``): end to end on a tiny dataset built here with the shipped
checkpoints, the ablations' inputs, feedback generation, and the shipped VLM against the
retrieval baseline on the shipped unseen sample."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unihm_core.eval import (
    SAMPLE_DIR,
    SAMPLE_METRICS,
    EvalConfig,
    depth_free_poses,
    depth_scale,
    evaluate,
    evaluate_sample,
    format_table,
    generate_feedback,
    load_models,
    proxy_sphere,
)
from unihm_core.errors import ConfigError

METHODS = ("unihm", "no_refine", "no_depth", "retrieval", "retrieval_q0", "oracle")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from unihm_core.data.dataset import DatasetConfig, build_dataset

    root = tmp_path_factory.mktemp("eval_ds")
    cfg = DatasetConfig(n=4, seed=0, hands=("allegro",), render=False, workers=1)
    build_dataset(root, cfg, progress=lambda s: None)
    return root


@pytest.fixture(scope="module")
def models():
    """The shipped checkpoints (VLM, tokenizer, motion encoder); missing ones are a failure."""
    torch.set_num_threads(1)
    return load_models(EvalConfig(methods=("unihm", "retrieval")))


def test_harness_end_to_end(tiny, models):
    cfg = EvalConfig(split="seen", methods=METHODS, seeds=(0, 1), hands=("allegro", "human"), valid_only=False)
    res = evaluate(tiny, cfg, models, progress=lambda s: None)
    assert res["hands"] == ["allegro", "human"] and res["split"] == "seen"
    assert res["cases_per_hand"] == {"allegro": 3, "human": 3}
    assert res["gt"]["mean"]["diversity"] > 0
    for meth in METHODS:
        r = res["methods"][meth]
        assert len(r["per_seed"]) == 2
        for k in ("mpjpe_mm", "fol_deg", "fpl_mm", "fid", "diversity", "penetration_mm", "contact_mm"):
            assert np.isfinite(r["mean"][k]) and r["mean"][k] >= 0 and r["std"][k] >= 0
        assert 0 < r["mean"]["mpjpe_mm"] < 1000 and r["mean"]["fol_deg"] <= 180
        # the mean row is the mean of the hands' values, seed by seed
        for i in range(2):
            hands_mean = np.mean([r["per_hand"][h]["per_seed"][i]["mpjpe_mm"] for h in res["hands"]])
            assert r["per_seed"][i]["mpjpe_mm"] == pytest.approx(hands_mean)
    # the oracle (GT tokens decoded) does not depend on the seed
    o = res["methods"]["oracle"]["per_seed"]
    assert o[0]["mpjpe_mm"] == o[1]["mpjpe_mm"] and res["methods"]["oracle"]["std"]["fol_deg"] == 0.0
    # refinement changes the decoded trajectories (same tokens, so the same seeds' rows differ only by it)
    assert res["methods"]["unihm"]["mean"]["mpjpe_mm"] != res["methods"]["no_refine"]["mean"]["mpjpe_mm"]
    table = format_table(res)
    assert table.splitlines()[1].startswith("GT") and "w/o depth input" in table
    assert format_table(res, markdown=True).count("\n") == len(METHODS) + 2


def test_retrieval_of_own_sequence_reproduces_ground_truth(tiny):
    from unihm_core.data.dataset import SyntheticDataset
    from unihm_core.hands import load_hand
    from unihm_core.metrics import RetrievalBaseline, hand_joint_positions, mpjpe_mm

    ds = SyntheticDataset(tiny)
    seen = ds.split("seen")
    base = RetrievalBaseline(ds, seen)
    rec = seen[1]
    arr = ds.arrays(rec["seq_id"])
    got = base.generate("human", rec["instructions"][2], rec["target"]["category"], arr["object_poses"])
    assert got.seq_id == rec["seq_id"] and got.similarity == pytest.approx(1.0, abs=1e-5)
    hand = load_hand("human")
    err = mpjpe_mm(hand_joint_positions(hand, got.q), hand_joint_positions(hand, arr["human_q"]))
    assert err < 0.01                                   # identical motion up to float32 round-off [mm]
    other = base.generate("human", rec["instructions"][2], rec["target"]["category"], arr["object_poses"],
                          exclude=(rec["seq_id"],))
    assert other.seq_id != rec["seq_id"]


def test_no_depth_inputs():
    P = np.tile(np.eye(4), (3, 1, 1))
    P[:, :3, 3] = [[0.1, 0.0, 0.0], [0.1, 0.1, 0.05], [0.0, 0.2, 0.1]]
    P[1, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    cam = np.eye(4)
    cam[:3, 3] = [0.0, -0.5, 0.6]
    np.testing.assert_allclose(depth_free_poses(P, cam, 1.0), P)
    Q = depth_free_poses(P, cam, 1.1)
    np.testing.assert_allclose(Q[:, :3, :3], P[:, :3, :3])
    np.testing.assert_allclose(np.linalg.norm(Q[:, :3, 3] - cam[:3, 3], axis=1),
                               1.1 * np.linalg.norm(P[:, :3, 3] - cam[:3, 3], axis=1))
    s = [depth_scale(i, 0.1) for i in range(200)]
    assert s == [depth_scale(i, 0.1) for i in range(200)] and min(s) >= 0.7 and max(s) <= 1.3
    assert 0.05 < np.std(s) < 0.15 and depth_scale(5, 0.0) == 1.0
    pts, nrm = proxy_sphere(0.04)
    np.testing.assert_allclose(np.linalg.norm(pts - [0, 0, 0.04], axis=1), 0.04, atol=1e-12)
    np.testing.assert_allclose(pts, 0.04 * nrm + [0, 0, 0.04], atol=1e-12)
    assert pts[:, 2].min() >= 0 and pts[:, 2].min() < 1e-3


def test_generate_feedback_matches_teacher_forced_argmax():
    from vlm_standin import HashTextEncoder, StandInTokenizer, synth_sequence

    from unihm_core.vlm import VLMConfig
    from unihm_core.vlm.model import DexHandVLM
    from unihm_core.vlm.vocab import BPETextTokenizer

    torch.set_num_threads(1)
    bpe = BPETextTokenizer.train(["lift the mug", "push the box"], vocab_size=300)
    cfg = VLMConfig(text_vocab_size=bpe.vocab_size, hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1,
                    head_dim=32, intermediate_size=128, traj_hidden=64, pointnet_dims=(32, 64), max_text_tokens=12,
                    pc_points=64, pc_slots=2, codebook_size=32, chunk_len=4)
    model = DexHandVLM.from_scratch(cfg, bpe, seed=0).eval()
    model.attach_tokenizer(StandInTokenizer(codebook_size=32, chunk_len=4))
    model.text_encoder = HashTextEncoder()
    exs = []
    for seed, T in ((0, 21), (1, 14)):
        arr = synth_sequence(np.random.default_rng(seed), "lift", T)
        exs.append(model.make_example("allegro", "lift the mug", arr["obj_points"], arr["object_poses"],
                                      arr["q/allegro"][0]))
    toks = generate_feedback(model, exs, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    assert [len(t) for t in toks] == [6, 4]
    # one teacher-forced pass with the generated tokens as context reproduces them (argmax)
    for e, t in zip(exs, toks):
        e.tokens = t
    with torch.no_grad():
        logits = model(model.collate(exs, mask_rate=0.0))
    for b, t in enumerate(toks):
        assert logits[b, :len(t)].argmax(-1).numpy().tolist() == t.tolist()
    # feeding back matters: with a different first token the later ones are computed from it
    sampled = generate_feedback(model, exs, temperature=1.0, top_k=0, top_p=1.0, seed=3)
    assert sampled[0].shape == (6,) and sampled[0].max() < 32


def test_config_validation():
    with pytest.raises(ConfigError):
        EvalConfig(methods=("nope",))
    with pytest.raises(ConfigError):
        EvalConfig(split="train")
    with pytest.raises(ConfigError):
        EvalConfig(seeds=())


def test_cli_eval_writes_json_and_table(tiny, tmp_path, capsys):
    from unihm_core.cli import main

    out = tmp_path / "m.json"
    assert main(["eval", "--data", str(tiny), "--split", "seen", "--ablation", "none,retrieval", "--seeds", "0",
                 "--hands", "human", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"unihm", "retrieval"} and res["hands"] == ["human"]
    assert "NN retrieval" in capsys.readouterr().out
    assert main(["eval", "--data", str(tiny), "--ablation", "bogus", "--out", str(out)]) == 2


def test_shipped_vlm_beats_retrieval_on_unseen_sample(models):
    """Threshold = the retrieval baseline's MPJPE on the sample, recorded by bench/eval_tables.py."""
    recorded = json.loads((SAMPLE_DIR / SAMPLE_METRICS).read_text())
    got = evaluate_sample(models=models)
    assert got["pairs"] == recorded["sample"]["pairs"] >= 20
    assert got["retrieval_mpjpe_mm"] == pytest.approx(recorded["sample"]["retrieval_mpjpe_mm"], rel=1e-4)
    assert got["unihm_mpjpe_mm"] < recorded["threshold_mm"]


def test_shipped_motion_encoder_separates_perturbed_motion():
    """FID in the shipped encoder's space grows with a wrist offset of the sample's GT human motions."""
    from unihm_core.metrics import MotionEncoder, diversity, fid

    enc = MotionEncoder.load()
    meta = json.loads((SAMPLE_DIR / "unseen_sample.json").read_text())
    items = [i for i, it in enumerate(meta["items"]) if "human" in it["hands"]]
    with np.load(SAMPLE_DIR / "unseen_sample.npz") as z:
        cases = [(z[f"{i}/q_gt/human"].astype(np.float64), z[f"{i}/object_poses"].astype(np.float64)) for i in items]
    real = enc.encode([enc.features("human", q, P) for q, P in cases])
    assert real.shape == (len(cases), enc.config.feature_dim) and diversity(real) > 0
    values = []
    for off in (0.0, 0.03, 0.10):
        moved = []
        for q, P in cases:
            q2 = q.copy()
            q2[:, 2] += off                                  # the whole motion lifted by `off` metres
            moved.append(enc.features("human", q2, P))
        values.append(fid(real, enc.encode(moved)))
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[0] < values[1] < values[2]
