"""Test stand-ins for the VLM tests: a random-codebook hand tokenizer, a hashing sentence
encoder and a tiny synthetic dataset folder in the ``unihm data build`` layout.

They mimic the interfaces the VLM uses (``Tokenizer.encode/decode/codebook_size/chunk_len/
hands``, ``TextEncoder.encode``, ``SyntheticDataset``) without any trained checkpoint, so the
VLM tests run in a fresh clone.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

HAND_DIMS = {"shadow": 30, "allegro": 22, "schunk_svh": 15, "leap": 22, "ability": 12, "inspire": 12,
             "panda_gripper": 7, "human": 26}


class StandInTokenizer:
    """Chunk mean -> random projection -> nearest entry of a random shared codebook."""

    def __init__(self, codebook_size: int = 32, chunk_len: int = 4, seed: int = 0, latent: int = 6):
        rng = np.random.default_rng(seed)
        self.codebook_size = codebook_size
        self.chunk_len = chunk_len
        self.hands = tuple(HAND_DIMS)
        self.codebook = rng.normal(size=(codebook_size, latent))
        self.proj = {h: rng.normal(size=(d, latent)) / np.sqrt(d) for h, d in HAND_DIMS.items()}

    def _chunks(self, q: np.ndarray) -> np.ndarray:
        n = -(-len(q) // self.chunk_len)
        pad = n * self.chunk_len - len(q)
        q = np.concatenate([q, np.repeat(q[-1:], pad, axis=0)]) if pad else q
        return q.reshape(n, self.chunk_len, -1).mean(axis=1)

    def encode(self, hand: str, q: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        z = self._chunks(np.asarray(q, dtype=np.float64)) @ self.proj[hand]
        d = ((z[:, None] - self.codebook[None]) ** 2).sum(-1)
        return d.argmin(axis=1).astype(np.int64)

    def decode(self, hand: str, tokens: np.ndarray, object_poses: np.ndarray) -> np.ndarray:
        z = self.codebook[np.asarray(tokens)]
        q = z @ np.linalg.pinv(self.proj[hand])
        return np.repeat(q, self.chunk_len, axis=0)[: len(object_poses)].astype(np.float32)


class HashTextEncoder:
    """Deterministic 384-D unit embeddings: sum of per-word random vectors (seeded by crc32)."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i] += np.random.default_rng(zlib.crc32(w.encode())).normal(size=self.dim)
            out[i] /= max(np.linalg.norm(out[i]), 1e-8)
        return out


TASKS = ("lift", "push", "rotate")


def synth_sequence(rng: np.random.Generator, task: str, T: int) -> dict[str, np.ndarray]:
    """Arrays of one sequence: object moves per task, hands follow smooth task-specific curves."""
    t = np.linspace(0, 1, T)
    poses = np.repeat(np.eye(4)[None], T, axis=0)
    x0 = rng.uniform(-0.2, 0.2, 2)
    poses[:, 0, 3], poses[:, 1, 3], poses[:, 2, 3] = x0[0], x0[1], 0.05
    move = np.clip((t - 0.4) / 0.4, 0, 1)
    if task == "lift":
        poses[:, 2, 3] += 0.2 * move
    elif task == "push":
        poses[:, 0, 3] += 0.2 * move
    else:
        a = 1.2 * move
        poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
    k = TASKS.index(task)
    arr = {"object_poses": poses.astype(np.float32)}
    for h, d in HAND_DIMS.items():
        phase = np.arange(d) * 0.3 + k
        q = np.sin(2 * np.pi * (t[:, None] * (1 + k) + phase[None])) * (0.5 + move[:, None])
        key = "human_q" if h == "human" else f"q/{h}"
        arr[key] = q.astype(np.float32)
    pts = rng.normal(size=(256, 3)) * np.array([0.03, 0.03, 0.06]) * (1 + k)
    arr["obj_points"] = pts.astype(np.float32)
    arr["obj_normals"] = (pts / np.linalg.norm(pts, axis=1, keepdims=True)).astype(np.float32)
    return arr


def write_tiny_dataset(root: Path, n: int = 12, seed: int = 0) -> Path:
    """A dataset folder (manifest.jsonl + one shard) readable by SyntheticDataset."""
    rng = np.random.default_rng(seed)
    (root / "shards").mkdir(parents=True, exist_ok=True)
    arrays, lines = {}, []
    for i in range(n):
        task = TASKS[i % 3]
        T = int(rng.integers(14, 23))
        sid = f"0000-{i:06d}"
        for k, v in synth_sequence(rng, task, T).items():
            arrays[f"{sid}/{k}"] = v
        noun = ("mug", "box", "ball")[i % 3]
        rec = {"seq_id": sid, "index": i, "split": "unseen" if i % 4 == 3 else "seen", "task": task,
               "num_frames": T, "instructions": [f"{task} the {noun}", f"please {task} the {noun}",
                                                 f"{task} that {noun} now", f"can you {task} the {noun}",
                                                 f"{task} the small {noun}"],
               "hands_valid": {h: h != "leap" for h in HAND_DIMS if h != "human"}, "shard": "shard_00000.npz"}
        lines.append(json.dumps(rec))
    np.savez(root / "shards" / "shard_00000.npz", **arrays)
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
