"""Vocabulary of the DexHand VLM and its text tokenizers (paper App. C.1).

Layout of the model's token ids (embedding rows and output rows)::

    [0, V_text)                      text tokens (BPE trained here, or the base model's rows)
    [V_text, V_text + 9)             specials, in SPECIAL_TOKENS order:
                                     [BOS] [EOS] [SEP] [MASK] [PC] [TRAJ] [POSE] [PAD] [SENT]
    [.. , .. + H)                    one [HAND_<name>] per hand type (VLMConfig.hands order)
    [code_lo, code_lo + K)           one token per codebook entry k of the hand tokenizer:
                                     id = code_lo + k (contiguous, K of them)

``V_text`` is the BPE vocabulary size for the model trained from scratch, or the base model's
``config.vocab_size`` (its embedding rows, which may exceed ``len(tokenizer)``) for a
pretrained Qwen3; the added rows are created by ``resize_token_embeddings``. Hand tokens are
decoded with restricted logits: only rows ``[code_lo, code_hi)`` are scored where a hand token
is due (:func:`unihm_core.vlm.model.DexHandVLM.hand_logits`), which equals setting every other
logit to -inf.

Text tokenizers: :class:`BPETextTokenizer` is a byte-level BPE (``tokenizers``) trained on the
dataset's instructions (lower-cased, whitespace-normalised); :class:`HFTextTokenizer` wraps a
base model's own tokenizer (``AutoTokenizer``). Both map a string to text ids < V_text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from unihm_core.errors import CheckpointError, ConfigError

SPECIAL_TOKENS: tuple[str, ...] = ("[BOS]", "[EOS]", "[SEP]", "[MASK]", "[PC]", "[TRAJ]", "[POSE]", "[PAD]",
                                   "[SENT]")
BPE_FILE = "text_tokenizer.json"
HF_TOKENIZER_DIR = "text_tokenizer"


@dataclass(frozen=True)
class VocabLayout:
    """Token-id layout: text, specials, hand types, codebook entries (see module docstring)."""

    text_vocab_size: int
    hands: tuple[str, ...]
    codebook_size: int

    def __post_init__(self) -> None:
        if self.text_vocab_size < 1 or self.codebook_size < 1 or not self.hands:
            raise ConfigError("VocabLayout: text_vocab_size and codebook_size must be positive, hands non-empty")

    @property
    def special_lo(self) -> int:
        return self.text_vocab_size

    def special(self, name: str) -> int:
        """Id of a special token, e.g. ``special("[MASK]")``."""
        try:
            return self.special_lo + SPECIAL_TOKENS.index(name)
        except ValueError:
            raise ConfigError(f"unknown special token {name!r}; known: {SPECIAL_TOKENS}") from None

    @property
    def hand_lo(self) -> int:
        return self.special_lo + len(SPECIAL_TOKENS)

    def hand_type(self, hand: str) -> int:
        """Id of the [HAND_<hand>] token."""
        if hand not in self.hands:
            raise ConfigError(f"hand {hand!r} has no token in this VLM; it knows {list(self.hands)}")
        return self.hand_lo + self.hands.index(hand)

    @property
    def code_lo(self) -> int:
        """Id of codebook entry 0."""
        return self.hand_lo + len(self.hands)

    @property
    def code_hi(self) -> int:
        """One past the id of codebook entry K-1."""
        return self.code_lo + self.codebook_size

    @property
    def size(self) -> int:
        """Total number of token ids (embedding rows)."""
        return self.code_hi

    @property
    def num_added(self) -> int:
        """Tokens added after the text vocabulary."""
        return self.size - self.text_vocab_size


class BPETextTokenizer:
    """Byte-level BPE over instructions (``tokenizers``); ids in ``[0, vocab_size)``."""

    def __init__(self, tokenizer) -> None:
        self._tok = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 1024) -> BPETextTokenizer:
        """Train on ``texts`` (deterministic for a given input order)."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(list(texts), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return int(self._tok.get_vocab_size())

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text).ids)

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids))

    def save(self, folder: str | Path) -> None:
        self._tok.save(str(Path(folder) / BPE_FILE))

    @classmethod
    def load(cls, folder: str | Path) -> BPETextTokenizer:
        from tokenizers import Tokenizer

        p = Path(folder) / BPE_FILE
        if not p.exists():
            raise CheckpointError(f"text tokenizer {p} is missing; the VLM checkpoint is incomplete, retrain it")
        return cls(Tokenizer.from_file(str(p)))


class HFTextTokenizer:
    """A pretrained model's own tokenizer (``AutoTokenizer``), e.g. Qwen3's byte-level BPE."""

    def __init__(self, tokenizer) -> None:
        self._tok = tokenizer

    @classmethod
    def from_pretrained(cls, path: str | Path) -> HFTextTokenizer:
        from transformers import AutoTokenizer

        try:
            return cls(AutoTokenizer.from_pretrained(str(path)))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"could not load a tokenizer from {path} ({exc}); the folder must hold the "
                                  "base model's tokenizer files") from None

    @property
    def vocab_size(self) -> int:
        return len(self._tok)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(list(ids))

    def save(self, folder: str | Path) -> None:
        self._tok.save_pretrained(str(Path(folder) / HF_TOKENIZER_DIR))

    @classmethod
    def load(cls, folder: str | Path) -> HFTextTokenizer:
        return cls.from_pretrained(Path(folder) / HF_TOKENIZER_DIR)


def load_text_tokenizer(folder: str | Path) -> BPETextTokenizer | HFTextTokenizer:
    """The text tokenizer saved in a VLM checkpoint folder (BPE file or HF folder)."""
    folder = Path(folder)
    if (folder / BPE_FILE).exists():
        return BPETextTokenizer.load(folder)
    if (folder / HF_TOKENIZER_DIR).is_dir():
        return HFTextTokenizer.load(folder)
    raise CheckpointError(f"{folder} holds no text tokenizer ({BPE_FILE} or {HF_TOKENIZER_DIR}/); retrain the VLM")
