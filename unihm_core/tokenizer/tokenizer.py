"""The public tokenizer: hand trajectories <-> shared-codebook tokens, and cross-hand translation.

::

    from unihm_core.tokenizer import Tokenizer
    tok = Tokenizer.load()                          # checkpoints/tokenizer
    tokens = tok.encode("shadow", q, object_poses)  # (T, D), (T, 4, 4) -> (ceil(T / L),) int64
    q_hat = tok.decode("allegro", tokens, object_poses)   # (T, D_allegro), world frame, within limits
    q_ij = tok.translate(q, "shadow", "allegro", object_poses)  # Eq. 6

A token stands for ``L = tok.chunk_len`` frames. ``encode`` pads a trajectory whose length
is not a multiple of ``L`` by repeating its last frame; ``decode`` returns exactly
``len(object_poses)`` frames, which must be at most ``len(tokens) * L`` (the object poses of
padded frames, when fewer poses than ``len(tokens) * L`` are given, repeat the last pose).
The wrist is decoded in the object frame and carried to the world by the object poses, then
every coordinate is clamped to the hand's joint limits.

Checkpoint folder layout (written by :meth:`Tokenizer.save`)::

    model.safetensors   encoder/decoder weights per hand, the codebook, and the feature
                        normalisation ("norm.<hand>.mean" / "norm.<hand>.std")
    config.yaml         TokenizerConfig, reference hand, per-hand dims and joint names, training config
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from unihm_core.errors import CheckpointError, InputError, UnknownHandError
from unihm_core.paths import CHECKPOINTS_DIR
from unihm_core.tokenizer.features import Normaliser, feature_dim, features_to_q, hand_features, pad_to_multiple
from unihm_core.tokenizer.model import TokenizerConfig

DEFAULT_PATH = CHECKPOINTS_DIR / "tokenizer"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"


class Tokenizer:
    """A trained multi-hand VQ-VAE with its feature normalisers (see the module docstring).

    Attributes:
        config: the :class:`TokenizerConfig`.
        reference: the reference hand (Shadow) the other encoders were distilled to.
        model: the ``MultiHandVQ`` torch module (CPU, eval mode).
        normalisers: hand -> :class:`Normaliser`.
        meta: extra configuration stored with the checkpoint (training config, data).
    """

    def __init__(self, config: TokenizerConfig, model, normalisers: dict[str, Normaliser], reference: str = "shadow",
                 meta: dict | None = None):
        self.config = config
        self.model = model
        self.normalisers = dict(normalisers)
        self.reference = reference
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------ properties
    @property
    def codebook_size(self) -> int:
        return self.config.codebook_size

    @property
    def chunk_len(self) -> int:
        return self.config.chunk_len

    @property
    def hands(self) -> tuple[str, ...]:
        return tuple(self.model.hands)

    def num_tokens(self, num_frames: int) -> int:
        """Tokens for a trajectory of ``num_frames`` frames: ``ceil(T / L)``."""
        return -(-int(num_frames) // self.chunk_len)

    def _hand(self, hand: str):
        from unihm_core.hands import load_hand

        if hand not in self.model.hands:
            raise UnknownHandError(f"the tokenizer has no encoder/decoder for hand {hand!r} (it knows "
                                   f"{', '.join(self.hands)}); add it with `unihm train tokenizer --add-hand {hand}`")
        return load_hand(hand)

    # ------------------------------------------------------------------ encode / decode
    def latents(self, hand: str, q_seq: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """Continuous encoder outputs ``z_e`` ``(ceil(T/L), d_z)`` of a trajectory (before quantisation)."""
        import torch

        model = self._hand(hand)
        q_seq = np.asarray(q_seq, np.float64)
        if q_seq.ndim != 2 or q_seq.shape[1] != model.dof:
            raise InputError(f"{hand}: expected q of shape (T, {model.dof}), got {q_seq.shape}")
        x = self.normalisers[hand].apply(hand_features(q_seq, object_poses))
        x = pad_to_multiple(x, self.chunk_len)
        with torch.no_grad():
            return self.model.encode(hand, torch.from_numpy(x)[None]).numpy()[0]

    def encode(self, hand: str, q_seq: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """Tokens ``(ceil(T/L),)`` int64 of hand trajectory ``q_seq`` ``(T, D)`` given object poses ``(T, 4, 4)``."""
        import torch

        from unihm_core.tokenizer.codebook import quantise

        z = torch.from_numpy(self.latents(hand, q_seq, object_poses))
        with torch.no_grad():
            _, idx, _ = quantise(z, self.model.codebook)
        return idx.numpy().astype(np.int64)

    def decode(self, hand: str, tokens: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """World-frame states ``(T, D)`` of hand ``hand`` from ``tokens`` ``(N,)``; ``T = len(object_poses) <= N L``."""
        import torch

        model = self._hand(hand)
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or len(tokens) == 0 or not np.issubdtype(tokens.dtype, np.integer):
            raise InputError(f"tokens must be a non-empty 1-D integer array, got shape {tokens.shape} dtype {tokens.dtype}")
        if tokens.min() < 0 or tokens.max() >= self.codebook_size:
            raise InputError(f"token ids must lie in [0, {self.codebook_size}); got range "
                             f"[{tokens.min()}, {tokens.max()}]")
        object_poses = np.asarray(object_poses, np.float64)
        T = len(object_poses)
        n_frames = len(tokens) * self.chunk_len
        if object_poses.ndim != 3 or object_poses.shape[1:] != (4, 4) or not 0 < T <= n_frames:
            raise InputError(f"object_poses must have shape (T, 4, 4) with 0 < T <= len(tokens) * chunk_len = "
                             f"{n_frames}; got {object_poses.shape}")
        with torch.no_grad():
            z = self.model.codebook[torch.from_numpy(tokens.astype(np.int64))][None]
            x = self.model.decode(hand, z).numpy()[0][:T]
        q = features_to_q(self.normalisers[hand].invert(x), object_poses)
        return model.clamp(q)

    def reconstruct(self, hand: str, q_seq: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        """``decode(hand, encode(hand, q), poses)`` ``(T, D)``."""
        return self.decode(hand, self.encode(hand, q_seq, object_poses), object_poses)

    def translate(self, q_seq: np.ndarray, from_hand: str, to_hand: str, object_poses: np.ndarray) -> np.ndarray:
        """Eq. 6: encode with ``from_hand``'s encoder, decode with ``to_hand``'s decoder -> ``(T, D_to)``."""
        return self.decode(to_hand, self.encode(from_hand, q_seq, object_poses), object_poses)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``model.safetensors`` + ``config.yaml`` into folder ``path``."""
        import torch
        from safetensors.torch import save_file

        from unihm_core.hands import load_hand

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in self.model.state_dict().items()}
        for h, n in self.normalisers.items():
            tensors[f"norm.{h}.mean"] = torch.from_numpy(np.asarray(n.mean, np.float32))
            tensors[f"norm.{h}.std"] = torch.from_numpy(np.asarray(n.std, np.float32))
        save_file(tensors, str(path / WEIGHTS_FILE))
        hands = {}
        for h in self.hands:
            m = load_hand(h)
            hands[h] = {"dof": m.dof, "feature_dim": feature_dim(m.finger_dof), "joint_names": list(m.joint_names)}
        doc = {"tokenizer": self.config.as_dict(), "reference": self.reference, "hands": hands, **self.meta}
        (path / CONFIG_FILE).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> Tokenizer:
        """Load a checkpoint folder (default: the shipped ``checkpoints/tokenizer``)."""
        from safetensors.torch import load_file

        from unihm_core.tokenizer.model import MultiHandVQ

        path = Path(path) if path is not None else DEFAULT_PATH
        if not (path / WEIGHTS_FILE).exists() or not (path / CONFIG_FILE).exists():
            raise CheckpointError(f"no tokenizer checkpoint in {path} (need {WEIGHTS_FILE} and {CONFIG_FILE}); "
                                  "train one with `unihm train tokenizer --data DIR --out DIR`")
        doc = yaml.safe_load((path / CONFIG_FILE).read_text(encoding="utf-8"))
        try:
            cfg = TokenizerConfig(**doc["tokenizer"])
            hands = doc["hands"]
            model = MultiHandVQ(cfg, {h: int(v["feature_dim"]) for h, v in hands.items()})
            tensors = load_file(str(path / WEIGHTS_FILE))
            norms = {h: Normaliser(tensors.pop(f"norm.{h}.mean").numpy(), tensors.pop(f"norm.{h}.std").numpy())
                     for h in hands}
            model.load_state_dict(tensors, strict=True)
        except (KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"tokenizer checkpoint {path} does not match this code ({exc}); retrain it with "
                                  "`unihm train tokenizer`") from exc
        from unihm_core.hands import load_hand

        for h, v in hands.items():
            try:
                names = list(load_hand(h).joint_names)
            except UnknownHandError as exc:
                raise CheckpointError(f"tokenizer checkpoint {path} covers hand {h!r}, which is not registered "
                                      "here; add it with `unihm hands add`") from exc
            if names != list(v["joint_names"]):
                raise CheckpointError(f"tokenizer checkpoint {path}: hand {h!r} joint names differ from the "
                                      "current hand model; retrain the tokenizer")
        model.eval()
        meta = {k: v for k, v in doc.items() if k not in ("tokenizer", "reference", "hands")}
        return cls(cfg, model, norms, reference=doc.get("reference", "shadow"), meta=meta)
