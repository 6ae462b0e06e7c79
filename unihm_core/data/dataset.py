"""Build, store and read the synthetic HOI dataset (``unihm data build``).

One *sequence* = a tabletop scene (:mod:`~unihm_core.data.scenes`), a task, a human
manipulation (:mod:`~unihm_core.data.motions`) that passed validation
(:mod:`~unihm_core.data.validation`), its retargeting to every robot hand
(:func:`unihm_core.hands.retarget.retarget_sequence` with the object's poses, so each frame's
solve starts from the previous one moved with the object; wrist included, table frame; the grasp
held rigidly while the object moves, :mod:`~unihm_core.data.carry`), five
instructions (:mod:`~unihm_core.data.instructions`), the object's oriented surface samples
(object frame) and, with ``render``, the scene's RGB-D frame with instance masks.

Determinism: sequence ``i`` of a build with seed ``S`` uses ``numpy.random.default_rng([S, i])``
only, so a build is bit-identical across runs and independent of the worker count and of
which shards were resumed.

Split: each sequence is ``unseen`` with probability 0.2, decided first from its rng; its scene
then draws only instances of that split (:func:`~unihm_core.data.objects.split_of`), so seen
and unseen share no object instance and unseen-only types and phrasings never reach the seen
split.

Robot sequences are validated with the same rules as the human one; a robot sequence that
fails is kept but flagged (``hands_valid``), and consumers train only on valid ones. The
physics refinement of robot sequences (paper App. B.1) is applied when ``refine`` is set.

Layout of a dataset folder::

    manifest.jsonl          one JSON record per sequence (all shards, in index order)
    card.json               counts (task, object type, split, hand validity), lengths, rejects
    shards/shard_00000.npz  arrays, keys "<seq_id>/<name>" (see SEQUENCE_ARRAYS)
    shards/shard_00000.jsonl  the shard's manifest part and rejects (written last: marks a
                            finished shard, so an interrupted build resumes after it)
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from unihm_core.errors import ConfigError, InputError

TASK_WEIGHTS = {"grab": 1.0, "pick_place": 1.6, "push": 0.8, "pull": 0.8, "rotate": 0.8, "pour": 0.8,
                "handover": 0.8}
POUR_CATEGORIES = ("bottle", "can", "mug", "cup", "bowl", "pitcher")
LOCATIONS = {"left": (-0.22, 0.0), "right": (0.22, 0.0), "front": (0.0, -0.14), "back": (0.0, 0.17),
             "centre": (0.0, 0.02)}
SURFACE_POINTS = 1024
SEQUENCE_ARRAYS = ("human_q", "human_keypoints", "object_poses", "joint_values", "obj_points", "obj_normals",
                   "q/<hand>", "rgb", "depth_mm", "mask")


@dataclass(frozen=True)
class DatasetConfig:
    """Build parameters. ``hands`` defaults to every robot hand (the human hand is always stored).

    ``sim_check``: execute every (sequence, hand) pair, the human hand's too, in the execution check
    (:func:`unihm_core.sim.execution.check_sequence`, disturbance test off); the outcome is stored
    per hand in the record's ``sim`` field and counted per hand and task family in the card. About
    0.4 s per pair on one core. ``sim_reject`` (implies the check) also counts a hand's sequence as
    valid only when it succeeds (the ``sim`` rule). It is off by default: today's ground truth holds
    its object in under 15 % of the pairs, and the learners would be left with almost nothing.

    ``grasp_checks``: for carried and slid tasks every hand (the human hand included) gets its own
    motion instead of the retargeted (synthesised) one: a gripper's antipodal grasp, a hand with
    a thumb's top-down thumb-against-fingers grasp, slid along the table for push/pull, or a flat
    push; for open/close a hand with a thumb pinches the handle and moves it with the joint
    (:mod:`unihm_core.data.own_motions`). With ``sim_check`` up to this many candidate grasps
    (plus the flat push) are executed and the first that holds is kept (its execution is the
    pair's ``sim`` record), else the best-ranked one. Without ``sim_check`` the best-ranked
    candidate is kept unchecked.
    """

    n: int = 2000
    seed: int = 0
    hands: tuple[str, ...] = ("shadow", "allegro", "schunk_svh", "leap", "ability", "inspire", "panda_gripper")
    render: bool = True
    refine: bool = False
    shard_size: int = 25
    workers: int = 2
    max_attempts: int = 8
    unseen_fraction: float = 0.2
    sim_check: bool = False
    sim_reject: bool = False
    grasp_checks: int = 3

    def __post_init__(self) -> None:
        if self.n < 1 or self.shard_size < 1 or self.workers < 1 or self.max_attempts < 1 or self.grasp_checks < 1:
            raise ConfigError("DatasetConfig: n, shard_size, workers, max_attempts and grasp_checks must be positive")
        if not 0.0 <= self.unseen_fraction <= 1.0:
            raise ConfigError("DatasetConfig.unseen_fraction must be in [0, 1]")
        from unihm_core.hands import ROBOT_HAND_NAMES

        bad = [h for h in self.hands if h not in ROBOT_HAND_NAMES]
        if bad:
            raise ConfigError(f"DatasetConfig.hands: unknown robot hands {bad}; choose from {ROBOT_HAND_NAMES}")


# ---------------------------------------------------------------------------------- one sequence
def choose_task(obj, scene, rng: np.random.Generator) -> str:
    """Task family for the target: open/close for articulated objects, else weighted random."""
    if obj.joint is not None:
        jv = scene.target.joint_value
        return "close" if jv is not None and jv > obj.joint.lower + 0.5 * (obj.joint.upper - obj.joint.lower) else "open"
    tasks = [t for t in TASK_WEIGHTS if t != "pour" or obj.category in POUR_CATEGORIES]
    w = np.array([TASK_WEIGHTS[t] for t in tasks])
    return str(rng.choice(tasks, p=w / w.sum()))


def choose_place(scene, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """Place target of a pick-and-place: the receptacle when present, else a free table location."""
    tgt = scene.target.pose[:3, 3]
    if scene.receptacle is not None:
        k = next(i for i, o in enumerate(scene.objects) if o.role == "receptacle")
        rec = scene.receptacle
        top = rec.instance.mesh.bounds[1][2]
        xyz = rec.pose[:3, 3] + np.array([0.0, 0.0, 0.35 * top])
        return {"receptacle_index": k}, xyz
    others = np.array([o.pose[:3, 3] for o in scene.objects[1:]]) if len(scene.objects) > 1 else np.zeros((0, 3))
    names = list(LOCATIONS)
    for name in rng.permutation(names):
        xy = np.array(LOCATIONS[name]) + rng.uniform(-0.03, 0.03, 2)
        if np.linalg.norm(xy - tgt[:2]) < 0.10:
            continue
        if len(others) and np.min(np.linalg.norm(others[:, :2] - xy, axis=1)) < 0.09:
            continue
        return {"location": str(name), "xyz": [float(xy[0]), float(xy[1]), 0.0]}, np.array([xy[0], xy[1], tgt[2]])
    xy = tgt[:2] + np.array([0.15, 0.0])
    return {"location": "right", "xyz": [float(xy[0]), float(xy[1]), 0.0]}, np.array([xy[0], xy[1], tgt[2]])


@dataclass
class _Worker:
    """Per-process state: the synthesiser, renderer and retargeting objects are built once."""

    config: DatasetConfig
    synth: object = None
    renderer: object = None
    rejects: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        from unihm_core.data.motions import HumanMotionSynthesizer

        self.synth = HumanMotionSynthesizer()

    def sequence(self, index: int) -> tuple[dict, dict[str, np.ndarray]] | None:
        from unihm_core.data.instructions import make_instructions
        from unihm_core.data.motions import SurfaceModel
        from unihm_core.data.scenes import sample_scene
        from unihm_core.data.carry import rigid_carry
        from unihm_core.data.own_motions import own_trajectories
        from unihm_core.data.validation import moving_frames, validate_sequence
        from unihm_core.hands import load_hand, q_to_wrist_pose
        from unihm_core.hands.retarget import retarget_sequence

        cfg = self.config
        rng = np.random.default_rng([cfg.seed, index])
        split = "unseen" if rng.random() < cfg.unseen_fraction else "seen"
        for attempt in range(cfg.max_attempts):
            scene = sample_scene(rng, split=split)
            obj = scene.target.instance
            task = choose_task(obj, scene, rng)
            place, place_xyz = (choose_place(scene, rng) if task == "pick_place" else (None, None))
            try:
                human = self.synth.synthesize(task, obj, scene.target.pose, rng, place_xyz=place_xyz,
                                              joint_value=scene.target.joint_value)
            except InputError as exc:
                self.rejects[f"synthesis: {exc}"] += 1
                continue
            mesh = obj.moving_mesh if task in ("open", "close") else obj.mesh
            surface = SurfaceModel.from_mesh(mesh, 6000, seed=int(rng.integers(2**31)))
            report = validate_sequence(human.keypoints[:, [4, 8, 12, 16, 20]], q_to_wrist_pose(human.q[:, :6]),
                                       human.object_poses, surface)
            if not report.ok:
                for r in report.reasons:
                    self.rejects[f"human: {r}"] += 1
                continue
            break
        else:
            self.rejects["gave up after max_attempts"] += 1
            return None
        seq_id = f"{cfg.seed:04d}-{index:06d}"
        arrays: dict[str, np.ndarray] = {
            "human_q": human.q.astype(np.float32),
            "human_keypoints": human.keypoints.astype(np.float32),
            "object_poses": human.object_poses.astype(np.float32),
        }
        if human.joint_values is not None:
            arrays["joint_values"] = human.joint_values.astype(np.float32)
        rng.integers(2**31)  # a draw kept only so that builds stay bit-identical with earlier ones
        s2 = SurfaceModel.from_mesh(mesh, SURFACE_POINTS, seed=index)
        pts, nrm = s2.points, s2.normals
        arrays["obj_points"], arrays["obj_normals"] = pts.astype(np.float32), nrm.astype(np.float32)
        hands_valid, hand_reasons, tip_error, grasp_source = {}, {}, {}, {}
        moving = moving_frames(human.object_poses)
        stub = {"seq_id": seq_id, "task": task, "target": obj.to_dict()}
        checked = {}  # hand -> execution report of the kept candidate grasp
        for hand in cfg.hands:
            res = retarget_sequence(human.keypoints, hand, object_poses=human.object_poses)
            model = load_hand(hand)
            own = own_trajectories(model, pts, nrm, human.object_poses, moving, task, obj=obj,
                                   joint_values=human.joint_values)  # its own grasp or push
            grasp_source[hand] = own[0][1] if own else "retargeted"
            if own and (cfg.sim_check or cfg.sim_reject):
                (q, grasp_source[hand]), checked[hand] = self._first_holding(stub, arrays, hand, own)
            elif own:
                q = own[0][0]
            else:  # the retargeted motion, refined (optional) and carried rigidly
                q = res.q
                if cfg.refine:
                    q = self._refine(hand, q, human.object_poses, s2)
                q = rigid_carry(model, q, human.object_poses, moving)
            rep = validate_sequence(model.fingertip_positions(q), q_to_wrist_pose(q[:, :6]), human.object_poses, surface,
                                    tip_radius=model.spec.link_radius)
            hands_valid[hand] = rep.ok
            hand_reasons[hand] = list(rep.reasons)
            tip_error[hand] = round(float(res.tip_error.mean()), 5)
            arrays[f"q/{hand}"] = q.astype(np.float32)
        # the human hand picks its carried objects the same way (the robots above were retargeted
        # from the synthesised human's keypoints, which stay the source of every other task)
        human_model = load_hand("human")
        own = own_trajectories(human_model, pts, nrm, human.object_poses, moving, task, obj=obj,
                               joint_values=human.joint_values)
        grasp_source["human"] = own[0][1] if own else "synthesized"
        if own:
            q = own[0][0]
            if cfg.sim_check or cfg.sim_reject:
                (q, grasp_source["human"]), checked["human"] = self._first_holding(stub, arrays, "human", own)
            arrays["human_q"] = q.astype(np.float32)
            arrays["human_keypoints"] = human_model.keypoints(q).astype(np.float32)
        sim = {}
        if cfg.sim_check or cfg.sim_reject:  # does the motion keep the object on its plan in SAPIEN?
            from unihm_core.sim.execution import ExecutionConfig, check_sequence

            for hand in ("human", *cfg.hands):
                ex = checked.get(hand) or check_sequence(stub, arrays, hand, config=ExecutionConfig(disturbance=False))
                sim[hand] = {"success": bool(ex.success), "failure": ex.failure, "failed_at": ex.failed_at}
                if hand != "human" and cfg.sim_reject:  # the `sim` rule
                    hands_valid[hand] = hands_valid[hand] and ex.success
                    if not ex.success:
                        hand_reasons[hand].append(f"sim: {ex.failure}")
        if cfg.render:
            from unihm_core.data.depth_noise import apply_depth_noise
            from unihm_core.data.rgbd_render import RgbdRenderer

            if self.renderer is None:
                self.renderer = RgbdRenderer()
            frame = self.renderer.render(scene)
            depth_mm = apply_depth_noise(frame.depth, seed=int(rng.integers(2**31)), fx=scene.camera.fx,
                                         color=frame.color)
            arrays["rgb"], arrays["depth_mm"] = frame.color, depth_mm
            arrays["mask"] = frame.mask.astype(np.uint8)
        instructions = make_instructions(task, scene, rng, place=place, n=5, split=split)
        record = {
            "seq_id": seq_id, "index": index, "split": split, "task": task, "grasp_type": human.grasp_type,
            "num_frames": int(human.num_frames), "fps": human.fps, "phases": human.phases,
            "target": obj.to_dict(), "scene": scene.to_dict(), "place": place,
            "instructions": instructions, "hands_valid": hands_valid, "hand_reject_reasons": hand_reasons,
            "retarget_tip_error_m": tip_error, "grasp_source": grasp_source, "sim": sim, "human_validation": {
                "max_penetration_m": report.max_penetration, "min_contacts_while_moving":
                report.min_contacts_while_moving, "max_drift_m": report.max_drift},
            "attempts": attempt + 1, "rendered": cfg.render, "refined": cfg.refine,
        }
        return record, arrays

    def _first_holding(self, stub: dict, arrays: dict, hand: str, candidates: list[tuple[np.ndarray, str]]):
        """The first of up to ``grasp_checks`` candidate ``(trajectory, source)`` pairs that holds
        in the execution check, with its report; else the first candidate and its report. A slid
        task's flat push (the last candidate) is tried on top."""
        from unihm_core.sim.execution import ExecutionConfig, check_sequence

        tried = candidates[:self.config.grasp_checks]
        if len(candidates) > len(tried) and candidates[-1][1] == "flat_push":
            tried = tried + [candidates[-1]]
        first = None
        for cand in tried:
            ex = check_sequence(stub, arrays, hand, cand[0], config=ExecutionConfig(disturbance=False))
            if ex.success:
                return cand, ex
            first = first or (cand, ex)
        return first

    def _refine(self, hand: str, q: np.ndarray, object_poses: np.ndarray, surface) -> np.ndarray:
        from unihm_core.refine import refine

        return refine(hand, q, surface.points, object_poses, normals=surface.normals).q


def _shard_paths(out: Path, k: int) -> tuple[Path, Path]:
    return out / "shards" / f"shard_{k:05d}.npz", out / "shards" / f"shard_{k:05d}.jsonl"


def _make_shard(cfg: DatasetConfig, k: int) -> tuple[dict, list[dict], dict]:
    """Shard ``k``'s arrays, records and reject counts (no file written: any executor can run it)."""
    worker = _Worker(cfg)
    arrays, records = {}, []
    start, stop = k * cfg.shard_size, min((k + 1) * cfg.shard_size, cfg.n)
    name = _shard_paths(Path("."), k)[0].name
    for index in range(start, stop):
        got = worker.sequence(index)
        if got is None:
            continue
        rec, arr = got
        rec["shard"] = name
        records.append(rec)
        arrays.update({f"{rec['seq_id']}/{name_}": v for name_, v in arr.items()})
    return arrays, records, dict(worker.rejects)


def _write_shard(out: Path, k: int, arrays: dict, records: list[dict], rejects: dict) -> None:
    """Write shard ``k`` (npz first, the manifest part last: its presence marks the shard done)."""
    npz_path, jsonl_path = _shard_paths(out, k)
    tmp = npz_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(npz_path)
    tmp = jsonl_path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
        f.write(json.dumps({"_rejects": rejects}) + "\n")
    tmp.replace(jsonl_path)


def _build_shard(args: tuple[str, DatasetConfig, int]) -> tuple[int, int, dict]:
    out, cfg, k = Path(args[0]), args[1], args[2]
    arrays, records, rejects = _make_shard(cfg, k)
    _write_shard(out, k, arrays, records, rejects)
    return k, len(records), rejects


def _run_ray(out: Path, config: DatasetConfig, todo: list[int], address: str | None, report) -> None:
    """Build the shards ``todo`` as Ray tasks; the driver writes each shard as it arrives, so the
    workers (on a cluster: other machines) need no access to ``out``."""
    try:
        import ray
    except ImportError as exc:
        raise InputError("--executor ray needs Ray: pip install 'ray==2.60.0'") from exc
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=config.workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_make_shard)
        pending = {task.remote(config, k): k for k in todo}
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            k = pending.pop(ref)
            arrays, records, rejects = ray.get(ref)
            _write_shard(out, k, arrays, records, rejects)
            report(k, len(records))
    finally:
        if started:
            ray.shutdown()


EXECUTORS = ("process", "ray")


def build_dataset(out_dir: str | Path, config: DatasetConfig, progress=print, *, executor: str = "process",
                  address: str | None = None) -> dict:
    """Build (or resume) a dataset; returns the dataset card.

    Args:
        executor: ``"process"`` (a multiprocessing pool of ``config.workers``, the zero-dependency
            default) or ``"ray"`` (Ray tasks: a local Ray with ``config.workers`` CPUs, or the
            cluster at ``address``). Every sequence depends only on ``(seed, index)``, so both
            write the same shards byte for byte, and either resumes the other's build.
        address: a Ray cluster address (``ray://host:10001`` or ``auto``), ``executor="ray"`` only.
    """
    if executor not in EXECUTORS:
        raise InputError(f"executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        raise InputError("a Ray address needs --executor ray")
    out = Path(out_dir)
    (out / "shards").mkdir(parents=True, exist_ok=True)
    n_shards = (config.n + config.shard_size - 1) // config.shard_size
    cfg_path = out / "config.json"
    cfg_dict = asdict(config)
    cfg_dict["hands"] = list(cfg_dict["hands"])
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        same = {k: v for k, v in old.items() if k != "workers"} == {k: v for k, v in cfg_dict.items() if k != "workers"}
        if not same:
            raise InputError(f"{out} holds a build with another configuration ({old}); use a new --out folder")
    cfg_path.write_text(json.dumps(cfg_dict, indent=2))
    todo = [k for k in range(n_shards) if not _shard_paths(out, k)[1].exists()]
    where = f"Ray at {address}" if address else (f"a local Ray with {config.workers} CPU(s)" if executor == "ray"
                                                 else f"{config.workers} worker(s)")
    progress(f"building {config.n} sequences in {n_shards} shards ({n_shards - len(todo)} already done) "
             f"with {where}")
    t0 = time.time()
    jobs = [(str(out), config, k) for k in todo]
    done = n_shards - len(todo)
    built = 0
    if executor == "ray" and jobs:
        def report(k: int, n_ok: int) -> None:
            nonlocal done, built
            done += 1
            built += n_ok
            progress(f"[{done}/{n_shards}] shard {k}: {n_ok} sequences ({time.time() - t0:.0f} s)")

        _run_ray(out, config, todo, address, report)
    elif config.workers > 1 and len(jobs) > 1:
        with mp.get_context("spawn").Pool(config.workers) as pool:
            for k, n_ok, _ in pool.imap_unordered(_build_shard, jobs):
                done += 1
                built += n_ok
                progress(f"[{done}/{n_shards}] shard {k}: {n_ok} sequences ({time.time() - t0:.0f} s)")
    else:
        for job in jobs:
            k, n_ok, _ = _build_shard(job)
            done += 1
            built += n_ok
            progress(f"[{done}/{n_shards}] shard {k}: {n_ok} sequences ({time.time() - t0:.0f} s)")
    card = finalize(out)
    card["build_seconds_this_run"] = round(time.time() - t0, 1)
    card["sequences_built_this_run"] = built  # a resumed build times only the shards it built
    (out / "card.json").write_text(json.dumps(card, indent=2))
    return card


def finalize(out: Path) -> dict:
    """Concatenate shard manifests into manifest.jsonl and compute the dataset card."""
    records, rejects = [], Counter()
    for path in sorted((out / "shards").glob("shard_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if "_rejects" in rec:
                rejects.update(rec["_rejects"])
            else:
                records.append(rec)
    records.sort(key=lambda r: r["index"])
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    return dataset_card(records, rejects)


def _sim_counts(records: list[dict]) -> dict:
    """``{hand: {family: [succeeded, checked], "all": [...]}}`` of the ``sim`` rule (empty when the
    build ran without ``sim_check``)."""
    from unihm_core.planning.trajectory import resolve_task
    from unihm_core.sim.execution import task_family

    out: dict = {}
    for r in records:
        fam = task_family(resolve_task(r["task"]))
        for hand, res in (r.get("sim") or {}).items():
            row = out.setdefault(hand, {})
            for key in (fam, "all"):
                c = row.setdefault(key, [0, 0])
                c[0] += int(res["success"])
                c[1] += 1
    return out


def dataset_card(records: list[dict], rejects: Counter) -> dict:
    lengths = np.array([r["num_frames"] for r in records]) if records else np.zeros(0)
    hist, edges = np.histogram(lengths, bins=[48, 56, 64, 72, 80, 88, 97]) if len(lengths) else ([], [])
    hands = sorted({h for r in records for h in r["hands_valid"]})
    attempts = sum(r["attempts"] for r in records)
    return {
        "sequences": len(records),
        "per_split": dict(Counter(r["split"] for r in records)),
        "per_task": dict(sorted(Counter(r["task"] for r in records).items())),
        "per_object_type": dict(sorted(Counter(r["target"]["type_name"] for r in records).items())),
        "per_split_task": {s: dict(sorted(Counter(r["task"] for r in records if r["split"] == s).items()))
                           for s in ("seen", "unseen")},
        "hands_valid": {h: int(sum(r["hands_valid"].get(h, False) for r in records)) for h in hands},
        "hand_reject_reasons": {h: dict(Counter(x for r in records for x in r["hand_reject_reasons"].get(h, [])))
                                for h in hands},
        "sim_success": _sim_counts(records),
        "length_histogram": {f"{int(a)}-{int(b) - 1}": int(c) for a, b, c in zip(edges[:-1], edges[1:], hist)},
        "human_attempts": attempts,
        "human_reject_reasons": dict(rejects),
        "human_reject_rate": round(1 - len(records) / attempts, 4) if attempts else None,
        "instructions": 5 * len(records),
        "unique_instructions": len({i for r in records for i in r["instructions"]}),
    }


# ---------------------------------------------------------------------------------- reading
class SyntheticDataset:
    """Read access to a built dataset folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest = self.root / "manifest.jsonl"
        if manifest.exists():
            lines = manifest.read_text(encoding="utf-8").splitlines()
        else:  # a build in progress: read the shards finished so far
            shard_parts = sorted((self.root / "shards").glob("shard_*.jsonl"))
            if not shard_parts:
                raise InputError(f"{self.root} is not a built dataset (no manifest.jsonl and no finished "
                                 "shards); run `unihm data build`")
            lines = [x for p in shard_parts for x in p.read_text(encoding="utf-8").splitlines()]
        self.records = [r for r in (json.loads(x) for x in lines if x.strip()) if "_rejects" not in r]
        self.records.sort(key=lambda r: r["index"])
        self._by_id = {r["seq_id"]: r for r in self.records}
        self._open: dict[str, np.lib.npyio.NpzFile] = {}

    def __len__(self) -> int:
        return len(self.records)

    def split(self, split: str) -> list[dict]:
        return [r for r in self.records if r["split"] == split]

    def train_heldout(self, max_sequences: int | None = None, purpose: str = "train on") -> tuple[list, list]:
        """(seen, unseen) records, each cut to ``max_sequences``; raises when there is nothing seen."""
        seen, unseen = self.split("seen"), self.split("unseen")
        if max_sequences is not None:
            seen, unseen = seen[:max_sequences], unseen[:max_sequences]
        if not seen:
            raise InputError(f"dataset {self.root} has no 'seen' sequences to {purpose}")
        return seen, unseen

    def arrays(self, seq_id: str) -> dict[str, np.ndarray]:
        """Every stored array of sequence ``seq_id`` (keys as in SEQUENCE_ARRAYS)."""
        rec = self._by_id[seq_id]
        shard = rec["shard"]
        if shard not in self._open:
            self._open[shard] = np.load(self.root / "shards" / shard, allow_pickle=False)
        z = self._open[shard]
        prefix = seq_id + "/"
        return {k[len(prefix):]: z[k] for k in z.files if k.startswith(prefix)}

    def close(self) -> None:
        for z in self._open.values():
            z.close()
        self._open.clear()
