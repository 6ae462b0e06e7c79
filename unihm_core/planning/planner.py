"""The trained planner (paper Eq. 7): checkpoint I/O, pick/place prediction and the full plan.

``Planner.load()`` reads ``checkpoints/planner`` (``model.safetensors`` + ``config.yaml``);
:meth:`Planner.predict` maps a heightmap and a sentence embedding to a pick cell and a
place point; :func:`plan` runs the whole planning stage on a perceived scene: heightmap ->
network -> object target trajectory (:mod:`~unihm_core.planning.trajectory`) -> initial
hand pose (:mod:`~unihm_core.planning.initial_pose`), with per-stage timings.

Arg-max cells are refined to sub-cell precision by the probability-weighted mean over the
3 x 3 neighbourhood of the peak.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from unihm_core.errors import CheckpointError, InputError
from unihm_core.paths import CHECKPOINTS_DIR
from unihm_core.planning.heightmap import Heightmap, HeightmapConfig

DEFAULT_CHECKPOINT = CHECKPOINTS_DIR / "planner"
FORMAT_VERSION = 1


def save_checkpoint(out_dir: str | Path, net, hm_config: HeightmapConfig, meta: dict) -> None:
    """Write ``model.safetensors`` and ``config.yaml`` (network + heightmap config, ``meta``)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(out / "model.safetensors"))
    cfg = {"format_version": FORMAT_VERSION, "network": net.config.to_dict(), "heightmap": hm_config.to_dict(),
           **meta}
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _refine(prob: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Sub-cell (row, col) peak: probability-weighted mean over the 3 x 3 neighbourhood."""
    h, w = prob.shape
    r0, r1 = max(cell[0] - 1, 0), min(cell[0] + 2, h)
    c0, c1 = max(cell[1] - 1, 0), min(cell[1] + 2, w)
    p = prob[r0:r1, c0:c1]
    rr, cc = np.mgrid[r0:r1, c0:c1]
    s = p.sum()
    return np.array([(rr * p).sum() / s, (cc * p).sum() / s]) if s > 0 else cell.astype(float)


@dataclass(frozen=True)
class PickPlace:
    """Network output for one heightmap + instruction.

    Attributes:
        pick_cell: (2,) int (row, col) of the pick.
        pick_xy: (2,) world x, y [m] of the pick cell centre.
        place_xy: (2,) world x, y [m] where the object should end (sub-cell).
        pick_prob: (H, W) softmax of the attention stream.
        place_prob: (H, W) softmax of the transport stream.
    """

    pick_cell: np.ndarray
    pick_xy: np.ndarray
    place_xy: np.ndarray
    pick_prob: np.ndarray
    place_prob: np.ndarray


class Planner:
    """A CLIPort-style network with its heightmap geometry."""

    def __init__(self, net, hm_config: HeightmapConfig, meta: dict):
        self.net = net.eval()
        self.hm_config = hm_config
        self.meta = meta

    @classmethod
    def load(cls, path: str | Path | None = None) -> Planner:
        """Load a checkpoint folder (default: the shipped ``checkpoints/planner``)."""
        from safetensors.torch import load_file

        from unihm_core.planning.cliport import CLIPortNet, PlannerNetConfig

        folder = Path(path) if path is not None else DEFAULT_CHECKPOINT
        cfg_path, w_path = folder / "config.yaml", folder / "model.safetensors"
        if not cfg_path.exists() or not w_path.exists():
            raise CheckpointError(f"no planner checkpoint in {folder} (need config.yaml and model.safetensors); "
                                  "train one with `unihm train planner --data DIR --out checkpoints/planner`")
        meta = yaml.safe_load(cfg_path.read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{cfg_path}: format_version {meta.get('format_version')} is not "
                                  f"{FORMAT_VERSION}; retrain the planner with this version")
        net = CLIPortNet(PlannerNetConfig.from_dict(meta["network"]))
        state = load_file(str(w_path))
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{w_path} does not match the network in {cfg_path}: {exc}") from None
        hm = meta["heightmap"]
        hm_cfg = HeightmapConfig(x_range=tuple(hm["x_range"]), y_range=tuple(hm["y_range"]),
                                 resolution=hm["resolution"], max_height=hm["max_height"])
        return cls(net, hm_cfg, meta)

    def predict_batch(self, maps: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pick cells (B, 2) int and place x, y (B, 2) [m] for maps (B, 5, H, W) and embeddings (B, E)."""
        out = self._run(maps, embeddings)
        return out[0], out[1]

    def _run(self, maps: np.ndarray, embeddings: np.ndarray):
        import torch

        maps = np.asarray(maps, dtype=np.float32)
        emb = np.asarray(embeddings, dtype=np.float32)
        h, w = self.hm_config.shape
        if maps.ndim != 4 or maps.shape[2:] != (h, w) or maps.shape[1] != self.net.config.in_channels:
            raise InputError(f"planner maps must be (B, {self.net.config.in_channels}, {h}, {w}), got {maps.shape}")
        if emb.shape != (len(maps), self.net.config.text_dim):
            raise InputError(f"embeddings must be ({len(maps)}, {self.net.config.text_dim}), got {emb.shape}")
        with torch.no_grad():
            m, t = torch.from_numpy(maps), torch.from_numpy(emb)
            pick_logits = self.net.attend(m, t)
            flat = pick_logits.reshape(len(maps), -1).argmax(1)
            pick = torch.stack([flat // w, flat % w], 1)
            place_logits = self.net.transport_logits(m, t, pick)
            pick_prob = torch.softmax(pick_logits.reshape(len(maps), -1), 1).reshape(-1, h, w).numpy()
            place_prob = torch.softmax(place_logits.reshape(len(maps), -1), 1).reshape(-1, h, w).numpy()
        pick = pick.numpy()
        place_cells = np.array([np.unravel_index(np.argmax(p), p.shape) for p in place_prob])
        place_xy = np.stack([self.hm_config.cell_to_xy(_refine(p, c)) for p, c in zip(place_prob, place_cells)])
        return pick, place_xy, pick_prob, place_prob

    def predict(self, heightmap: Heightmap, embedding: np.ndarray) -> PickPlace:
        """Pick and place for one heightmap (built with this planner's ``hm_config``) and a (E,) embedding."""
        if heightmap.config != self.hm_config:
            raise InputError("the heightmap was built with another workspace/resolution than the planner's; "
                             "build it with planner.hm_config")
        pick, place_xy, pp, qp = self._run(heightmap.features()[None], np.asarray(embedding)[None])
        return PickPlace(pick_cell=pick[0], pick_xy=self.hm_config.cell_to_xy(pick[0]), place_xy=place_xy[0],
                         pick_prob=pp[0], place_prob=qp[0])


@dataclass(frozen=True)
class Plan:
    """The planning stage's result.

    Attributes:
        task: data-engine task name (see :data:`~unihm_core.planning.trajectory.TASKS`).
        object_poses: (T, 4, 4) object target trajectory, world [m].
        q0: (D,) initial hand state of ``hand``.
        hand: hand name.
        pick_xyz: (3,) predicted pick point, world [m] (cell centre at the map's height there).
        place_xyz: (3,) where the object ends, world [m].
        start_pose: (4, 4) the object's start pose used by the trajectory.
        pick_place: the raw network output.
        heightmap: the map the network saw.
        warnings: what a user should know or act on.
        notes: diagnostics that change nothing in the result (e.g. the network's own pick point
            lies off the grounded target, while the trajectory starts at the grounded target).
        timings_s: seconds per stage ("heightmap", "network", "trajectory", "initial_pose").
    """

    task: str
    object_poses: np.ndarray
    q0: np.ndarray
    hand: str
    pick_xyz: np.ndarray
    place_xyz: np.ndarray
    start_pose: np.ndarray
    pick_place: PickPlace
    heightmap: Heightmap
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def place_height(heightmap: Heightmap, place_xy: np.ndarray, start_z: float, radius: float = 0.04) -> float:
    """z [m] of the object origin at the place: inside a receptacle when one stands there, else the start z.

    A receptacle is assumed when the map rises above 2 cm within ``radius`` of the place;
    the object then ends at 35 % of its rim height (as the data engine places it).
    """
    cfg = heightmap.config
    r = int(np.ceil(radius / cfg.resolution))
    row, col = cfg.xy_to_cell(place_xy)
    win = heightmap.height[max(row - r, 0):row + r + 1, max(col - r, 0):col + r + 1]
    top = float(win.max()) if win.size else 0.0
    return 0.35 * top if top > 0.02 else float(start_z)


def plan(scene, grounding, hand: str, planner: Planner | None = None, *,
         trajectory_config=None, place_source: str = "grounding") -> Plan:
    """Plan the object trajectory and q0 for a perceived scene and its grounding.

    Args:
        scene: :class:`~unihm_core.perception.Scene` (rgb, depth, intrinsics, camera_to_world).
        grounding: :class:`~unihm_core.perception.Grounding` (task, verb, target, place,
            ``instruction_embedding``).
        hand: hand name for q0.
        planner: a loaded :class:`Planner` (default: the shipped checkpoint).
        trajectory_config: :class:`~unihm_core.planning.trajectory.TrajectoryConfig`.
        place_source: ``"grounding"`` (default: the rule-based place target when grounding
            found one, else the network's transport prediction) or ``"network"`` (always the
            transport stream). The default prefers grounding because the shipped network's
            held-out place error is ~20 cm (docs/RESULTS.md, planner section).
    """
    from unihm_core.planning.heightmap import heightmap_from_rgbd
    from unihm_core.planning.initial_pose import approach_frame, initial_hand_pose
    from unihm_core.planning.trajectory import RETURN_TASKS, object_trajectory, resolve_task

    if place_source not in ("network", "grounding"):
        raise InputError(f"place_source must be 'network' or 'grounding', got {place_source!r}")
    if grounding.instruction_embedding is None:
        raise InputError("the planner needs an instruction (its embedding conditions the network); got none")
    planner = planner or Planner.load()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    notes: list[str] = []
    t = time.perf_counter()
    intr = scene.intrinsics
    hm = heightmap_from_rgbd(scene.rgb, scene.depth, intr.fx, intr.fy, intr.cx, intr.cy, scene.camera_to_world,
                             planner.hm_config)
    timings["heightmap"] = time.perf_counter() - t
    t = time.perf_counter()
    pp = planner.predict(hm, grounding.instruction_embedding)
    timings["network"] = time.perf_counter() - t

    t = time.perf_counter()
    place = grounding.place
    location = place.relation if place is not None and place.kind == "location" else None
    task = resolve_task(grounding.task, grounding.verb, location)  # "slide it towards me" pulls
    inst = scene.instances[grounding.target]
    ext = np.maximum(np.asarray(inst.extent, dtype=np.float64), 0.01)
    start = np.eye(4)
    start[:2, 3] = np.asarray(inst.centroid_world)[:2]
    start[2, 3] = float(np.asarray(inst.centroid_world)[2] - ext[2] / 2)
    picked = [k for k, o in enumerate(scene.instances)
              if np.linalg.norm(np.asarray(o.centroid_world)[:2] - pp.pick_xy) < 0.5 * max(o.extent[:2]) + 0.01]
    if grounding.target not in picked:
        # Not a warning: the motion uses the grounded target whatever the network's pick says, so
        # nothing is wrong with the result (it was shown as a warning on 5 of 6 runs, unexplained).
        where = f"#{picked[0]} {scene.instances[picked[0]].description}" if picked else "no object"
        notes.append(f"the pick-and-place network's own pick point (x, y = {pp.pick_xy.round(3).tolist()} m, the "
                     f"green circle in the Plan view) lies on {where}, not on the grounded target "
                     f"#{grounding.target}; the motion starts at the grounded target anyway, so this only shows "
                     "that the small network is less reliable than grounding (docs/RESULTS.md, planner)")
    place_xy = pp.place_xy
    if place_source == "grounding" and grounding.place is not None:
        place_xy = np.asarray(grounding.place.point_world)[:2]
    if task in RETURN_TASKS or task in ("open", "close"):
        place = None
    elif task == "handover":
        place = np.array([place_xy[0], place_xy[1], start[2, 3] + 0.20])
    else:
        place = np.array([place_xy[0], place_xy[1], place_height(hm, place_xy, start[2, 3])
                          if task == "pick_place" else start[2, 3]])
    a, _, _ = approach_frame(task, start, ext)
    poses = object_trajectory(task, start, ext, place_xyz=place, approach=a, config=trajectory_config)
    timings["trajectory"] = time.perf_counter() - t
    t = time.perf_counter()
    q0 = initial_hand_pose(hand, task, start, ext)
    timings["initial_pose"] = time.perf_counter() - t
    pick_xyz = np.array([pp.pick_xy[0], pp.pick_xy[1], hm.height[tuple(pp.pick_cell)]])
    return Plan(task=task, object_poses=poses, q0=q0, hand=hand, pick_xyz=pick_xyz, place_xyz=poses[-1][:3, 3].copy(),
                start_pose=start, pick_place=pp, heightmap=hm, warnings=warnings, timings_s=timings, notes=notes)
