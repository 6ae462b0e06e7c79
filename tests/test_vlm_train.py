"""DexHand VLM training: the loop overfits, a base model loads from a folder, train_vlm writes a checkpoint."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from vlm_standin import HashTextEncoder, StandInTokenizer, write_tiny_dataset

from unihm_core.data.dataset import SyntheticDataset
from unihm_core.vlm import DexHandVLM, TrainConfig, VLMConfig
from unihm_core.vlm.generate import generate_tokens
from unihm_core.vlm.train import build_items, evaluate, train_loop, train_vlm
from unihm_core.vlm.vocab import BPETextTokenizer

TINY = dict(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=1, head_dim=32, intermediate_size=128,
            traj_hidden=64, pointnet_dims=(32, 64), max_text_tokens=12, pc_points=64, pc_slots=2,
            codebook_size=32, chunk_len=4)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return SyntheticDataset(write_tiny_dataset(tmp_path_factory.mktemp("vlm_ds"), n=12, seed=0))


def _model(dataset, seed=0) -> DexHandVLM:
    torch.set_num_threads(1)
    bpe = BPETextTokenizer.train([s for r in dataset.split("seen") for s in r["instructions"]], vocab_size=300)
    m = DexHandVLM.from_scratch(VLMConfig(text_vocab_size=bpe.vocab_size, **TINY), bpe, seed=seed)
    m.attach_tokenizer(StandInTokenizer(codebook_size=32, chunk_len=4))
    m.text_encoder = HashTextEncoder()
    return m


def test_tiny_model_overfits_a_handful_of_sequences(dataset):
    """The loop works: at inference conditions (all context [MASK]) the training tokens are recalled."""
    model = _model(dataset)
    items = build_items(model, dataset, dataset.split("seen")[:3], ("allegro", "human"))
    assert len(items) == 6
    before = evaluate(model, items)
    rows = train_loop(model, items, [], TrainConfig(epochs=150, batch_size=6, lr=3e-3, warmup_steps=5, threads=1,
                                                    seed=0), progress=lambda s: None)
    after = evaluate(model, items)
    assert before["token_acc"] < 0.5
    assert after["token_acc"] >= 0.98 and after["loss"] < 0.1
    assert rows[0]["mask_rate"] == 0.0 and rows[-1]["mask_rate"] == 1.0
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    got = generate_tokens(model, [it.example(0) for it in items], temperature=0.0)
    assert np.mean([np.mean(g == it.tokens) for g, it in zip(got, items)]) >= 0.98


def test_items_use_valid_hands_and_seen_split_only(dataset):
    model = _model(dataset)
    seen = dataset.split("seen")
    items = build_items(model, dataset, seen, ("leap", "human", "shadow"))
    assert {it.hand for it in items} == {"human", "shadow"}       # leap is flagged invalid in the tiny set
    assert len(items) == 2 * len(seen)
    it = items[0]
    assert len(it.tokens) == len(it.traj) and len(it.text_ids) == 5 and it.sentences.shape == (5, 384)


def _tiny_base_model(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["lift the mug", "push the box", "rotate the ball please now"],
                            trainers.BpeTrainer(vocab_size=80, special_tokens=["<unk>", "<pad>"], show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>").save_pretrained(folder)
    torch.manual_seed(0)
    cfg = Qwen3Config(vocab_size=96, hidden_size=48, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=1, head_dim=24, intermediate_size=64, max_position_embeddings=128,
                      tie_word_embeddings=True)
    base = Qwen3ForCausalLM(cfg)
    base.save_pretrained(folder)
    return base


def test_base_model_path_with_tiny_random_qwen3(dataset, tmp_path):
    base = _tiny_base_model(tmp_path / "base")
    cfg = VLMConfig(**{**TINY, "hidden_size": 999})
    vlm = DexHandVLM.from_base_model(tmp_path / "base", cfg, seed=0)
    assert vlm.config.hidden_size == 48 and vlm.config.text_vocab_size == 96     # the base model's sizes
    assert vlm.layout.code_lo == 96 + 9 + 8
    emb = vlm.qwen.get_input_embeddings().weight
    assert emb.shape[0] == vlm.layout.size
    torch.testing.assert_close(emb[:96], base.get_input_embeddings().weight)     # pretrained rows kept
    ids = vlm.text_ids("lift the mug")
    assert len(ids) >= 2 and ids.max() < 96                                      # the base model's tokenizer
    # fine-tune end to end through train_vlm, then reload the checkpoint
    m = train_vlm(dataset.root, tmp_path / "ft", base_model=tmp_path / "base", vlm_config=VLMConfig(**TINY),
                  train_config=TrainConfig(epochs=2, batch_size=8, lr=1e-3, threads=1, warmup_steps=1),
                  tokenizer=StandInTokenizer(), text_encoder=HashTextEncoder(), progress=lambda s: None)
    assert m["base_model"] == str(tmp_path / "base")
    loaded = DexHandVLM.load(tmp_path / "ft", tokenizer=StandInTokenizer(), text_encoder=HashTextEncoder())
    assert loaded.config.base_model == str(tmp_path / "base") and loaded.config.hidden_size == 48
    assert (tmp_path / "ft" / "text_tokenizer").is_dir()


def test_train_vlm_writes_checkpoint_log_and_metrics(dataset, tmp_path):
    out = tmp_path / "vlm"
    kw = dict(vlm_config=VLMConfig(**TINY), tokenizer=StandInTokenizer(), text_encoder=HashTextEncoder(),
              train_config=TrainConfig(epochs=3, batch_size=8, lr=1e-3, threads=1, warmup_steps=1,
                                       text_vocab_size=300), progress=lambda s: None)
    m = train_vlm(dataset.root, out, **kw)
    for name in ("model.safetensors", "config.yaml", "qwen_config.json", "text_tokenizer.json",
                 "training_log.jsonl", "metrics.json"):
        assert (out / name).exists(), name
    rows = [json.loads(x) for x in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all({"train_loss", "train_token_acc", "mask_rate", "val_token_acc"} <= set(r) for r in rows)
    assert m["examples"]["heldout"] > 0 and 0 <= m["heldout_unseen"]["token_acc"] <= 1
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["heldout_unseen"]["token_acc"] == m["heldout_unseen"]["token_acc"]
    # same seed -> same weights
    m2 = train_vlm(dataset.root, tmp_path / "vlm2", **kw)
    assert m2["heldout_unseen"]["loss"] == m["heldout_unseen"]["loss"]
    assert rows[-1]["mask_rate"] > 0.5  # the curriculum has started masking (epoch 3 of 3: 0.78)
    # the "w/o masked training" ablation: mask rate 0 throughout, a different model
    kw["train_config"] = dataclasses.replace(kw["train_config"], masked_curriculum=False)
    m3 = train_vlm(dataset.root, tmp_path / "vlm3", **kw)
    rows3 = [json.loads(x) for x in (tmp_path / "vlm3" / "training_log.jsonl").read_text().splitlines()]
    assert [r["mask_rate"] for r in rows3] == [0.0, 0.0, 0.0]
    assert m3["heldout_unseen"]["loss"] != m["heldout_unseen"]["loss"]
