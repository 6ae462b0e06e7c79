"""Nearest-neighbour retrieval baseline for ``unihm eval --ablation retrieval``.

Given an instruction, the target object's category, a hand and the target object trajectory,
the baseline returns a *recorded* motion instead of a generated one:

1. **Retrieve**: among the pool's sequences (the seen split) that have a valid trajectory of
   the hand and the same object category (all of the pool's sequences with a valid trajectory
   when none shares the category), take the one whose closest instruction has the highest
   cosine similarity to the query in all-MiniLM-L6-v2 space (the frozen sentence encoder of
   :mod:`unihm_core.perception.text_encoder`). Ties go to the lower dataset index. The query's
   own sequence can be excluded (leave-one-out on the seen split).
2. **Move onto the target trajectory** (:func:`carry_motion`): the retrieved wrist pose is
   expressed in its object's frame at every frame, ``T_rel(s) = inv(P_src(s)) W_src(s)``;
   the retrieved motion is resampled in time to the target length (uniform time warp
   ``s = t (T_src - 1) / (T - 1)``: positions and finger joints linearly, wrist rotations by
   spherical interpolation), and the target object poses carry it:
   ``W(t) = P_tgt(t) T_rel(s(t))``. Finger joints are copied; the state is converted back to
   the ``q`` convention (Euler angles unwrapped over time) and clamped to the joint limits.

So the baseline knows everything the VLM knows except how to *generate*: the right kind of
object, a semantically close instruction and the exact object trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError


def carry_motion(hand, q_src: np.ndarray, poses_src: np.ndarray, poses_tgt: np.ndarray) -> np.ndarray:
    """Re-target a recorded hand motion onto another object trajectory (see the module docstring).

    Args:
        hand: :class:`~unihm_core.hands.HandModel` of ``q_src``.
        q_src: (T_src, D) recorded joint trajectory (world frame).
        poses_src: (T_src, 4, 4) object poses of the recorded sequence [m].
        poses_tgt: (T, 4, 4) target object poses [m].

    Returns:
        (T, D) joint trajectory within the hand's limits.
    """
    from scipy.spatial.transform import Rotation, Slerp

    from unihm_core.hands import q_to_wrist_pose, wrist_pose_to_q

    q_src = np.asarray(q_src, dtype=np.float64)
    Ps, Pt = np.asarray(poses_src, dtype=np.float64), np.asarray(poses_tgt, dtype=np.float64)
    if q_src.ndim != 2 or q_src.shape[1] != hand.dof or Ps.shape != (len(q_src), 4, 4):
        raise InputError(f"carry_motion: need q_src (T_src, {hand.dof}) and poses_src (T_src, 4, 4), got "
                         f"{q_src.shape} and {Ps.shape}")
    if Pt.ndim != 3 or Pt.shape[1:] != (4, 4) or len(Pt) < 1:
        raise InputError(f"carry_motion: target poses must be (T, 4, 4) with T >= 1, got {Pt.shape}")
    rel = np.linalg.inv(Ps) @ q_to_wrist_pose(q_src[:, :6])
    Ts, T = len(q_src), len(Pt)
    s = np.linspace(0.0, Ts - 1.0, T) if T > 1 else np.zeros(1)
    grid = np.arange(Ts, dtype=np.float64)
    pos = np.stack([np.interp(s, grid, rel[:, i, 3]) for i in range(3)], axis=1)
    fingers = np.stack([np.interp(s, grid, q_src[:, j]) for j in range(6, hand.dof)], axis=1) \
        if hand.dof > 6 else np.zeros((T, 0))
    rots = Rotation.from_matrix(rel[:, :3, :3])
    R = (Slerp(grid, rots)(s) if Ts > 1 else Rotation.concatenate([rots] * T)).as_matrix()
    rel_t = np.tile(np.eye(4), (T, 1, 1))
    rel_t[:, :3, :3], rel_t[:, :3, 3] = R, pos
    W = Pt @ rel_t
    wrist = wrist_pose_to_q(W)
    wrist[:, 3:6] = np.unwrap(wrist[:, 3:6], axis=0)
    return hand.clamp(np.concatenate([wrist, fingers], axis=1))


@dataclass
class Retrieved:
    """One retrieval: the trajectory on the target and where it came from."""

    q: np.ndarray
    seq_id: str
    instruction: str
    similarity: float
    same_category: bool


class RetrievalBaseline:
    """Nearest seen sequence by sentence embedding + object category (see the module docstring).

    Args:
        dataset: a :class:`~unihm_core.data.dataset.SyntheticDataset`.
        records: the pool (normally ``dataset.split("seen")``).
        text_encoder: object with ``encode(list[str]) -> (n, d)`` unit-norm embeddings
            (default: the shared all-MiniLM-L6-v2).
    """

    def __init__(self, dataset, records: list[dict], text_encoder=None) -> None:
        if not records:
            raise InputError("the retrieval baseline needs a non-empty pool of sequences (the seen split)")
        if text_encoder is None:
            from unihm_core.perception.text_encoder import get_text_encoder

            text_encoder = get_text_encoder()
        self.dataset = dataset
        self.records = list(records)
        self.text_encoder = text_encoder
        texts = [s for r in self.records for s in r["instructions"]]
        owner = np.array([i for i, r in enumerate(self.records) for _ in r["instructions"]])
        self._emb = np.asarray(text_encoder.encode(texts), dtype=np.float64)
        self._texts, self._owner = texts, owner
        self._cats = np.array([r["target"]["category"] for r in self.records])
        self._hands: dict = {}

    def _hand(self, name: str):
        if name not in self._hands:
            from unihm_core.hands import load_hand

            self._hands[name] = load_hand(name)
        return self._hands[name]

    @staticmethod
    def _has_hand(record: dict, hand: str) -> bool:
        return hand == "human" or bool(record.get("hands_valid", {}).get(hand, False))

    def retrieve(self, instruction: str, category: str, hand: str, exclude: tuple[str, ...] = ()) -> tuple[int, int, bool]:
        """(pool index, instruction index into the flat list, same category) of the nearest sequence."""
        q = np.asarray(self.text_encoder.encode([instruction]), dtype=np.float64)[0]
        ok = np.array([self._has_hand(r, hand) and r["seq_id"] not in exclude for r in self.records])
        if not ok.any():
            raise InputError(f"no sequence in the retrieval pool has a valid {hand} trajectory")
        same = ok & (self._cats == category)
        allowed = same if same.any() else ok
        sims = self._emb @ q
        sims = np.where(allowed[self._owner], sims, -np.inf)
        k = int(np.argmax(sims))                     # first maximum = lowest index on ties
        return int(self._owner[k]), k, bool(same.any())

    def generate(self, hand: str, instruction: str, category: str, object_poses: np.ndarray,
                 exclude: tuple[str, ...] = ()) -> Retrieved:
        """The retrieved motion carried by ``object_poses`` (T, 4, 4); see :class:`Retrieved`."""
        i, k, same = self.retrieve(instruction, category, hand, exclude)
        rec = self.records[i]
        arr = self.dataset.arrays(rec["seq_id"])
        q_src = arr["human_q"] if hand == "human" else arr[f"q/{hand}"]
        q = carry_motion(self._hand(hand), q_src, arr["object_poses"], object_poses)
        q_emb = np.asarray(self.text_encoder.encode([instruction]), dtype=np.float64)[0]
        return Retrieved(q=q, seq_id=rec["seq_id"], instruction=self._texts[k],
                         similarity=float(self._emb[k] @ q_emb), same_category=same)
