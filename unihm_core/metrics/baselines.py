"""Nearest-neighbour retrieval baseline for ``unihm eval --ablation retrieval``.

Given an instruction, the target object's category, a hand, the target object trajectory and,
optionally, the initial hand state q0 (an input UniHM gets; ``unihm eval`` runs the baseline
without it as ``retrieval`` and with it as ``retrieval_q0``), the baseline returns a
*recorded* motion instead of a generated one:

1. **Retrieve** (:meth:`RetrievalBaseline.retrieve`): among the pool's sequences (the seen
   split) that have a valid trajectory of the hand and the same object category (all of the
   pool's sequences with a valid trajectory when none shares the category), rank by the
   highest cosine similarity of one of their instructions to the query in all-MiniLM-L6-v2
   space (the frozen sentence encoder of :mod:`unihm_core.perception.text_encoder`) and take
   the best; with q0, among the ``top_k`` (5) best take the one whose initial hand pose,
   relative to its object, is closest to q0's (position [m] + 0.1 m per radian of
   rotation), so a top grasp is answered with a top grasp. Ties go to the lower pool index.
   The query's own sequence can be excluded (leave-one-out on the seen split).
2. **Move onto the target trajectory** (:func:`carry_motion`): the recorded wrist pose is
   expressed in its object's *anchored frame* ``C(t) = P(t) P(0)^-1 Trans(p(0))`` (the
   object's rigid motion since frame 0, applied to a world-aligned frame at its start
   position: approach directions are world-consistent, as the human's are, and the hand moves
   rigidly with the object while holding it), resampled in time to the target length (uniform
   time warp ``s = t (T_src - 1) / (T - 1)``; positions and finger joints linearly, wrist
   rotations by spherical interpolation) and carried by the target's anchored frame.
3. **Start at q0** (only with q0): the rigid correction ``D`` that maps the carried first frame onto q0 is
   blended in with weight ``w(t)``: 1 at the first frame, falling linearly to 0 where the
   recorded grasp begins, 0 while the hand holds the object, rising linearly back to 1 over
   the recorded retreat (its phase boundaries, time-warped; the first 25 % / last 20 % when the
   record has none). Finger joints blend from q0's the same way. The result is converted to
   the ``q`` convention (Euler angles unwrapped over time) and clamped to the joint limits.

With q0 the baseline knows everything the VLM is given (instruction, object category, object
trajectory, q0) and answers with real recorded motion; it does not generate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unihm_core.errors import InputError


def anchored_frames(object_poses: np.ndarray) -> np.ndarray:
    """(T, 4, 4) anchored frames ``C(t) = P(t) P(0)^-1 Trans(p(0))`` of an object trajectory (T, 4, 4)."""
    P = np.asarray(object_poses, dtype=np.float64)
    T0 = np.eye(4)
    T0[:3, 3] = P[0, :3, 3]
    return P @ np.linalg.inv(P[0]) @ T0


def blend_weights(T: int, grasp_start: float, retreat_start: float) -> np.ndarray:
    """(T,) weight of the q0 correction: 1 -> 0 until ``grasp_start``, 0, then 0 -> 1 from ``retreat_start``."""
    t = np.arange(T, dtype=np.float64)
    last = max(T - 1.0, 1.0)
    a = float(np.clip(grasp_start, 1.0, last))
    b = float(np.clip(retreat_start, a, last))
    w = np.clip(1.0 - t / a, 0.0, 1.0)
    if b < last:
        w = np.maximum(w, np.clip((t - b) / (last - b), 0.0, 1.0))
    return w


def carry_motion(hand, q_src: np.ndarray, poses_src: np.ndarray, poses_tgt: np.ndarray,
                 q0: np.ndarray | None = None, phases: dict | None = None) -> np.ndarray:
    """Re-target a recorded hand motion onto another object trajectory (module docstring, steps 2-3).

    Args:
        hand: :class:`~unihm_core.hands.HandModel` of ``q_src``.
        q_src: (T_src, D) recorded joint trajectory (world frame).
        poses_src: (T_src, 4, 4) object poses of the recorded sequence [m].
        poses_tgt: (T, 4, 4) target object poses [m].
        q0: (D,) initial state to start from (None: no correction, the carried motion as is).
        phases: the recorded sequence's phase boundaries (``{"grasp": [a, b], "retreat": [c, d]}``,
            frame indices of the source) for the blend weights.

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
    Ct = anchored_frames(Pt)
    rel = np.linalg.inv(anchored_frames(Ps)) @ q_to_wrist_pose(q_src[:, :6])
    Ts, T = len(q_src), len(Pt)
    s = np.linspace(0.0, Ts - 1.0, T) if T > 1 else np.zeros(1)
    grid = np.arange(Ts, dtype=np.float64)
    pos = np.stack([np.interp(s, grid, rel[:, i, 3]) for i in range(3)], axis=1)
    fingers = np.stack([np.interp(s, grid, q_src[:, j]) for j in range(6, hand.dof)], axis=1) \
        if hand.dof > 6 else np.zeros((T, 0))
    rots = Rotation.from_matrix(rel[:, :3, :3])
    R = Slerp(grid, rots)(s) if Ts > 1 else Rotation.concatenate([rots] * T)
    if q0 is not None:
        q0 = np.asarray(q0, dtype=np.float64)
        if q0.shape != (hand.dof,):
            raise InputError(f"carry_motion: q0 must have shape ({hand.dof},), got {q0.shape}")
        scale = (T - 1.0) / max(Ts - 1.0, 1.0)
        ph = phases or {}
        g = ph.get("grasp", [0.25 * (Ts - 1)])[0] * scale
        r = ph.get("retreat", [0.8 * (Ts - 1)])[0] * scale
        w = blend_weights(T, g, r)
        target = np.linalg.inv(Ct[0]) @ q_to_wrist_pose(q0[:6])
        dR = Rotation.from_matrix(target[:3, :3]) * R[0].inv()       # left correction of the rotation
        dp = target[:3, 3] - dR.apply(pos[0])
        rv = dR.as_rotvec()
        corr = Rotation.from_rotvec(w[:, None] * rv[None])
        # partial rigid correction: rotate about the first frame's position, then translate
        pos = corr.apply(pos - pos[0]) + pos[0] + w[:, None] * (dR.apply(pos[0]) + dp - pos[0])
        R = corr * R
        fingers = w[:, None] * q0[None, 6:] + (1.0 - w[:, None]) * fingers
    rel_t = np.tile(np.eye(4), (T, 1, 1))
    rel_t[:, :3, :3], rel_t[:, :3, 3] = R.as_matrix(), pos
    wrist = wrist_pose_to_q(Ct @ rel_t)
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


#: Arrays of a sequence the baseline reads (images are never decoded).
MOTION_KEYS = ("object_poses", "human_q")


def motion_arrays(dataset, seq_id: str) -> dict[str, np.ndarray]:
    """The motion arrays of one sequence (object poses, human and robot joint trajectories)."""
    arr = dataset.arrays(seq_id)
    return {k: v for k, v in arr.items() if k in MOTION_KEYS or k.startswith("q/")}


class RetrievalBaseline:
    """Nearest seen sequence by sentence embedding + object category (+ q0), see the module docstring.

    Args:
        dataset: a :class:`~unihm_core.data.dataset.SyntheticDataset`.
        records: the pool (normally ``dataset.split("seen")``).
        text_encoder: object with ``encode(list[str]) -> (n, d)`` unit-norm embeddings
            (default: the shared all-MiniLM-L6-v2).
        top_k: instruction-ranked candidates among which q0 decides.
        rot_weight: metres per radian of rotation in the initial-pose distance.
        valid_only: retrieve a robot hand's trajectory only from sequences where it passed
            validation (``hands_valid``); False allows every stored one (small test sets).
    """

    def __init__(self, dataset, records: list[dict], text_encoder=None, top_k: int = 5,
                 rot_weight: float = 0.1, valid_only: bool = True) -> None:
        if not records:
            raise InputError("the retrieval baseline needs a non-empty pool of sequences (the seen split)")
        if top_k < 1 or rot_weight < 0:
            raise InputError(f"RetrievalBaseline: need top_k >= 1 and rot_weight >= 0, got {top_k}, {rot_weight}")
        if text_encoder is None:
            from unihm_core.perception.text_encoder import get_text_encoder

            text_encoder = get_text_encoder()
        self.dataset = dataset
        self.records = list(records)
        self.text_encoder = text_encoder
        self.top_k, self.rot_weight, self.valid_only = int(top_k), float(rot_weight), bool(valid_only)
        texts = [s for r in self.records for s in r["instructions"]]
        self._owner = np.array([i for i, r in enumerate(self.records) for _ in r["instructions"]])
        self._emb = np.asarray(text_encoder.encode(texts), dtype=np.float64)
        self._texts = texts
        self._cats = np.array([r["target"]["category"] for r in self.records])
        self._hands: dict = {}
        self._arrays: dict[str, dict[str, np.ndarray]] = {}

    def _hand(self, name: str):
        if name not in self._hands:
            from unihm_core.hands import load_hand

            self._hands[name] = load_hand(name)
        return self._hands[name]

    def _motion(self, seq_id: str) -> dict[str, np.ndarray]:
        if seq_id not in self._arrays:
            self._arrays[seq_id] = motion_arrays(self.dataset, seq_id)
        return self._arrays[seq_id]

    def _has_hand(self, record: dict, hand: str) -> bool:
        if hand == "human":
            return True
        return hand in record.get("hands_valid", {}) and (not self.valid_only or bool(record["hands_valid"][hand]))

    def _start_distance(self, i: int, hand: str, q0: np.ndarray, pose0: np.ndarray) -> float:
        from unihm_core.hands import q_to_wrist_pose

        arr = self._motion(self.records[i]["seq_id"])
        q = arr["human_q"] if hand == "human" else arr[f"q/{hand}"]
        a = q_to_wrist_pose(q[0, :6])
        a[:3, 3] -= arr["object_poses"][0, :3, 3]
        b = q_to_wrist_pose(np.asarray(q0, dtype=np.float64)[:6])
        b[:3, 3] -= np.asarray(pose0, dtype=np.float64)[:3, 3]
        ang = np.arccos(np.clip((np.trace(a[:3, :3].T @ b[:3, :3]) - 1) / 2, -1, 1))
        return float(np.linalg.norm(a[:3, 3] - b[:3, 3]) + self.rot_weight * ang)

    def retrieve(self, instruction: str, category: str, hand: str, exclude: tuple[str, ...] = (),
                 q0: np.ndarray | None = None, pose0: np.ndarray | None = None) -> tuple[int, int, bool]:
        """(pool index, index of its best instruction in the flat list, same category) of the chosen sequence.

        With ``q0`` and ``pose0`` (the target object's first pose), the choice among the
        ``top_k`` instruction-ranked sequences goes to the closest initial hand pose.
        """
        q = np.asarray(self.text_encoder.encode([instruction]), dtype=np.float64)[0]
        ok = np.array([self._has_hand(r, hand) and r["seq_id"] not in exclude for r in self.records])
        if not ok.any():
            raise InputError(f"no sequence in the retrieval pool has a valid {hand} trajectory")
        same = ok & (self._cats == category)
        allowed = same if same.any() else ok
        sims = np.where(allowed[self._owner], self._emb @ q, -np.inf)
        best: dict[int, int] = {}                       # pool index -> its best instruction (flat index)
        for k in np.argsort(-sims, kind="stable"):
            if not np.isfinite(sims[k]):
                break
            best.setdefault(int(self._owner[k]), int(k))
            if len(best) == self.top_k:
                break
        cands = list(best)
        if q0 is not None and pose0 is not None and len(cands) > 1:
            d = [self._start_distance(i, hand, q0, pose0) for i in cands]
            i = cands[int(np.argmin(d))]
        else:
            i = cands[0]
        return i, best[i], bool(same.any())

    def generate(self, hand: str, instruction: str, category: str, object_poses: np.ndarray,
                 exclude: tuple[str, ...] = (), q0: np.ndarray | None = None) -> Retrieved:
        """The retrieved motion carried by ``object_poses`` (T, 4, 4), started at ``q0`` when given."""
        poses = np.asarray(object_poses, dtype=np.float64)
        i, k, same = self.retrieve(instruction, category, hand, exclude, q0=q0, pose0=poses[0])
        rec = self.records[i]
        arr = self._motion(rec["seq_id"])
        q_src = arr["human_q"] if hand == "human" else arr[f"q/{hand}"]
        q = carry_motion(self._hand(hand), q_src, arr["object_poses"], poses, q0=q0, phases=rec.get("phases"))
        q_emb = np.asarray(self.text_encoder.encode([instruction]), dtype=np.float64)[0]
        return Retrieved(q=q, seq_id=rec["seq_id"], instruction=self._texts[k],
                         similarity=float(self._emb[k] @ q_emb), same_category=same)
