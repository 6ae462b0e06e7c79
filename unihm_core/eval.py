"""Evaluation harness behind ``unihm eval``: the paper's Table 1 / Table 4 protocol on the
synthetic benchmark (App. F metrics; seen / unseen splits).

Inputs per test case (sequence s of the split, hand h, sampling seed k):

* the ground-truth object trajectory of the dataset (``object_poses``, world frame): the
  planner is evaluated separately, so every method gets the same *planned* trajectory;
* the object's surface samples (``obj_points`` / ``obj_normals``, object frame) as P_obj;
* instruction number ``k mod 5`` of the sequence (so the seeds also vary the phrasing);
* q0 = the ground-truth state of frame 0 (the paper's Q_pos0); nothing else of the
  ground-truth motion is given to any method.

Sequences: the first ``n`` of the split in dataset order; for a robot hand only those whose
retargeted trajectory passed validation (``hands_valid``) are scored (the ground truth of the
others is flagged as implausible). Hands: every hand the VLM and the tokenizer both know
(default), each scored on its own; tables show the mean over hands.

Methods (``--ablation``):

* ``none`` (**UniHM**): VLM sampling (temperature 0.7, top-p 0.95, the app's defaults), D_h
  decoding, physics refinement (:func:`unihm_core.refine.refine`).
* ``no_refine`` (w/o physical refinement): the same decoded trajectories, unrefined.
* ``no_mask`` (w/o masked training): a VLM trained with mask rate 0 in every epoch
  (teacher forcing only; checkpoint ``checkpoints/vlm_nomask``). Such a model never saw
  [MASK] in a hand slot, so it is run the way a teacher-forced model is used: autoregressively,
  each sampled token fed back as the next slot's context (:func:`generate_feedback`), then
  decoded and refined like UniHM. The gap to UniHM is the exposure bias the curriculum removes.
* ``no_depth`` (w/o depth input): perception and planning from RGB only. Without depth there
  is (1) no object point cloud: the VLM's PointNet input is all zeros with the size scalar of
  the 5 cm reference radius, and the refinement gets no real surface but a default proxy, a
  sphere of radius ``proxy_radius`` (4 cm) resting on the table at the object's origin; and
  (2) no metric depth for localisation: a monocular estimate of the object's position is
  right up to a scale error along the camera ray, modelled as a relative depth error
  ``s ~ N(1, depth_scale_std = 0.1)`` (clipped to [0.7, 1.3]; AbsRel about 0.1 is typical of
  monocular metric depth indoors), one per sequence (seeded by its index), applied to the
  planned trajectory about the camera centre: ``p~(t) = c + s (p(t) - c)`` (orientations
  kept). The VLM, decoding and refinement all see the perturbed trajectory; the metrics
  compare with the true ground truth and the true object.
* ``retrieval``: the nearest-neighbour baseline of :mod:`unihm_core.metrics.baselines`
  (pool = the seen split, the query's own sequence excluded): the closest sequence by
  instruction embedding and object category, carried by the target object trajectory; then
  refined like UniHM, as the paper refines its baselines "to ensure a fair comparison".
* ``retrieval_q0``: the same baseline also given q0 (the input UniHM gets): among the five
  best instruction matches it takes the one whose initial hand pose is closest to q0, and it
  starts the carried motion at q0 (blended out before the grasp, back in over the retreat).
* ``oracle`` (a reference, not a method): the ground truth's own tokens E_h(Q) decoded by D_h
  and refined, the best a VLM writing this tokenizer's tokens can do; it separates the
  VLM's error from the tokenizer's. It does not depend on the seed and is computed once.

Metrics (:mod:`unihm_core.metrics.motion`, :mod:`unihm_core.metrics.physical`): per
trajectory MPJPE [mm], FPL [mm], FOL [deg], penetration (max over frames) [mm], contact
distance over the frames where the object moves [mm] and fingertip jerk [m/s^3], averaged
over the sequences of a hand; FID (against the ground truth of the same sequences) and
Diversity (mean pairwise distance, Eq. F9) of the motion-encoder features of one seed's
trajectories of a hand. Every number is computed per (hand, seed); a hand's value is the mean
over seeds with the standard deviation over seeds (``±``, population, ``ddof = 0``); the
"mean" row averages the hands' per-seed values first. The ``GT`` row gives the ground
truth's Diversity and physical metrics.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from unihm_core.errors import CheckpointError, ConfigError, InputError
from unihm_core.paths import CHECKPOINTS_DIR

#: ``--ablation`` values and the method each selects.
ABLATIONS = {"none": "unihm", "no_refine": "no_refine", "no_depth": "no_depth", "no_mask": "no_mask",
             "retrieval": "retrieval", "retrieval_q0": "retrieval_q0", "oracle": "oracle"}
METHODS = tuple(ABLATIONS.values())
METHOD_LABELS = {"unihm": "UniHM (ours)", "no_refine": "w/o physical refinement", "no_depth": "w/o depth input",
                 "no_mask": "w/o masked training", "retrieval": "NN retrieval + refinement",
                 "retrieval_q0": "NN retrieval from q0 + refinement",
                 "oracle": "GT tokens decoded + refinement (tokenizer bound)"}
NOMASK_DIR = CHECKPOINTS_DIR / "vlm_nomask"
TRAJ_METRICS = ("mpjpe_mm", "fol_deg", "fpl_mm", "penetration_mm", "contact_mm", "jerk_m_s3")
SET_METRICS = ("fid", "diversity")
TABLE_COLUMNS = ("mpjpe_mm", "fol_deg", "fpl_mm", "fid", "diversity", "penetration_mm", "contact_mm")


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run.

    Attributes:
        split: "seen" or "unseen".
        methods: subset of :data:`METHODS`.
        n: use the first n sequences of the split (None: all).
        seeds: sampling seeds (instruction ``seed mod 5``, VLM sampling seed).
        hands: hands to score (None: every hand the VLM and the tokenizer both know).
        temperature, top_k, top_p: VLM sampling.
        depth_scale_std: std of the relative depth error of ``no_depth``.
        proxy_radius: radius of the ``no_depth`` proxy sphere [m].
        vlm_path, nomask_path, tokenizer_path, encoder_path: checkpoint folders (None: shipped).
        valid_only: score a robot hand only on sequences whose retargeted trajectory passed
            validation (``hands_valid``); False scores every stored one (small test sets).
    """

    split: str = "unseen"
    methods: tuple[str, ...] = ("unihm",)
    n: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    hands: tuple[str, ...] | None = None
    temperature: float = 0.7
    top_k: int = 0
    top_p: float = 0.95
    depth_scale_std: float = 0.1
    proxy_radius: float = 0.04
    vlm_path: str | None = None
    nomask_path: str | None = None
    tokenizer_path: str | None = None
    encoder_path: str | None = None
    valid_only: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.hands is not None:
            object.__setattr__(self, "hands", tuple(self.hands))
        if self.split not in ("seen", "unseen"):
            raise ConfigError(f"split={self.split!r}: choose 'seen' or 'unseen'")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ConfigError(f"methods {bad or '(none)'}: choose from {list(METHODS)}")
        if not self.seeds:
            raise ConfigError("seeds: give at least one sampling seed")
        if self.n is not None and self.n < 1:
            raise ConfigError(f"n={self.n}: must be a positive number of sequences")
        if not 0 <= self.temperature <= 5 or self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ConfigError("sampling: need 0 <= temperature <= 5, top_k >= 0, 0 < top_p <= 1")
        if self.depth_scale_std < 0 or self.proxy_radius <= 0:
            raise ConfigError("depth_scale_std must be >= 0 and proxy_radius > 0")


@dataclass
class EvalModels:
    """The models an evaluation uses (loaded once, shareable between runs)."""

    vlm: object = None
    vlm_nomask: object = None
    encoder: object = None
    retrieval: dict = field(default_factory=dict)   # "root|valid_only=..." -> RetrievalBaseline


def load_models(config: EvalConfig, models: EvalModels | None = None) -> EvalModels:
    """Load what ``config.methods`` need into ``models`` (fields already set are kept)."""
    from unihm_core.metrics.motion_encoder import MotionEncoder

    m = models or EvalModels()
    tok = None
    needs_vlm = any(x in config.methods for x in ("unihm", "no_refine", "no_depth", "oracle"))
    if (needs_vlm and m.vlm is None) or ("no_mask" in config.methods and m.vlm_nomask is None):
        from unihm_core.tokenizer import Tokenizer

        tok = Tokenizer.load(config.tokenizer_path)
    if needs_vlm and m.vlm is None:
        from unihm_core.vlm import DexHandVLM

        m.vlm = DexHandVLM.load(config.vlm_path, tokenizer=tok)
    if "no_mask" in config.methods and m.vlm_nomask is None:
        from unihm_core.vlm import DexHandVLM

        path = Path(config.nomask_path) if config.nomask_path else NOMASK_DIR
        if not (path / "config.yaml").exists():
            raise CheckpointError(f"the 'no_mask' ablation needs a VLM trained without the masking curriculum in "
                                  f"{path}; train it with `unihm train vlm --data DIR --out {path} --no-mask`")
        m.vlm_nomask = DexHandVLM.load(path, tokenizer=tok)
    if m.encoder is None:
        m.encoder = MotionEncoder.load(config.encoder_path)
    return m


# ---------------------------------------------------------------------------------- generation helpers
def proxy_sphere(radius: float, n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3) points and outward normals of a sphere of ``radius`` [m] resting on z = 0 (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = np.pi * (1 + 5 ** 0.5) * i
    nrm = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    return radius * nrm + np.array([0.0, 0.0, radius]), nrm


def depth_free_poses(object_poses: np.ndarray, camera_extrinsics: np.ndarray, scale: float) -> np.ndarray:
    """Object poses with positions scaled by ``scale`` about the camera centre (orientations kept)."""
    P = np.array(object_poses, dtype=np.float64, copy=True)
    c = np.asarray(camera_extrinsics, dtype=np.float64)[:3, 3]
    P[:, :3, 3] = c + scale * (P[:, :3, 3] - c)
    return P


def depth_scale(index: int, std: float) -> float:
    """The ``no_depth`` relative depth error of sequence ``index`` (seeded by the index)."""
    return float(np.clip(1.0 + std * np.random.default_rng([7, int(index)]).normal(), 0.7, 1.3))


def generate_feedback(model, examples: list, *, temperature: float, top_k: int, top_p: float,
                      seed: int) -> list[np.ndarray]:
    """Autoregressive sampling with the sampled tokens fed back as context (teacher-forced models).

    Slot i's context is E_h(q0) for i = 0 and the token sampled at slot i-1 otherwise (the
    training inputs of :meth:`DexHandVLM.collate` at mask rate 0). The prefix is run once and
    each slot reuses the decoder's KV cache (causal attention: slot i sees slots 0..i only).
    Returns one (N_b,) array of codebook indices per example.
    """
    import torch

    from unihm_core.vlm.generate import sample_logits

    gen = torch.Generator().manual_seed(int(seed))
    exs = [type(e)(**{**e.__dict__, "tokens": np.zeros(len(e.traj), dtype=np.int64)}) for e in examples]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        batch = model.collate(exs, mask_rate=0.0)
        S0, N = model.prefix_len, batch.traj.shape[1]
        code_lo = model.layout.code_lo
        decoder = model.qwen.model
        emb = model.embed(batch)
        res = decoder(inputs_embeds=emb[:, :S0], use_cache=True)
        cache = res.cache
        slot_emb = model.qwen.get_input_embeddings()
        traj = model.traj_enc(batch.traj) * batch.valid[..., None]
        out = torch.zeros((len(exs), N), dtype=torch.int64)
        for i in range(N):
            x = emb[:, S0:S0 + 1] if i == 0 else (slot_emb(code_lo + out[:, i - 1:i]) + traj[:, i:i + 1])
            res = decoder(inputs_embeds=x, cache=cache, use_cache=True)
            cache = res.cache
            out[:, i] = sample_logits(model.hand_logits(res.last_hidden_state[:, -1]), temperature, top_k, top_p, gen)
    model.train(was_training)
    return [out[b, :len(e.traj)].numpy() for b, e in enumerate(exs)]


# ---------------------------------------------------------------------------------- one trajectory's metrics
def _trajectory_metrics(hand, q: np.ndarray, gt: dict | None,
                        case: dict) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """Metrics of one trajectory, its MPJPE joints (T, J, 3), root poses (T, 4, 4) and clamped copy."""
    from unihm_core.hands import q_to_wrist_pose
    from unihm_core.metrics.motion import fol_deg, fpl_mm, joint_link_indices, mpjpe_mm
    from unihm_core.metrics.physical import physical_metrics

    q = hand.clamp(np.asarray(q, dtype=np.float64))
    fk = hand.fk(q)
    joints = fk.link_poses[..., :3, 3][:, joint_link_indices(hand)]
    root = q_to_wrist_pose(q[:, :6])
    phys = physical_metrics(fk.fingertips, case["poses"], case["points"], case["normals"],
                            schedule=case["moving"][:, None])
    out = {"penetration_mm": phys["penetration_max_mm"], "contact_mm": phys["contact_distance_mm"],
           "jerk_m_s3": phys["jerk_m_s3"]}
    if gt is not None:
        out.update(mpjpe_mm=mpjpe_mm(joints, gt["joints"]), fpl_mm=fpl_mm(root, gt["root"]),
                   fol_deg=fol_deg(root, gt["root"]))
    return out, joints, root, q


_CASE_KEYS = ("object_poses", "human_q", "obj_points", "obj_normals")


def _cases(ds, records: list[dict], hand: str, valid_only: bool = True, cache: dict | None = None) -> list[dict]:
    """Test cases of one hand; ``cache`` keeps each sequence's motion arrays (images are never decoded twice)."""
    from unihm_core.refine import RefineConfig, moving_frames

    rc = RefineConfig()
    cache = {} if cache is None else cache
    out = []
    for r in records:
        if valid_only and hand != "human" and not r.get("hands_valid", {}).get(hand, False):
            continue
        if r["seq_id"] not in cache:
            cache[r["seq_id"]] = {k: v for k, v in ds.arrays(r["seq_id"]).items()
                                  if k in _CASE_KEYS or k.startswith("q/")}
        arr = cache[r["seq_id"]]
        q = arr["human_q"] if hand == "human" else arr.get(f"q/{hand}")
        if q is None:
            continue
        poses = arr["object_poses"].astype(np.float64)
        out.append({"record": r, "q_gt": q.astype(np.float64), "poses": poses,
                    "points": arr["obj_points"].astype(np.float64), "normals": arr["obj_normals"].astype(np.float64),
                    "moving": moving_frames(poses, rc.motion_trans_tol, rc.motion_rot_tol)})
    return out


def _summ(rows: list[dict], keys=TRAJ_METRICS) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in keys if rows and k in rows[0]}


def _mean_std(per_seed: list[dict]) -> tuple[dict, dict]:
    keys = [k for k in per_seed[0] if all(k in p and p[k] is not None for p in per_seed)]
    mean = {k: float(np.mean([p[k] for p in per_seed])) for k in keys}
    std = {k: float(np.std([p[k] for p in per_seed])) for k in keys}
    return mean, std


# ---------------------------------------------------------------------------------- the harness
def evaluate(data, config: EvalConfig, models: EvalModels | None = None, progress=print) -> dict:
    """Run the evaluation of the module docstring on a dataset folder (or a SyntheticDataset).

    Returns a JSON-ready dict: ``config``, ``dataset``, ``hands``, ``sequences`` (ids),
    ``cases_per_hand``, ``gt`` (per hand and mean: diversity, physical metrics), ``methods``
    (per method: ``label``, ``per_hand`` {hand: {mean, std, per_seed}}, ``mean`` / ``std`` /
    ``per_seed`` over hands), ``timings_s``. Hands with fewer than two valid sequences in the
    subset are left out (FID and Diversity need two); ``cases_per_hand`` lists them all.
    """
    from unihm_core.data.dataset import SyntheticDataset
    from unihm_core.metrics.motion import diversity, fid
    from unihm_core.refine import refine

    t_all = time.perf_counter()
    ds = data if isinstance(data, SyntheticDataset) else SyntheticDataset(data)
    records = ds.split(config.split)
    if config.n is not None:
        records = records[: config.n]
    if not records:
        raise InputError(f"dataset {ds.root} has no '{config.split}' sequences to evaluate")
    m = load_models(config, models)
    vlm = m.vlm if m.vlm is not None else m.vlm_nomask
    if config.hands is not None:
        hands = config.hands
    elif vlm is not None:
        hands = tuple(h for h in vlm.config.hands if h in vlm._hand_tok().hands)
    else:
        hands = tuple(h for h in m.encoder.config.hands)
    for model in (m.vlm, m.vlm_nomask):
        if model is not None:
            missing = [h for h in hands if h not in model.config.hands or h not in model._hand_tok().hands]
            if missing:
                raise ConfigError(f"hands {missing} are not supported by the VLM / tokenizer; choose from "
                                  f"{[h for h in model.config.hands if h in model._hand_tok().hands]}")
    retr = None
    if "retrieval" in config.methods or "retrieval_q0" in config.methods:
        key = f"{ds.root}|valid_only={config.valid_only}"
        if key not in m.retrieval:
            from unihm_core.metrics.baselines import RetrievalBaseline

            text_enc = vlm.text_encoder if vlm is not None and vlm.text_encoder is not None else None
            m.retrieval[key] = RetrievalBaseline(ds, ds.split("seen"), text_encoder=text_enc,
                                                 valid_only=config.valid_only)
        retr = m.retrieval[key]
    from unihm_core.hands import load_hand

    timings = {k: 0.0 for k in ("generate", "decode", "refine", "retrieve", "metrics")}
    per = {meth: {h: [] for h in hands} for meth in config.methods}     # per-seed summaries
    gt_out, cases_per_hand = {}, {}
    px_pts, px_nrm = proxy_sphere(config.proxy_radius)
    cache: dict = {}
    for h in hands:
        hand = load_hand(h)
        cases = _cases(ds, records, h, config.valid_only, cache)
        cases_per_hand[h] = len(cases)
        if len(cases) < 2:
            progress(f"{h}: {len(cases)} valid sequence(s) in the subset; skipped (FID / Diversity need 2)")
            continue
        t0 = time.perf_counter()
        gts, gt_feats, gt_rows = [], [], []
        for c in cases:
            row, joints, root, qc = _trajectory_metrics(hand, c["q_gt"], None, c)
            gts.append({"joints": joints, "root": root})
            gt_rows.append(row)
            gt_feats.append(m.encoder.features(h, qc, c["poses"]))
        gt_z = m.encoder.encode(gt_feats)
        gt_out[h] = {**_summ(gt_rows, ("penetration_mm", "contact_mm", "jerk_m_s3")), "diversity": diversity(gt_z),
                     "n": len(cases)}
        timings["metrics"] += time.perf_counter() - t0
        for seed in config.seeds:
            instr = [c["record"]["instructions"][seed % len(c["record"]["instructions"])] for c in cases]
            outputs: dict[str, list[np.ndarray]] = {}
            t0 = time.perf_counter()
            if any(x in config.methods for x in ("unihm", "no_refine")):
                exs = [m.vlm.make_example(h, s, c["points"], c["poses"], c["q_gt"][0]) for s, c in zip(instr, cases)]
                toks = _generate(m.vlm, exs, config, seed)
                timings["generate"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                raw = [m.vlm.decode(h, t, c["poses"]) for t, c in zip(toks, cases)]
                timings["decode"] += time.perf_counter() - t0
                if "no_refine" in config.methods:
                    outputs["no_refine"] = raw
                if "unihm" in config.methods:
                    t0 = time.perf_counter()
                    outputs["unihm"] = [refine(hand, q, c["points"], c["poses"], normals=c["normals"]).q
                                        for q, c in zip(raw, cases)]
                    timings["refine"] += time.perf_counter() - t0
            if "no_depth" in config.methods:
                t0 = time.perf_counter()
                est = [depth_free_poses(c["poses"], c["record"]["scene"]["camera"]["extrinsics"],
                                        depth_scale(c["record"]["index"], config.depth_scale_std)) for c in cases]
                exs = []
                for s, c, P in zip(instr, cases, est):
                    e = m.vlm.make_example(h, s, px_pts, P, c["q_gt"][0])
                    e.points = np.zeros_like(e.points)
                    e.size = 0.0
                    exs.append(e)
                toks = _generate(m.vlm, exs, config, seed)
                timings["generate"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                raw = [m.vlm.decode(h, t, P) for t, P in zip(toks, est)]
                timings["decode"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                outputs["no_depth"] = [refine(hand, q, px_pts, P, normals=px_nrm).q for q, P in zip(raw, est)]
                timings["refine"] += time.perf_counter() - t0
            if "no_mask" in config.methods:
                t0 = time.perf_counter()
                exs = [m.vlm_nomask.make_example(h, s, c["points"], c["poses"], c["q_gt"][0])
                       for s, c in zip(instr, cases)]
                toks = generate_feedback(m.vlm_nomask, exs, temperature=config.temperature, top_k=config.top_k,
                                         top_p=config.top_p, seed=seed)
                timings["generate"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                raw = [m.vlm_nomask.decode(h, t, c["poses"]) for t, c in zip(toks, cases)]
                timings["decode"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                outputs["no_mask"] = [refine(hand, q, c["points"], c["poses"], normals=c["normals"]).q
                                      for q, c in zip(raw, cases)]
                timings["refine"] += time.perf_counter() - t0
            for meth in ("retrieval", "retrieval_q0"):
                if meth not in config.methods:
                    continue
                t0 = time.perf_counter()
                raw = [retr.generate(h, s, c["record"]["target"]["category"], c["poses"],
                                     exclude=(c["record"]["seq_id"],),
                                     q0=c["q_gt"][0] if meth == "retrieval_q0" else None).q
                       for s, c in zip(instr, cases)]
                timings["retrieve"] += time.perf_counter() - t0
                t0 = time.perf_counter()
                outputs[meth] = [refine(hand, q, c["points"], c["poses"], normals=c["normals"]).q
                                 for q, c in zip(raw, cases)]
                timings["refine"] += time.perf_counter() - t0
            if "oracle" in config.methods:
                if seed == config.seeds[0]:
                    t0 = time.perf_counter()
                    tok = m.vlm._hand_tok()
                    oracle = [refine(hand, tok.reconstruct(h, c["q_gt"], c["poses"]), c["points"], c["poses"],
                                     normals=c["normals"]).q for c in cases]
                    timings["refine"] += time.perf_counter() - t0
                outputs["oracle"] = oracle
            t0 = time.perf_counter()
            for meth in config.methods:
                rows, feats = [], []
                for q, c, g in zip(outputs[meth], cases, gts):
                    row, _, _, qc = _trajectory_metrics(hand, q, g, c)
                    rows.append(row)
                    feats.append(m.encoder.features(h, qc, c["poses"]))
                z = m.encoder.encode(feats)
                per[meth][h].append({**_summ(rows), "fid": fid(gt_z, z), "diversity": diversity(z)})
            timings["metrics"] += time.perf_counter() - t0
        progress(f"{config.split} {h}: {len(cases)} sequences x {len(config.seeds)} seeds done "
                 f"({time.perf_counter() - t_all:.0f} s)")
    scored = [h for h in hands if per[config.methods[0]][h]]
    if not scored:
        raise InputError(f"no hand has >= 2 valid sequences among the {len(records)} '{config.split}' sequences; "
                         "evaluate more sequences (--n)")
    methods_out = {}
    for meth in config.methods:
        per_hand = {}
        for h in scored:
            mean, std = _mean_std(per[meth][h])
            per_hand[h] = {"mean": mean, "std": std, "per_seed": per[meth][h]}
        over = [{k: float(np.mean([per[meth][h][i][k] for h in scored])) for k in per[meth][scored[0]][i]}
                for i in range(len(config.seeds))]
        mean, std = _mean_std(over)
        methods_out[meth] = {"label": METHOD_LABELS[meth], "per_hand": per_hand, "mean": mean, "std": std,
                             "per_seed": over}
    gt_mean = {k: float(np.mean([gt_out[h][k] for h in scored])) for k in ("diversity", "penetration_mm",
                                                                           "contact_mm", "jerk_m_s3")}
    cfg = asdict(config)
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "dataset": str(ds.root), "split": config.split, "hands": list(scored),
        "sequences": [r["seq_id"] for r in records], "cases_per_hand": cases_per_hand,
        "gt": {"per_hand": {h: gt_out[h] for h in scored}, "mean": gt_mean},
        "methods": methods_out,
        "timings_s": {**{k: round(v, 2) for k, v in timings.items()}, "total": round(time.perf_counter() - t_all, 2)},
    }


def _generate(model, examples: list, config: EvalConfig, seed: int) -> list[np.ndarray]:
    from unihm_core.vlm.generate import generate_tokens

    out = []
    for s in range(0, len(examples), 64):
        out += generate_tokens(model, examples[s:s + 64], temperature=config.temperature, top_k=config.top_k,
                               top_p=config.top_p, seed=seed * 1000 + s, strategy="parallel")
    return out


# ---------------------------------------------------------------------------------- shipped sample
SAMPLE_DIR = CHECKPOINTS_DIR / "eval"
SAMPLE_ARRAYS = "unseen_sample.npz"
SAMPLE_INDEX = "unseen_sample.json"
SAMPLE_METRICS = "metrics.json"


def write_sample(data, records: list[dict], out_dir: str | Path, hands: tuple[str, ...], models: EvalModels,
                 config: EvalConfig | None = None) -> Path:
    """Store a small test sample: per sequence the inputs, per hand the ground truth and the
    retrieval baseline's refined output (seed 0: instruction 0), for :func:`evaluate_sample`."""
    from unihm_core.data.dataset import SyntheticDataset
    from unihm_core.hands import load_hand
    from unihm_core.metrics.baselines import RetrievalBaseline
    from unihm_core.refine import refine

    cfg = config or EvalConfig()
    ds = data if isinstance(data, SyntheticDataset) else SyntheticDataset(data)
    key = f"{ds.root}|valid_only=True"
    if key not in models.retrieval:
        models.retrieval[key] = RetrievalBaseline(ds, ds.split("seen"))
    retr = models.retrieval[key]
    arrays, index = {}, []
    for i, r in enumerate(records):
        arr = ds.arrays(r["seq_id"])
        poses = arr["object_poses"].astype(np.float64)
        item = {"seq_id": r["seq_id"], "instruction": r["instructions"][0], "category": r["target"]["category"],
                "hands": []}
        for h in hands:
            if h != "human" and not r.get("hands_valid", {}).get(h, False):
                continue
            q_gt = (arr["human_q"] if h == "human" else arr[f"q/{h}"]).astype(np.float64)
            arrays[f"{i}/q_gt/{h}"] = q_gt.astype(np.float32)
            for name, q0 in (("retrieval", None), ("retrieval_q0", q_gt[0])):
                q_r = retr.generate(h, item["instruction"], item["category"], poses, exclude=(r["seq_id"],), q0=q0).q
                q_r = refine(load_hand(h), q_r, arr["obj_points"], poses, normals=arr["obj_normals"]).q
                arrays[f"{i}/q_{name}/{h}"] = q_r.astype(np.float32)
            item["hands"].append(h)
        arrays[f"{i}/object_poses"] = poses.astype(np.float32)
        arrays[f"{i}/obj_points"] = arr["obj_points"].astype(np.float32)
        arrays[f"{i}/obj_normals"] = arr["obj_normals"].astype(np.float32)
        index.append(item)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / SAMPLE_ARRAYS, **arrays)
    sampling = {"temperature": cfg.temperature, "top_k": cfg.top_k, "top_p": cfg.top_p, "seed": 0}
    (out / SAMPLE_INDEX).write_text(json.dumps({"source": ds.root.name, "split": "unseen", "sampling": sampling,
                                                "items": index}, indent=1), encoding="utf-8")
    return out


def evaluate_sample(path: str | Path | None = None, models: EvalModels | None = None) -> dict:
    """MPJPE [mm] of the VLM (sampled, decoded, refined as in :func:`evaluate`) and of the stored
    retrieval outputs (both variants) on a sample written by :func:`write_sample` (mean over
    sequence-hand pairs): keys ``unihm_mpjpe_mm``, ``retrieval_mpjpe_mm``, ``retrieval_q0_mpjpe_mm``,
    ``pairs``, ``per_hand``."""
    from unihm_core.hands import load_hand
    from unihm_core.metrics.motion import hand_joint_positions, mpjpe_mm
    from unihm_core.refine import refine

    folder = Path(path) if path is not None else SAMPLE_DIR
    if not (folder / SAMPLE_INDEX).exists() or not (folder / SAMPLE_ARRAYS).exists():
        raise CheckpointError(f"{folder} holds no evaluation sample; regenerate it with `python bench/eval_tables.py`")
    meta = json.loads((folder / SAMPLE_INDEX).read_text(encoding="utf-8"))
    s = meta["sampling"]
    cfg = EvalConfig(temperature=s["temperature"], top_k=s["top_k"], top_p=s["top_p"], seeds=(s["seed"],))
    m = load_models(cfg, models)
    per: dict[str, dict[str, list[float]]] = {"unihm": {}, "retrieval": {}, "retrieval_q0": {}}
    with np.load(folder / SAMPLE_ARRAYS, allow_pickle=False) as z:
        hands = sorted({h for it in meta["items"] for h in it["hands"]})
        for h in hands:
            hand = load_hand(h)
            items = [(i, it) for i, it in enumerate(meta["items"]) if h in it["hands"]]
            exs = [m.vlm.make_example(h, it["instruction"], z[f"{i}/obj_points"], z[f"{i}/object_poses"],
                                      z[f"{i}/q_gt/{h}"][0]) for i, it in items]
            toks = _generate(m.vlm, exs, cfg, s["seed"])
            for (i, _), t in zip(items, toks):
                poses = z[f"{i}/object_poses"].astype(np.float64)
                q = refine(hand, m.vlm.decode(h, t, poses), z[f"{i}/obj_points"], poses,
                           normals=z[f"{i}/obj_normals"]).q
                g = hand_joint_positions(hand, z[f"{i}/q_gt/{h}"])
                per["unihm"].setdefault(h, []).append(mpjpe_mm(hand_joint_positions(hand, q), g))
                for name in ("retrieval", "retrieval_q0"):
                    per[name].setdefault(h, []).append(
                        mpjpe_mm(hand_joint_positions(hand, z[f"{i}/q_{name}/{h}"]), g))
    out = {f"{name}_mpjpe_mm": float(np.mean([x for v in d.values() for x in v])) for name, d in per.items()}
    out["pairs"] = sum(len(v) for v in per["unihm"].values())
    out["per_hand"] = {h: {name: float(np.mean(per[name][h])) for name in per} for h in hands}
    return out


# ---------------------------------------------------------------------------------- reporting
COLUMN_HEADS = {"mpjpe_mm": "MPJPE [mm] ↓", "fol_deg": "FOL [deg] ↓", "fpl_mm": "FPL [mm] ↓", "fid": "FID ↓",
                "diversity": "Diversity →", "penetration_mm": "pen. [mm] ↓", "contact_mm": "contact [mm] ↓"}


def _cell(mean: dict, std: dict, k: str, digits: int = 2) -> str:
    if k not in mean:
        return "-"
    return f"{mean[k]:.{digits}f} ± {std.get(k, 0.0):.{digits}f}"


def format_table(result: dict, markdown: bool = False, columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """The result as a table: GT row, then one row per method (mean over hands, ± over seeds)."""
    heads = ["method"] + [COLUMN_HEADS[c] for c in columns]
    rows = [["GT"] + [f"{result['gt']['mean'][c]:.2f}" if c in result["gt"]["mean"] else "-" for c in columns]]
    for meth, r in result["methods"].items():
        rows.append([r["label"]] + [_cell(r["mean"], r["std"], c) for c in columns])
    if markdown:
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [heads] + rows) for i in range(len(heads))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*heads)] + [fmt.format(*r) for r in rows])


def save_result(result: dict, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return p
