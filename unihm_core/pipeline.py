"""The one-call API: RGB-D + instruction + hand -> refined joint trajectory, with everything
the app shows and exports.

Stages (each timed, in ``GenerationResult.timings_s``):

1. ``perception``: :func:`unihm_core.perception.perceive` (table frame, instances);
2. ``grounding``: :func:`unihm_core.perception.ground` (target, place, task family);
3. ``planning``: the CLIPort-style planner's place prediction when the instruction names no
   explicit place and the task needs one, then the SE(3) object trajectory
   (:func:`unihm_core.planning.trajectory.object_trajectory`) and the initial hand pose q0;
4. ``vlm``: hand tokens from the DexHand VLM (Eq. 9), sampled with ``seed``;
5. ``decoding``: the tokenizer's decoder D_h -> raw trajectory ``Q_gen`` (Eq. 2);
6. ``refinement``: Algorithm 1 against the target's surface (observed + completed points
   with normals, object frame) -> ``Q_opt`` and per-term energies;
7. ``metrics``: penetration, contact distance, jerk for raw and refined.

Frames: everything downstream of perception is in perception's *world frame*, which is the
estimated table frame (z up, table at z = 0, +x to the viewer's right, +y away; the frame
the models were trained in) unless the caller gives extrinsics, whose world must then be
z-up with the table at z = 0 as well. The target's object frame at t = 0 is the planner's
start pose: origin at the bottom centre of the target, world axes.
``report.json`` gives centroids in the camera and world frames.

:meth:`Pipeline.rerefine` reuses the tokens and the raw trajectory and re-runs only the
refinement (new weights), so a user can compare settings without resampling.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from typing import TYPE_CHECKING

from unihm_core.errors import CheckpointError, InputError
from unihm_core.language import MAX_INSTRUCTION_CHARS
from unihm_core.paths import CHECKPOINTS_DIR

if TYPE_CHECKING:  # heavy imports (open3d, torch) only for type checkers
    from unihm_core.energy_trace import EnergyTrace
    from unihm_core.vlm.generate import TokenSample
    from unihm_core.perception import Grounding, Scene
    from unihm_core.planning import Plan
    from unihm_core.refine import RefineConfig, RefineResult
    from unihm_core.sim.execution import ExecutionReport


#: Alternatives kept per hand-token slot (the Tokens view and ``report.json``'s ``token_slots``).
TOKEN_ALTERNATIVES = 5


@dataclass(frozen=True)
class GenerateOptions:
    """Options of :meth:`Pipeline.generate`.

    Attributes:
        refine: run the physics-guided refinement.
        temperature, top_k, top_p: VLM sampling (temperature 0 = greedy).
        num_frames: length of the planned object trajectory (30 fps).
        refine_config: a :class:`unihm_core.refine.RefineConfig` (None = defaults).
        physics: run the execution check (:mod:`unihm_core.sim.execution`) on the refined
            trajectory (on the raw one without refinement); skipped with a warning when
            SAPIEN cannot start.
        physics_raw: also check the raw trajectory.
    """

    refine: bool = True
    temperature: float = 0.7
    top_k: int = 0
    top_p: float = 0.95
    num_frames: int = 64
    refine_config: RefineConfig | None = None
    physics: bool = True
    physics_raw: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 5.0:
            raise InputError(f"temperature must be in [0, 5], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise InputError(f"top_k must be >= 0, got {self.top_k}")
        if not 16 <= self.num_frames <= 128:
            raise InputError(f"num_frames must be in [16, 128], got {self.num_frames}")


@dataclass
class TargetObject:
    """The grounded target: its surface in the object frame and where it is.

    Attributes:
        index: instance index in the perceived scene.
        label, description: e.g. "red cylinder", "a small red cylinder".
        points, normals: ``(N, 3)`` observed + completed surface, object frame [m].
        pose0: ``(4, 4)`` object frame -> table frame at t = 0.
        size: ``(3,)`` extents [m].
        centroid_camera, centroid_world: ``(3,)`` [m].
        num_points: number of observed points.
        shape: perceived primitive ("box", "cylinder", "sphere" or "other"); the execution check
            ignores rotations about a cylinder's axis and a sphere's rotation.
    """

    index: int
    label: str
    description: str
    points: np.ndarray
    normals: np.ndarray
    pose0: np.ndarray
    size: np.ndarray
    centroid_camera: np.ndarray
    centroid_world: np.ndarray
    num_points: int
    shape: str = "other"

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "description": self.description,
                "centroid_camera": np.round(self.centroid_camera, 4).tolist(),
                "centroid_world": np.round(self.centroid_world, 4).tolist(),
                "size_m": np.round(self.size, 4).tolist(), "num_points": self.num_points}


@dataclass
class Trajectory:
    """A joint trajectory ``q`` ``(T, D)`` with its fingertip positions ``(T, F, 3)``."""

    q: np.ndarray
    fingertips: np.ndarray


@dataclass
class GenerationResult:
    """Everything one :meth:`Pipeline.generate` call produced (see the module docstring).

    ``scene`` is perception's :class:`~unihm_core.perception.Scene`, ``grounding`` the
    :class:`~unihm_core.perception.Grounding`, ``plan`` the :class:`~unihm_core.planning.Plan`,
    ``refine_result`` the :class:`~unihm_core.refine.RefineResult` (None without refinement),
    ``physics`` maps "raw"/"refined" to :class:`~unihm_core.sim.execution.ExecutionReport`.
    ``token_sample`` holds the VLM's per-slot top-k codes and probabilities
    (:class:`~unihm_core.vlm.generate.TokenSample`); slot ``i`` covers frames
    ``i * chunk_len`` to ``(i + 1) * chunk_len - 1`` (:meth:`token_slots`).
    ``energies`` is the refinement's per-frame :class:`~unihm_core.energy_trace.EnergyTrace`
    (None without refinement); :func:`unihm_core.export.write_result`
    writes the whole result as one folder."""

    instruction: str
    hand: str
    seed: int
    options: GenerateOptions
    joint_names: tuple[str, ...]
    scene: Scene
    grounding: Grounding
    target: TargetObject
    plan: Plan
    tokens: np.ndarray
    raw: Trajectory
    refined: Trajectory | None
    refine_result: RefineResult | None
    energies: EnergyTrace | None = None
    token_sample: TokenSample | None = None
    chunk_len: int = 4
    metrics: dict[str, dict[str, float | list[float]]] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    physics: dict[str, ExecutionReport] = field(default_factory=dict)

    @property
    def best(self) -> Trajectory:
        return self.refined if self.refined is not None else self.raw

    def token_slots(self) -> list[dict]:
        """One entry per hand token: ``slot``, ``frames`` ``[first, last]`` it decodes to,
        ``code`` (codebook index), and with the VLM's per-slot probabilities ``p`` (the model's
        probability of that code), ``rank`` (0 = its most likely code), ``entropy`` [nats] and
        ``top`` (the most likely codes as ``[code, p]``)."""
        T, L = len(self.raw.q), int(self.chunk_len)
        s = self.token_sample
        out = []
        for i, code in enumerate(np.asarray(self.tokens).tolist()):
            row = {"slot": i, "frames": [i * L, min((i + 1) * L, T) - 1], "code": int(code)}
            if s is not None:
                row.update(p=round(float(s.chosen_prob[i]), 5), rank=int(s.rank[i]),
                           entropy=round(float(s.entropy[i]), 4),
                           top=[[int(c), round(float(p), 5)] for c, p in zip(s.top_codes[i], s.top_probs[i])])
            out.append(row)
        return out

    def report(self) -> dict:
        """The ``report.json`` content (see DESIGN.md)."""
        summary = self.scene.summary()
        instances = []
        for inst in self.scene.instances:
            instances.append({"index": inst.index, "label": inst.label, "description": inst.description,
                              "centroid_camera": np.round(inst.centroid_camera, 4).tolist(),
                              "centroid_world": np.round(inst.centroid_world, 4).tolist(),
                              "num_points": inst.num_points})
        return {
            "instruction": self.instruction, "hand": self.hand, "seed": self.seed,
            "camera": summary["camera"], "target": self.target.to_dict(), "instances": instances,
            "grounding": {"task": self.grounding.task, "verb": self.grounding.verb,
                          "explanation": self.grounding.explanation},
            "plan": plan_summary(self.plan), "tokens": self.tokens.tolist(), "token_slots": self.token_slots(),
            "metrics": self.metrics, "energies": {} if self.energies is None else self.energies.to_dict(),
            "physics": {k: v.to_dict() for k, v in self.physics.items()},
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
            "options": {"refine": self.options.refine, "temperature": self.options.temperature,
                        "top_k": self.options.top_k, "top_p": self.options.top_p,
                        "num_frames": self.options.num_frames, "physics": self.options.physics,
                        "physics_raw": self.options.physics_raw},
            "warnings": self.warnings,
        }


def normalise_instruction(text) -> tuple[str, list[str]]:
    """Decode and clean an instruction: text that came through ``os.fsdecode`` (the CLI's argv)
    with undecodable bytes is re-decoded as UTF-8; invalid bytes, lone surrogates and control
    characters are dropped (with a warning saying so); the result is NFKC-normalised
    (full-width letters, ligatures). Returns ``(text, warnings)``; non-text is refused."""
    import unicodedata

    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    if not isinstance(text, str):
        raise InputError(f"the instruction must be text, got {type(text).__name__}")
    try:  # surrogate-escaped argv bytes -> the bytes -> UTF-8 (invalid sequences marked U+FFFD)
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # lone surrogates that are not escaped bytes
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    dropped = text.count("\ufffd")
    text = text.replace("\ufffd", "")
    cleaned = []
    for c in text:
        if c in "\t\n\r\v\f":
            cleaned.append(" ")
        elif unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") or (unicodedata.category(c) == "Cf" and c != "\u200d"):
            dropped += 1
        else:
            cleaned.append(c)
    text = unicodedata.normalize("NFKC", "".join(cleaned))
    warnings = []
    if dropped:
        warnings.append(f"the instruction held {dropped} character(s) that are not readable text (invalid UTF-8 "
                        "bytes or control characters); they were dropped")
    return text, warnings


def check_seed(seed) -> int:
    """A seed as an int in [0, 2^31): integers and integral floats; booleans and empty boxes refused."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        raise InputError("the seed is empty; type a whole number such as 0")
    if isinstance(seed, (bool, np.bool_)):
        raise InputError(f"seed must be a whole number in [0, 2^31), not the boolean {seed!r}")
    if isinstance(seed, str):
        try:
            seed = int(seed.strip())
        except ValueError:
            raise InputError(f"seed must be a whole number in [0, 2^31), got {seed!r}") from None
    if isinstance(seed, (float, np.floating)) and np.isfinite(seed) and float(seed).is_integer():
        seed = int(seed)
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**31:
        raise InputError(f"seed must be a whole number in [0, 2^31), got {seed!r}")
    return int(seed)


def resolve_hand(hand) -> str:
    """A registered hand name, case- and whitespace-insensitive ("Allegro " -> "allegro", "Schunk SVH"
    -> "schunk_svh"; :func:`unihm_core.hands.canonical_hand`); unknown names are an InputError."""
    from unihm_core.errors import UnknownHandError
    from unihm_core.hands import available_hands, canonical_hand

    try:
        return canonical_hand(hand)
    except UnknownHandError:
        raise InputError(f"unknown hand {hand!r}; choose one of {', '.join(available_hands())}") from None


def check_inputs(rgb, depth, intrinsics, instruction, hand: str = "shadow", seed=0, *, click=None):
    """Validate every input without any model: the RGB-D frame (files, sizes, units, camera),
    the instruction, the hand and the seed. Cheap (well under a second); callers run it before
    :meth:`Pipeline.load`. Returns ``(frame, instruction, hand, seed, warnings)``; ``frame`` is
    a :class:`~unihm_core.perception.rgbd.RGBDFrame` that :meth:`Pipeline.generate` accepts
    in place of ``rgb`` (``depth`` and ``intrinsics`` then None)."""
    from unihm_core.perception.rgbd import RGBDFrame, load_rgbd

    hand = resolve_hand(hand)
    seed = check_seed(seed)
    notes: list[str] = []
    if instruction or click is None:
        instruction, notes = normalise_instruction(instruction if instruction is not None else "")
        instruction = check_instruction(instruction)
    else:
        instruction = ""
    if not isinstance(rgb, RGBDFrame):
        from unihm_core.perception.scene import check_frame_extrinsics

        frame = load_rgbd(rgb, depth, intrinsics)
        check_frame_extrinsics(frame, seed=seed)  # given extrinsics vs the table plane (no model)
    else:
        frame = rgb
    return frame, instruction, hand, seed, notes


def check_instruction(text: str) -> str:
    """Normalise and validate an instruction (non-empty, at most ``MAX_INSTRUCTION_CHARS``).

    The models understand English only. Text with fewer than 3 Latin letters (e.g. Chinese)
    is refused here, before perception runs, unless it names an object by its number ("#2");
    Latin-script text in another language reaches
    grounding, which refuses it when no word is known and lists the objects it found.
    """
    if not isinstance(text, str):
        raise InputError("the instruction must be text")
    text = " ".join(text.split())
    if not text:
        raise InputError("the instruction is empty; type what the hand should do, e.g. 'pick up the red can'")
    if len(text) > MAX_INSTRUCTION_CHARS:
        raise InputError(f"the instruction has {len(text)} characters; keep it under {MAX_INSTRUCTION_CHARS}")
    letters = sum(c.isascii() and c.isalpha() for c in text)
    if letters < 3 and not re.search(r"#\s*\d+", text):  # "#2" names an object by its number
        raise InputError("the instruction has no English words I can read; the models understand English, "
                         "e.g. 'pick up the red can'")
    return text


#: What to try after each failure kind of the execution check (:mod:`unihm_core.sim.execution`).
PHYSICS_ADVICE = {
    "flung": "the fingers end up inside the object and the simulator throws it out: try another seed, or "
             "re-refine with a smaller W_gen scale so the refinement may move the fingers further out of it",
    "penetration": "a link goes into the object or the table: try another seed, or re-refine with a smaller "
                   "W_gen scale so the refinement may move the fingers further out of it",
    "knocked": "the hand bumps the object before grasping it: another seed gives another approach",
    "lost": "the grip does not hold the object: re-refine with a larger contact strength λ_c (the fingertips "
            "are pulled onto its surface), or try another seed",
    "never_moved": "the hand does not take the object along: re-refine with a larger contact strength λ_c, or "
                   "try another seed",
    "off_target": "the object does not end where planned: try another seed, or a larger contact strength λ_c",
    "short_travel": "the drawer or lid does not move far enough: try another seed, or a larger contact "
                    "strength λ_c",
}


def physics_warning(report) -> str:
    """The warning for a refined motion that fails the execution check: what happened and what
    to try (the prefix "physics check" marks the warnings a new check replaces)."""
    advice = PHYSICS_ADVICE.get(report.failure, "try another seed")
    return (f"physics check: in simulation the refined motion does not achieve the task ({report.reason}); "
            f"{advice}. The trajectory is exported all the same; the simulated replay shows where it goes wrong")


def plan_summary(plan) -> dict:
    """JSON-ready summary of a :class:`unihm_core.planning.Plan`."""
    return {"task": plan.task, "pick_world": np.round(plan.pick_xyz, 4).tolist(),
            "place_world": np.round(plan.place_xyz, 4).tolist(),
            "object_poses_world": np.round(plan.object_poses, 5).tolist(), "warnings": list(plan.warnings),
            "notes": list(getattr(plan, "notes", [])),
            "timings_s": {k: round(v, 4) for k, v in plan.timings_s.items()}}


class Pipeline:
    """Loads the shipped models once; :meth:`generate` runs the stages. Thread-safe (a lock)."""

    def __init__(self, tokenizer, vlm, planner=None, text_encoder=None):
        self.tokenizer = tokenizer
        self.vlm = vlm
        self.planner = planner
        self.text_encoder = text_encoder
        self.lock = threading.Lock()

    @classmethod
    def load(cls, checkpoints: str | Path | None = None) -> Pipeline:
        """Load the shipped checkpoints (tokenizer, VLM, planner) on the CPU."""
        root = Path(checkpoints) if checkpoints else CHECKPOINTS_DIR
        from unihm_core.perception import get_text_encoder
        from unihm_core.tokenizer import Tokenizer
        from unihm_core.vlm import DexHandVLM

        for part in ("tokenizer", "vlm"):
            if not (root / part).exists():
                raise CheckpointError(f"missing checkpoint {root / part}; run `make train` or restore checkpoints/")
        tokenizer = Tokenizer.load(root / "tokenizer")
        encoder = get_text_encoder()
        vlm = DexHandVLM.load(root / "vlm", tokenizer=tokenizer, text_encoder=encoder)
        from unihm_core.planning import Planner

        if not (root / "planner").exists():
            raise CheckpointError(f"missing checkpoint {root / 'planner'}; run `make train` or restore checkpoints/")
        return cls(tokenizer, vlm, Planner.load(root / "planner"), encoder)

    # ------------------------------------------------------------------ stages
    def _target(self, scene, grounding, pose0: np.ndarray) -> TargetObject:
        inst = scene.instances[grounding.target]
        pts, nrm = inst.points, inst.normals
        if len(inst.completed_points):
            pts = np.concatenate([pts, inst.completed_points])
            nrm = np.concatenate([nrm, inst.completed_normals])
        inv = np.linalg.inv(pose0)
        return TargetObject(
            index=int(grounding.target), label=inst.label, description=inst.description,
            points=pts @ inv[:3, :3].T + inv[:3, 3], normals=nrm @ inv[:3, :3].T, pose0=pose0,
            size=np.asarray(inst.extent, float), centroid_camera=np.asarray(inst.centroid_camera),
            centroid_world=np.asarray(inst.centroid_world), num_points=inst.num_points, shape=inst.shape)

    def _plan(self, scene, grounding, hand: str, options: GenerateOptions):
        from unihm_core.planning import TrajectoryConfig, plan

        # where the instruction names a place (a receptacle, "to the left") it wins over the
        # transport stream; otherwise the network decides
        source = "grounding" if grounding.place is not None else "network"
        return plan(scene, grounding, hand, self.planner, place_source=source,
                    trajectory_config=TrajectoryConfig(num_frames=options.num_frames))

    def _refine(self, hand: str, q_raw: np.ndarray, target: TargetObject, poses: np.ndarray, config=None):
        from unihm_core.refine import refine

        return refine(hand, q_raw, target.points, poses, normals=target.normals, config=config)

    def _metrics(self, hand: str, q: np.ndarray, target: TargetObject, poses: np.ndarray) -> dict:
        from unihm_core.hands import load_hand
        from unihm_core.metrics import physical_metrics

        return physical_metrics(load_hand(hand).fingertip_positions(q), poses, target.points, target.normals)

    # ------------------------------------------------------------------ public API
    @staticmethod
    def _guarded(where: str, current: dict, fn):
        """Run ``fn()``; an exception that is not a UniHMError is logged and raised as an
        :class:`~unihm_core.errors.InternalError` naming the stage (original chained)."""
        from unihm_core.errors import InternalError, UniHMError
        from unihm_core.logs import internal_error_message, log_exception

        try:
            return fn()
        except UniHMError:
            raise
        except Exception as exc:
            stage = current.get("stage", "")
            ref = log_exception(f"Pipeline.{where} ({stage or 'checks'})", exc)
            raise InternalError(internal_error_message(ref, stage), ref) from exc

    def generate(self, rgb, depth, intrinsics, instruction: str, hand: str = "shadow", seed: int = 0, *,
                 click: tuple[float, float] | None = None, extrinsics: np.ndarray | None = None,
                 options: GenerateOptions | None = None,
                 progress: Callable[[str, float], None] | None = None,
                 deadline_s: float | None = None) -> GenerationResult:
        """Run every stage; ``progress(stage, fraction)`` is called before each one.

        ``rgb`` may be the :class:`~unihm_core.perception.rgbd.RGBDFrame` that
        :func:`check_inputs` returned (``depth``, ``intrinsics`` are then ignored).
        ``deadline_s`` bounds the total time: a stage that starts after the deadline raises
        :class:`~unihm_core.errors.InputError` saying which stage was reached. When grounding
        refuses the instruction (no match, or an
        :class:`~unihm_core.perception.grounding.AmbiguityError`), the raised error carries the
        perceived :class:`~unihm_core.perception.Scene` as its ``scene`` attribute (on a grey
        image the refusal is an InputError that adds why colour words cannot match). Every
        failure is a :class:`~unihm_core.errors.UniHMError`: unexpected exceptions become an
        :class:`~unihm_core.errors.InternalError` with the traceback in the log.
        """
        current: dict = {}
        return self._guarded("generate", current, lambda: self._generate(
            rgb, depth, intrinsics, instruction, hand, seed, click=click, extrinsics=extrinsics, options=options,
            progress=progress, deadline_s=deadline_s, current=current))

    def _generate(self, rgb, depth, intrinsics, instruction, hand, seed, *, click, extrinsics, options, progress,
                  deadline_s, current: dict) -> GenerationResult:
        from unihm_core.hands import load_hand
        from unihm_core.perception import ground, perceive

        options = options or GenerateOptions()
        frame, instruction, hand, seed, input_notes = check_inputs(rgb, depth, intrinsics, instruction, hand, seed,
                                                                   click=click)
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        stages = ["perception", "grounding", "planning", "vlm", "decoding", "refinement", "metrics", "physics"]

        def stage(name: str):
            current["stage"] = name
            if deadline_s is not None and time.perf_counter() - t_start > deadline_s:
                raise InputError(f"time limit of {deadline_s:g} s reached before the {name} stage "
                                 f"({time.perf_counter() - t_start:.1f} s spent); try again when the server "
                                 "is less busy, or without refinement")
            if progress is not None:
                progress(name, stages.index(name) / len(stages))
            return time.perf_counter()

        with self.lock:
            t = stage("perception")
            scene = perceive(frame, None, None, seed=int(seed), extrinsics=extrinsics)
            timings["perception"] = time.perf_counter() - t
            t = stage("grounding")
            try:
                grounding = ground(scene, instruction, click=click, encoder=self.text_encoder)
            except InputError as exc:
                exc.scene = scene  # a refusal keeps what was perceived: the app shows the numbered overlay
                if not frame.grey:
                    raise
                from unihm_core.perception.rgbd import GREY_NOTE

                grey = InputError(f"{exc} Note: {GREY_NOTE}.")
                grey.scene = scene
                raise grey from None
            timings["grounding"] = time.perf_counter() - t
            t = stage("planning")
            plan = self._plan(scene, grounding, hand, options)
            target = self._target(scene, grounding, plan.start_pose)
            timings["planning"] = time.perf_counter() - t
            t = stage("vlm")
            text = instruction or f"{grounding.task.replace('_', ' ')} the {target.label}"
            sample = self.vlm.sample(hand, text, target.points, plan.object_poses, plan.q0,
                                     temperature=options.temperature, top_k=options.top_k, top_p=options.top_p,
                                     seed=int(seed), keep=TOKEN_ALTERNATIVES)
            tokens = sample.tokens
            timings["vlm"] = time.perf_counter() - t
            t = stage("decoding")
            q_raw = self.tokenizer.decode(hand, tokens, plan.object_poses)
            timings["decoding"] = time.perf_counter() - t
            model = load_hand(hand)
            raw = Trajectory(q_raw, model.fingertip_positions(q_raw))
            refined, result = None, None
            if options.refine:
                t = stage("refinement")
                result = self._refine(hand, q_raw, target, plan.object_poses, options.refine_config)
                refined = Trajectory(result.q, model.fingertip_positions(result.q))
                timings["refinement"] = time.perf_counter() - t
            t = stage("metrics")
            metrics = {"raw": self._metrics(hand, q_raw, target, plan.object_poses)}
            if refined is not None:
                metrics["refined"] = self._metrics(hand, refined.q, target, plan.object_poses)
            timings["metrics"] = time.perf_counter() - t
            physics, physics_warnings = {}, []
            if options.physics:
                t = stage("physics")
                physics, physics_warnings = self.physics_check(hand, q_raw, refined, result, target, plan,
                                                               raw=options.physics_raw or refined is None)
                timings["physics"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t_start
        res = GenerationResult(instruction=instruction, hand=hand, seed=int(seed), options=options,
                               joint_names=model.joint_names, scene=scene, grounding=grounding, target=target,
                               plan=plan, tokens=np.asarray(tokens), raw=raw, token_sample=sample,
                               chunk_len=int(self.tokenizer.chunk_len), refined=refined,
                               refine_result=result, metrics=metrics, timings_s=timings,
                               warnings=input_notes + list(scene.warnings) + list(plan.warnings) + physics_warnings,
                               physics=physics)
        res.energies = self.energies(res)
        return res

    def rerefine(self, result: GenerationResult, config=None) -> GenerationResult:
        """Re-run only the refinement of ``result`` (same tokens and raw trajectory); failures as
        in :meth:`generate`."""
        current = {"stage": "refinement"}
        return self._guarded("rerefine", current, lambda: self._rerefine(result, config))

    def _rerefine(self, result: GenerationResult, config=None) -> GenerationResult:
        from unihm_core.hands import load_hand

        t = time.perf_counter()
        with self.lock:
            ref = self._refine(result.hand, result.raw.q, result.target, result.plan.object_poses, config)
            model = load_hand(result.hand)
            refined = Trajectory(ref.q, model.fingertip_positions(ref.q))
            metrics = dict(result.metrics)
            metrics["refined"] = self._metrics(result.hand, ref.q, result.target, result.plan.object_poses)
        timings = dict(result.timings_s)
        timings["refinement"] = time.perf_counter() - t
        # the old refined physics row describes the old trajectory: it is dropped and rerun
        physics = {k: v for k, v in result.physics.items() if k == "raw"}
        warnings = [w for w in result.warnings if not w.startswith("physics check")]
        if result.options.physics:
            t = time.perf_counter()
            new_rows, physics_warnings = self.physics_check(result.hand, result.raw.q, refined, ref, result.target,
                                                            result.plan, raw=False)
            physics.update(new_rows)
            warnings += physics_warnings
            timings["physics"] = time.perf_counter() - t
        new = replace(result, refined=refined, refine_result=ref, metrics=metrics, timings_s=timings,
                      physics=physics, warnings=warnings,
                      options=replace(result.options, refine=True, refine_config=config))
        new.energies = self.energies(new)
        return new

    @staticmethod
    def physics_check(hand: str, q_raw: np.ndarray, refined: Trajectory | None, refine_result,
                      target: TargetObject, plan, *, raw: bool = False) -> tuple[dict, list[str]]:
        """Execution checks (:func:`unihm_core.sim.execution.execution_check`) of the refined
        trajectory (and of the raw one with ``raw``) on the target's convex hull along the plan.

        Returns ``({"raw" | "refined": ExecutionReport}, warnings)``; when SAPIEN cannot start,
        no rows and one warning saying why. Failures as in :meth:`generate`.
        """
        return Pipeline._guarded("physics_check", {"stage": "physics"}, lambda: Pipeline._physics_check(
            hand, q_raw, refined, refine_result, target, plan, raw=raw))

    @staticmethod
    def _physics_check(hand: str, q_raw: np.ndarray, refined: Trajectory | None, refine_result,
                       target: TargetObject, plan, *, raw: bool = False) -> tuple[dict, list[str]]:
        import trimesh

        from unihm_core.errors import RenderError
        from unihm_core.sim.execution import execution_check, symmetry_of

        variants = []
        if raw or refined is None:
            variants.append(("raw", q_raw, None))
        if refined is not None:
            variants.append(("refined", refined.q, getattr(refine_result, "schedule", None)))
        mesh = trimesh.Trimesh(target.points).convex_hull
        out = {}
        try:
            for name, q, schedule in variants:
                out[name] = execution_check(hand, q, mesh, plan.object_poses, plan.task, schedule=schedule,
                                            symmetry=symmetry_of(target.shape))
        except RenderError as exc:
            return {}, [f"physics check skipped: {exc}"]
        warnings = []
        if "refined" in out and not out["refined"].success:
            warnings.append(physics_warning(out["refined"]))
        return out, warnings

    @staticmethod
    def energies(result: GenerationResult) -> EnergyTrace | None:
        """The refinement's per-frame energies (:class:`~unihm_core.energy_trace.EnergyTrace`),
        None without refinement."""
        from unihm_core.energy_trace import EnergyTrace

        r = result.refine_result
        return None if r is None else EnergyTrace.from_refine_result(r)
