"""DexHand VLM: a Qwen3 decoder that writes hand tokens (paper Sec. 3.3, Eq. 9-10, App. C).

Model: ``transformers.Qwen3ForCausalLM``, either small and trained from scratch (the shipped
checkpoint; sizes in :class:`~unihm_core.vlm.config.VLMConfig`) or a pretrained Qwen3 (e.g.
Qwen3-0.6B) loaded from a local folder and fine-tuned (:meth:`DexHandVLM.from_base_model`).
The vocabulary is extended as laid out in :mod:`unihm_core.vlm.vocab` (text | specials |
[HAND_*] | one token per codebook entry). Output logits are restricted to the K codebook rows
wherever a hand token is due (training loss and decoding alike).

Sequence layout (every example has the same length; P = max_text_tokens, k = pc_slots)::

    pos 0            [BOS]
    pos 1            [HAND_h]                      the hand to generate for
    pos 2 .. P+1     text ids t_1..t_n, then [PAD] up to P (attended like any token)
    pos P+2          [SEP]
    pos P+3          sentence slot  = SentenceProjection(MiniLM(instruction))
    pos P+4          [PC]
    pos P+5..P+4+k   point-cloud slots = PointCloudProjection(P_obj)       (App. C.2)
    pos P+5+k        [POSE]
    pos P+6+k        E_h(q0): the codebook token of L copies of the initial pose
    pos P+7+k        [TRAJ]
    pos S0 + i       hand slot i, i = 0..N-1, with S0 = P + k + 8 (= prefix_len):
                       input  = embed(context_i) + TrajectoryEncoder(chunk i)  (App. C.3)
                       context_i = GT token i-1 (i >= 1) or E_h(q0) (i = 0), replaced by [MASK]
                                   per the curriculum (Eq. 10, :mod:`unihm_core.vlm.masking`);
                                   always [MASK] at inference
                       label  = hand token i (the chunk of frames i*L .. i*L+L-1)

so the output at position S0 + i (causal attention: it sees the whole prefix and trajectory
chunks 0..i) predicts token i, and trajectory slot i and label i sit at the same position.
N = ceil(T / L) is fixed by the trajectory, so no [EOS] is generated ([EOS] stays reserved);
shorter examples in a batch are padded at the end, after every real position, where causal
attention makes the padding invisible; their labels are ignored.

Loss: cross-entropy of the restricted logits against the hand-token labels only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unihm_core.errors import CheckpointError, ConfigError, InputError
from unihm_core.paths import CHECKPOINTS_DIR
from unihm_core.vlm.conditioning import (
    FRAME_FEATURES,
    PointCloudProjection,
    SentenceProjection,
    TrajectoryEncoder,
    num_chunks,
    trajectory_features,
)
from unihm_core.vlm.config import VLMConfig
from unihm_core.vlm.pointnet import preprocess_points
from unihm_core.vlm.vocab import BPETextTokenizer, HFTextTokenizer, VocabLayout, load_text_tokenizer

DEFAULT_DIR = CHECKPOINTS_DIR / "vlm"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
QWEN_CONFIG_FILE = "qwen_config.json"
IGNORE = -100


@dataclass
class VLMExample:
    """One conditioned generation problem (numpy; labels optional).

    Attributes:
        hand: hand name (one of the config's hands).
        text_ids: (n,) text-token ids of the instruction (cut to max_text_tokens).
        sentence: (sentence_dim,) sentence embedding of the instruction.
        points: (pc_points, 3) preprocessed object points (unit radius, centred).
        size: the size scalar of :func:`~unihm_core.vlm.pointnet.preprocess_points`.
        traj: (N, 12 L) trajectory chunk features.
        pose_token: codebook index of E_h(q0).
        tokens: (N,) codebook indices of the ground-truth hand tokens, or None.
    """

    hand: str
    text_ids: np.ndarray
    sentence: np.ndarray
    points: np.ndarray
    size: float
    traj: np.ndarray
    pose_token: int
    tokens: np.ndarray | None = None


@dataclass
class VLMBatch:
    """Tensors of a batch in the layout of the module docstring (B examples, N = longest)."""

    ids: torch.Tensor          # (B, S) token ids; sentence / point-cloud slot ids are placeholders
    sentence: torch.Tensor     # (B, sentence_dim)
    points: torch.Tensor       # (B, n, 3)
    size: torch.Tensor         # (B,)
    traj: torch.Tensor         # (B, N, 12 L)
    labels: torch.Tensor       # (B, N) codebook indices, IGNORE where padded / unknown
    valid: torch.Tensor        # (B, N) bool, real hand slots
    masked: torch.Tensor       # (B, N) bool, context replaced by [MASK]


def tokenizer_fingerprint(tok) -> str:
    """Identity of a hand tokenizer: its own ``fingerprint``, else a hash of K, L, hands and its weights
    (``codebook`` attribute, or every tensor of ``model.state_dict()``)."""
    fp = getattr(tok, "fingerprint", None)
    if callable(fp):
        fp = fp()
    if fp:
        return str(fp)
    h = hashlib.sha256(f"K={tok.codebook_size};L={tok.chunk_len};hands={sorted(tok.hands)}".encode())
    cb = getattr(tok, "codebook", None)
    if cb is not None:
        arrays = [cb]
    elif hasattr(getattr(tok, "model", None), "state_dict"):
        sd = tok.model.state_dict()
        arrays = [sd[k] for k in sorted(sd)]
    else:
        arrays = []
    for a in arrays:
        arr = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
        h.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


class DexHandVLM(nn.Module):
    """Qwen3 decoder + conditioning projections; see the module docstring for the layout."""

    def __init__(self, config: VLMConfig, text_tokenizer, qwen=None) -> None:
        super().__init__()
        from transformers import Qwen3Config, Qwen3ForCausalLM

        self.config = config
        self.layout = VocabLayout(config.text_vocab_size, config.hands, config.codebook_size)
        self.text_tokenizer = text_tokenizer
        if text_tokenizer.vocab_size > config.text_vocab_size:
            raise ConfigError(f"text tokenizer has {text_tokenizer.vocab_size} ids but the VLM reserves only "
                              f"{config.text_vocab_size} text rows")
        if qwen is None:
            qcfg = Qwen3Config(
                vocab_size=self.layout.size, hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
                num_attention_heads=config.num_heads, num_key_value_heads=config.num_kv_heads,
                head_dim=config.head_dim, intermediate_size=config.intermediate_size,
                max_position_embeddings=config.max_positions, rope_theta=config.rope_theta,
                tie_word_embeddings=True, bos_token_id=self.layout.special("[BOS]"),
                eos_token_id=self.layout.special("[EOS]"), pad_token_id=self.layout.special("[PAD]"),
                use_sliding_window=False)
            qwen = Qwen3ForCausalLM(qcfg)
        if qwen.get_input_embeddings().num_embeddings != self.layout.size:
            raise CheckpointError(f"decoder has {qwen.get_input_embeddings().num_embeddings} embedding rows, the "
                                  f"vocabulary layout needs {self.layout.size}")
        self.qwen = qwen.float()
        hidden = qwen.config.hidden_size
        self.sentence_proj = SentenceProjection(config.sentence_dim, hidden)
        self.pc_proj = PointCloudProjection(config.pointnet_dims, config.pc_slots, hidden)
        self.traj_enc = TrajectoryEncoder(FRAME_FEATURES * config.chunk_len, config.traj_hidden, hidden)
        self.hand_tokenizer = None
        self.text_encoder = None
        self._sentence_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ construction / files
    @classmethod
    def from_scratch(cls, config: VLMConfig, text_tokenizer, seed: int = 0) -> DexHandVLM:
        """A randomly initialised small decoder (parameters drawn from ``torch.manual_seed(seed)``)."""
        torch.manual_seed(seed)
        return cls(config, text_tokenizer)

    @classmethod
    def from_base_model(cls, path: str | Path, config: VLMConfig, seed: int = 0) -> DexHandVLM:
        """A pretrained Qwen3 from a local folder + its tokenizer; embeddings resized for the added tokens.

        ``config``'s decoder sizes are replaced by the base model's; its text vocabulary is the
        base model's embedding rows (``config.vocab_size``).
        """
        from transformers import Qwen3ForCausalLM

        path = Path(path)
        if not (path / "config.json").exists():
            raise CheckpointError(f"{path} is not a transformers model folder (no config.json); give the folder "
                                  "of a Qwen3 checkpoint (e.g. Qwen3-0.6B)")
        text_tok = HFTextTokenizer.from_pretrained(path)
        torch.manual_seed(seed)
        try:
            # safetensors only: a pytorch_model.bin is a pickle and is not loaded
            qwen = Qwen3ForCausalLM.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"could not load a Qwen3 model from {path} ({exc}); the weights must be "
                                  "model.safetensors (pickled .bin files are refused)") from None
        qc = qwen.config
        cfg = config.replace(
            text_vocab_size=int(qc.vocab_size), hidden_size=int(qc.hidden_size), num_layers=int(qc.num_hidden_layers),
            num_heads=int(qc.num_attention_heads), num_kv_heads=int(qc.num_key_value_heads),
            head_dim=int(getattr(qc, "head_dim", qc.hidden_size // qc.num_attention_heads)),
            intermediate_size=int(qc.intermediate_size), rope_theta=float(getattr(qc, "rope_theta", 1e6) or 1e6),
            max_positions=min(int(qc.max_position_embeddings), max(config.max_positions, 256)),
            base_model=str(path))
        layout = VocabLayout(cfg.text_vocab_size, cfg.hands, cfg.codebook_size)
        qwen.resize_token_embeddings(layout.size)
        return cls(cfg, text_tok, qwen)

    def save(self, folder: str | Path) -> Path:
        """Write config.yaml, qwen_config.json, model.safetensors and the text tokenizer into ``folder``."""
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save_yaml(folder / CONFIG_FILE)
        (folder / QWEN_CONFIG_FILE).write_text(json.dumps(self.qwen.config.to_dict(), indent=1, sort_keys=True),
                                               encoding="utf-8")
        save_model(self, str(folder / WEIGHTS_FILE))
        self.text_tokenizer.save(folder)
        return folder

    @classmethod
    def load(cls, path: str | Path | None = None, tokenizer=None, text_encoder=None) -> DexHandVLM:
        """Load a checkpoint folder (default ``checkpoints/vlm``), in eval mode on the CPU.

        Args:
            path: checkpoint folder.
            tokenizer: the hand tokenizer (default: ``Tokenizer.load()``, loaded on first use
                by :meth:`encode_pose` / :meth:`decode`); its K and L must match.
            text_encoder: sentence encoder with ``encode(list[str]) -> (n, 384)``
                (default: the shared all-MiniLM-L6-v2, loaded on first use).
        """
        from safetensors.torch import load_model
        from transformers import Qwen3Config, Qwen3ForCausalLM

        folder = Path(path) if path is not None else DEFAULT_DIR
        for name in (CONFIG_FILE, QWEN_CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).exists():
                raise CheckpointError(f"VLM checkpoint {folder} lacks {name}; train one with `unihm train vlm "
                                      f"--data DIR --out {folder}`")
        cfg = VLMConfig.load_yaml(folder / CONFIG_FILE)
        qd = json.loads((folder / QWEN_CONFIG_FILE).read_text(encoding="utf-8"))
        qcfg = Qwen3Config(**{k: v for k, v in qd.items() if k not in ("transformers_version", "architectures")})
        qwen = Qwen3ForCausalLM(qcfg)
        model = cls(cfg, load_text_tokenizer(folder), qwen)
        try:
            load_model(model, str(folder / WEIGHTS_FILE), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights in {folder / WEIGHTS_FILE} do not match its config ({exc}); "
                                  "retrain the VLM") from None
        model.eval()
        if tokenizer is not None:
            model.attach_tokenizer(tokenizer)
        model.text_encoder = text_encoder
        return model

    def attach_tokenizer(self, tokenizer) -> None:
        """Use ``tokenizer`` (the hand tokenizer) for E_h(q0) and D_h; checks K, L and fingerprint."""
        if int(tokenizer.codebook_size) != self.config.codebook_size or int(tokenizer.chunk_len) != self.config.chunk_len:
            raise CheckpointError(f"hand tokenizer (K={tokenizer.codebook_size}, L={tokenizer.chunk_len}) does not "
                                  f"match the VLM (K={self.config.codebook_size}, L={self.config.chunk_len}); "
                                  "retrain the VLM with this tokenizer")
        fp = tokenizer_fingerprint(tokenizer)
        if self.config.tokenizer_fingerprint and fp != self.config.tokenizer_fingerprint:
            raise CheckpointError(f"hand tokenizer fingerprint {fp} differs from the one the VLM was trained with "
                                  f"({self.config.tokenizer_fingerprint}); retrain the VLM with this tokenizer")
        self.hand_tokenizer = tokenizer

    def _hand_tok(self):
        if self.hand_tokenizer is None:
            from unihm_core.tokenizer import Tokenizer

            self.attach_tokenizer(Tokenizer.load())
        return self.hand_tokenizer

    def num_parameters(self) -> int:
        seen, n = set(), 0
        for p in self.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        return n

    # ------------------------------------------------------------------ inputs
    @property
    def prefix_len(self) -> int:
        """S0: position of hand slot 0 (every sequence has the same prefix length)."""
        return self.config.max_text_tokens + self.config.pc_slots + 8

    def max_hand_tokens(self) -> int:
        return self.config.max_positions - self.prefix_len

    def text_ids(self, instruction: str) -> np.ndarray:
        if not isinstance(instruction, str) or not instruction.strip():
            raise InputError("the instruction is empty; type what the hand should do, e.g. 'pick up the mug'")
        return np.asarray(self.text_tokenizer.encode(instruction)[: self.config.max_text_tokens], dtype=np.int64)

    def sentence_embedding(self, instruction: str) -> np.ndarray:
        """(sentence_dim,) frozen sentence embedding, cached per instruction string."""
        if instruction not in self._sentence_cache:
            if self.text_encoder is None:
                from unihm_core.perception.text_encoder import get_text_encoder

                self.text_encoder = get_text_encoder()
            emb = np.asarray(self.text_encoder.encode([instruction]), dtype=np.float32)[0]
            if emb.shape != (self.config.sentence_dim,):
                raise ConfigError(f"sentence encoder returned shape {emb.shape}, expected ({self.config.sentence_dim},)")
            self._sentence_cache[instruction] = emb
        return self._sentence_cache[instruction]

    def encode_pose(self, hand: str, q0: np.ndarray, pose0: np.ndarray) -> int:
        """E_h(q0): codebook index of a chunk of L copies of the initial hand pose (object pose ``pose0``)."""
        L = self.config.chunk_len
        q0 = np.asarray(q0, dtype=np.float32)
        if q0.ndim != 1 or not np.all(np.isfinite(q0)):
            raise InputError(f"q0 must be a finite (D,) hand state, got shape {q0.shape}")
        tok = self._hand_tok()
        codes = tok.encode(hand, np.repeat(q0[None], L, axis=0), np.repeat(np.asarray(pose0)[None], L, axis=0))
        return int(np.asarray(codes).reshape(-1)[0])

    def make_example(self, hand: str, instruction: str, obj_points: np.ndarray, object_poses: np.ndarray,
                     q0: np.ndarray) -> VLMExample:
        """Inference inputs for one request (see :meth:`generate` for the arguments)."""
        self.layout.hand_type(hand)
        poses = np.asarray(object_poses, dtype=np.float64)
        traj = trajectory_features(poses, self.config.chunk_len)
        if len(traj) > self.max_hand_tokens():
            raise InputError(f"trajectory of {len(poses)} frames needs {len(traj)} hand tokens; this VLM handles at "
                             f"most {self.max_hand_tokens()} ({self.max_hand_tokens() * self.config.chunk_len} frames)")
        pts, size = preprocess_points(obj_points, self.config.pc_points, self.config.pc_seed)
        return VLMExample(hand=hand, text_ids=self.text_ids(instruction), sentence=self.sentence_embedding(instruction),
                          points=pts, size=size, traj=traj, pose_token=self.encode_pose(hand, q0, poses[0]))

    def collate(self, examples: list[VLMExample], mask_rate: float = 1.0,
                generator: torch.Generator | None = None) -> VLMBatch:
        """Batch examples; context tokens are replaced by [MASK] with probability ``mask_rate``."""
        from unihm_core.vlm.masking import sample_mask

        cfg, lay = self.config, self.layout
        B = len(examples)
        N = max(len(e.traj) for e in examples)
        S0 = self.prefix_len
        if S0 + N > cfg.max_positions:
            raise InputError(f"{N} hand tokens exceed the VLM's {self.max_hand_tokens()} hand slots")
        P, k = cfg.max_text_tokens, cfg.pc_slots
        ids = np.full((B, S0 + N), lay.special("[PAD]"), dtype=np.int64)
        labels = np.full((B, N), IGNORE, dtype=np.int64)
        valid = np.zeros((B, N), dtype=bool)
        context = np.full((B, N), lay.special("[MASK]"), dtype=np.int64)
        traj = np.zeros((B, N, FRAME_FEATURES * cfg.chunk_len), dtype=np.float32)
        for b, e in enumerate(examples):
            n = len(e.traj)
            t = e.text_ids[:P]
            ids[b, 0] = lay.special("[BOS]")
            ids[b, 1] = lay.hand_type(e.hand)
            ids[b, 2:2 + len(t)] = t
            ids[b, P + 2] = lay.special("[SEP]")
            ids[b, P + 3] = lay.special("[SENT]")        # replaced by the sentence slot
            ids[b, P + 4] = lay.special("[PC]")
            ids[b, P + 5:P + 5 + k] = lay.special("[PC]")  # replaced by the point-cloud slots
            ids[b, P + 5 + k] = lay.special("[POSE]")
            ids[b, P + 6 + k] = lay.code_lo + int(e.pose_token)
            ids[b, P + 7 + k] = lay.special("[TRAJ]")
            traj[b, :n] = e.traj
            valid[b, :n] = True
            if e.tokens is not None:
                tok = np.asarray(e.tokens, dtype=np.int64)
                if tok.shape != (n,):
                    raise InputError(f"example has {n} trajectory chunks but {tok.shape} hand tokens")
                labels[b, :n] = tok
                context[b, 0] = lay.code_lo + int(e.pose_token)
                context[b, 1:n] = lay.code_lo + tok[:-1]
        masked = sample_mask((B, N), mask_rate, generator if generator is not None else torch.Generator())
        masked = masked | torch.from_numpy(context == lay.special("[MASK]"))
        ctx = torch.from_numpy(context).masked_fill(masked, lay.special("[MASK]"))
        ids_t = torch.from_numpy(ids)
        ids_t[:, S0:] = ctx
        return VLMBatch(
            ids=ids_t, sentence=torch.from_numpy(np.stack([e.sentence for e in examples]).astype(np.float32)),
            points=torch.from_numpy(np.stack([e.points for e in examples])),
            size=torch.tensor([e.size for e in examples], dtype=torch.float32), traj=torch.from_numpy(traj),
            labels=torch.from_numpy(labels), valid=torch.from_numpy(valid), masked=masked)

    def embed(self, batch: VLMBatch) -> torch.Tensor:
        """(B, S, hidden) input embeddings: token rows, projected slots, + trajectory at hand slots."""
        cfg = self.config
        P, k, S0 = cfg.max_text_tokens, cfg.pc_slots, self.prefix_len
        emb = self.qwen.get_input_embeddings()(batch.ids)
        sent = self.sentence_proj(batch.sentence)[:, None]
        pc = self.pc_proj(batch.points, batch.size)
        traj = self.traj_enc(batch.traj) * batch.valid[..., None]
        return torch.cat([emb[:, :P + 3], sent, emb[:, P + 4:P + 5], pc, emb[:, P + 5 + k:S0],
                          emb[:, S0:] + traj], dim=1)

    def hand_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Restricted logits (..., K): only the codebook rows of the output layer are scored."""
        lay = self.layout
        return F.linear(hidden, self.qwen.get_output_embeddings().weight[lay.code_lo:lay.code_hi])

    def forward(self, batch: VLMBatch) -> torch.Tensor:
        """(B, N, K) restricted logits of hand slots 0..N-1."""
        hidden = self.qwen.model(inputs_embeds=self.embed(batch), use_cache=False).last_hidden_state
        return self.hand_logits(hidden[:, self.prefix_len:])

    def loss(self, batch: VLMBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy over hand-token labels and the number of correct argmax tokens."""
        logits = self(batch)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.labels.reshape(-1), ignore_index=IGNORE)
        with torch.no_grad():
            correct = ((logits.argmax(-1) == batch.labels) & batch.valid).sum()
        return loss, correct

    # ------------------------------------------------------------------ generation
    def generate(self, hand: str, instruction: str, obj_points: np.ndarray, object_poses: np.ndarray,
                 q0: np.ndarray, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0,
                 strategy: str = "cache") -> np.ndarray:
        """Sample hand tokens for one request (Eq. 9 without D_h).

        Args:
            hand: target hand name.
            instruction: free-form instruction.
            obj_points: (N_pts, 3) object points in the object frame [m].
            object_poses: (T, 4, 4) target object trajectory in the world frame [m].
            q0: (D,) initial hand state of ``hand``.
            temperature: 0 = argmax; else softmax temperature.
            top_k: keep the k most likely codes (0 = all).
            top_p: nucleus threshold in (0, 1].
            seed: seed of the sampling ``torch.Generator``.
            strategy: "cache" (KV cache, one slot per step), "full" (recompute every step) or
                "parallel" (one pass; identical logits, see :mod:`unihm_core.vlm.generate`).

        Returns:
            (ceil(T / L),) codebook indices.
        """
        from unihm_core.vlm.generate import generate_tokens

        ex = self.make_example(hand, instruction, obj_points, object_poses, q0)
        return generate_tokens(self, [ex], temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                               strategy=strategy)[0]

    def sample(self, hand: str, instruction: str, obj_points: np.ndarray, object_poses: np.ndarray,
               q0: np.ndarray, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0,
               strategy: str = "cache", keep: int = 5):
        """:meth:`generate` with the model's per-slot probabilities: a
        :class:`~unihm_core.vlm.generate.TokenSample` (same tokens as :meth:`generate`, plus the
        ``keep`` most likely codes per slot with their probabilities)."""
        from unihm_core.vlm.generate import sample_tokens

        ex = self.make_example(hand, instruction, obj_points, object_poses, q0)
        return sample_tokens(self, [ex], temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                             strategy=strategy, keep=keep)[0]

    def generate_trajectory(self, hand: str, instruction: str, obj_points: np.ndarray, object_poses: np.ndarray,
                            q0: np.ndarray, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`generate`, then D_h: returns ((T, D) joint trajectory, (N,) tokens)."""
        tokens = self.generate(hand, instruction, obj_points, object_poses, q0, **kwargs)
        return self.decode(hand, tokens, object_poses), tokens

    def decode(self, hand: str, tokens: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """D_h: hand tokens -> (T, D) joint trajectory of ``hand``."""
        return np.asarray(self._hand_tok().decode(hand, np.asarray(tokens), np.asarray(object_poses)))

