"""Configuration of the DexHand VLM (paper Sec. 3.3, App. C) and of its training.

:class:`VLMConfig` fixes everything a checkpoint's weights depend on (decoder size, vocabulary
layout, conditioning sizes, point-cloud preprocessing); it is saved as ``config.yaml`` next to
the weights and validated again on load. :class:`TrainConfig` holds the optimisation settings
of one training run (recorded in the training log, not needed to use the model).

Both are frozen dataclasses validated in ``__post_init__``; YAML round trips go through
:func:`VLMConfig.to_dict` / :func:`VLMConfig.from_dict` (plain types only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from unihm_core.errors import ConfigError

#: Hand types known to the vocabulary, in token order (one [HAND_*] token each).
VLM_HANDS: tuple[str, ...] = ("shadow", "allegro", "schunk_svh", "leap", "ability", "inspire", "panda_gripper",
                              "human")


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"VLMConfig.{name}={value!r}: must be a positive integer")


@dataclass(frozen=True)
class VLMConfig:
    """Architecture and vocabulary of one DexHand VLM checkpoint.

    Attributes:
        text_vocab_size: number of text-token ids (rows of the embedding table before the
            added tokens: the BPE vocabulary, or the base model's embedding rows).
        codebook_size: K, entries of the hand tokenizer's shared codebook (one token each).
        chunk_len: L, frames per hand token of the hand tokenizer.
        hands: hand types with a [HAND_*] token (order fixes their ids).
        hidden_size, num_layers, num_heads, num_kv_heads, head_dim, intermediate_size:
            Qwen3 decoder size (ignored when ``base_model`` is set: the base model's own).
        rope_theta: RoPE base of the decoder.
        max_positions: longest sequence (prefix + hand slots) the model accepts.
        max_text_tokens: instructions are cut to this many text tokens.
        sentence_dim: width of the frozen sentence embedding (all-MiniLM-L6-v2: 384).
        pc_points: points fed to PointNet (sampled with ``pc_seed`` from the object points).
        pc_seed: seed of that fixed subsample (identical in training and inference).
        pointnet_dims: widths of PointNet's shared per-point MLP (App. C.2).
        pc_slots: k, sequence slots the global point-cloud feature is projected to.
        traj_hidden: hidden width of the two-layer trajectory MLP (App. C.3: 512).
        base_model: folder of a pretrained Qwen3 (``from_pretrained``) or None for the small
            decoder trained from scratch; informational once a checkpoint is saved.
        tokenizer_fingerprint: identity of the hand tokenizer the hand tokens come from
            (checked when both are loaded); empty when unknown.
    """

    text_vocab_size: int = 1024
    codebook_size: int = 512
    chunk_len: int = 4
    hands: tuple[str, ...] = VLM_HANDS
    hidden_size: int = 128
    num_layers: int = 3
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int = 32
    intermediate_size: int = 384
    rope_theta: float = 10000.0
    max_positions: int = 256
    max_text_tokens: int = 32
    sentence_dim: int = 384
    pc_points: int = 512
    pc_seed: int = 0
    pointnet_dims: tuple[int, ...] = (64, 128, 256)
    pc_slots: int = 4
    traj_hidden: int = 512
    base_model: str | None = None
    tokenizer_fingerprint: str = ""

    def __post_init__(self) -> None:
        for name in ("text_vocab_size", "codebook_size", "chunk_len", "hidden_size", "num_layers", "num_heads",
                     "num_kv_heads", "head_dim", "intermediate_size", "max_positions", "max_text_tokens",
                     "sentence_dim", "pc_points", "pc_slots", "traj_hidden"):
            _positive(name, getattr(self, name))
        if not isinstance(self.pc_seed, int) or self.pc_seed < 0:
            raise ConfigError(f"VLMConfig.pc_seed={self.pc_seed!r}: must be a non-negative integer")
        object.__setattr__(self, "hands", tuple(self.hands))
        object.__setattr__(self, "pointnet_dims", tuple(int(d) for d in self.pointnet_dims))
        if not self.hands or len(set(self.hands)) != len(self.hands):
            raise ConfigError(f"VLMConfig.hands={self.hands!r}: need distinct hand names")
        if not self.pointnet_dims or min(self.pointnet_dims) < 1:
            raise ConfigError(f"VLMConfig.pointnet_dims={self.pointnet_dims!r}: need positive widths")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"VLMConfig: num_heads={self.num_heads} must be a multiple of "
                              f"num_kv_heads={self.num_kv_heads} (grouped-query attention)")
        if not self.rope_theta > 0:
            raise ConfigError(f"VLMConfig.rope_theta={self.rope_theta!r}: must be positive")
        prefix = self.max_text_tokens + self.pc_slots + 8
        if self.max_positions <= prefix:
            raise ConfigError(f"VLMConfig.max_positions={self.max_positions} leaves no room for hand tokens after "
                              f"a prefix of up to {prefix} slots; raise it")

    def replace(self, **changes) -> VLMConfig:
        d = self.to_dict()
        d.update(changes)
        return VLMConfig.from_dict(d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hands"] = list(self.hands)
        d["pointnet_dims"] = list(self.pointnet_dims)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> VLMConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"VLMConfig: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**d)

    def save_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False), encoding="utf-8")

    @classmethod
    def load_yaml(cls, path: str | Path) -> VLMConfig:
        import yaml

        p = Path(path)
        if not p.exists():
            raise ConfigError(f"VLM config {p} does not exist; train one with `unihm train vlm`")
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
        if not isinstance(d, dict):
            raise ConfigError(f"VLM config {p} is not a YAML mapping")
        return cls.from_dict(d)


@dataclass(frozen=True)
class TrainConfig:
    """One training run of the VLM.

    Attributes:
        epochs: passes over the training examples; the masking curriculum (Eq. 10, App. C.4)
            is defined on the fraction ``epoch / epochs``.
        batch_size: examples per optimiser step.
        lr: AdamW peak learning rate. The paper fine-tunes Qwen3-0.6B with 1e-4; for the small
            decoder trained from scratch here, 12-epoch runs on a 150-sequence dev set gave
            held-out token accuracy 0.48 (1e-4), 0.63 (1e-3) and 0.65 (3e-3), so the default is
            3e-3; ``unihm train vlm --base-model`` uses the paper's 1e-4.
        weight_decay: AdamW weight decay.
        warmup_steps: linear learning-rate warm-up steps, then cosine decay to ``lr * min_lr_ratio``.
        min_lr_ratio: final learning rate as a fraction of ``lr``.
        grad_clip: gradient-norm clip (0 = none).
        seed: seeds parameter init, shuffling, instruction choice and masks.
        threads: torch CPU threads.
        text_vocab_size: BPE vocabulary to train (ignored with a base model).
        val_every: evaluate on the held-out split every this many epochs (and at the end).
        masked_curriculum: the masking curriculum of Eq. 10 (:func:`~unihm_core.vlm.masking.mask_rate`);
            False trains with mask rate 0 in every epoch (ground-truth tokens always in the context:
            the "w/o masked training" ablation of Table 4).
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    text_vocab_size: int = 1024
    val_every: int = 1
    masked_curriculum: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.masked_curriculum, bool):
            raise ConfigError(f"TrainConfig.masked_curriculum={self.masked_curriculum!r}: must be True or False")
        for name in ("epochs", "batch_size", "threads", "text_vocab_size", "val_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"TrainConfig.{name}={v!r}: must be a positive integer")
        if not self.lr > 0 or self.weight_decay < 0 or self.grad_clip < 0 or self.warmup_steps < 0:
            raise ConfigError("TrainConfig: lr must be > 0; weight_decay, grad_clip, warmup_steps >= 0")
        if not 0 < self.min_lr_ratio <= 1:
            raise ConfigError(f"TrainConfig.min_lr_ratio={self.min_lr_ratio}: must be in (0, 1]")
