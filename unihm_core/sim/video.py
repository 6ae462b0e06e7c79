"""Raw-vs-refined videos of a hand manipulating an object, rendered with SAPIEN.

Layout of every video frame (a 2x2 grid): columns = raw | refined trajectory, rows = the
input camera's viewpoint | a side view. Fingertips carry small markers coloured by their
contact energy at that frame (green = none, yellow, orange, red = high; bins in
:data:`ENERGY_BINS`). The mp4 is H.264 / yuv420p (browser-playable), written with
imageio-ffmpeg's bundled ffmpeg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unihm_core.hands import load_hand
from unihm_core.sim.render import PARK, HandRenderer, look_at, opencv_to_sapien_camera

ENERGY_BINS = (1e-4, 1e-3, 1e-2)  # contact energy thresholds between the four marker colours
MARKER_COLOURS = ((0.2, 0.8, 0.3, 1.0), (0.95, 0.85, 0.2, 1.0), (0.95, 0.55, 0.1, 1.0), (0.9, 0.15, 0.1, 1.0))


@dataclass(frozen=True)
class VideoSpec:
    """Frame size of one view [px] and playback rate [frames/s]."""

    width: int = 320
    height: int = 240
    fps: int = 30


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """Burn a small label into the top-left corner (Pillow's default font)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    draw.rectangle([0, 0, 8 + 7 * len(text), 16], fill=(255, 255, 255))
    draw.text((4, 2), text, fill=(0, 0, 0))
    return np.asarray(pil)


class TrajectoryVideoRenderer:
    """Renders raw/refined trajectories of one hand and one object to frames or an mp4."""

    def __init__(self, spec: VideoSpec = VideoSpec()):
        self.spec = spec
        self.renderer = HandRenderer(width=spec.width, height=spec.height)
        self.renderer.warm_up()
        self._markers: dict[tuple[int, int], object] = {}

    def _marker(self, finger: int, level: int):
        key = (finger, level)
        if key not in self._markers:
            sapien = self.renderer._sapien
            b = self.renderer.scene.create_actor_builder()
            mat = sapien.render.RenderMaterial(base_color=list(MARKER_COLOURS[level]))
            b.add_sphere_visual(radius=0.008, material=mat)
            self._markers[key] = b.build_kinematic(name=f"tip_marker_{finger}_{level}")
        return self._markers[key]

    def _place_markers(self, tips: np.ndarray, energies: np.ndarray | None) -> None:
        sapien = self.renderer._sapien
        for f, p in enumerate(tips):
            level = 0 if energies is None else int(np.searchsorted(ENERGY_BINS, energies[f]))
            for lv in range(len(MARKER_COLOURS)):
                m = self._marker(f, lv)
                m.set_pose(sapien.Pose(p.astype(np.float32) if lv == level else PARK))

    def frames(self, hand: str, q_raw: np.ndarray, q_refined: np.ndarray | None, object_mesh,
               object_poses: np.ndarray, camera_extrinsics: np.ndarray | None = None,
               contact_energy_raw: np.ndarray | None = None,
               contact_energy_refined: np.ndarray | None = None, stride: int = 1,
               names: tuple[str, str] = ("raw", "refined"),
               on_frame: Callable[[int, int], object] | None = None) -> list[np.ndarray]:
        """The grid frames; ``contact_energy_*`` are ``(T, F)`` per-fingertip energies; ``names``
        label the two columns (e.g. ``("simulated", ...)`` for a physics replay); ``on_frame(done,
        total)`` is called after each rendered frame (progress reporting)."""
        model = load_hand(hand)
        r = self.renderer
        variants = [(names[0], np.asarray(q_raw, float), contact_energy_raw)]
        if q_refined is not None:
            variants.append((names[1], np.asarray(q_refined, float), contact_energy_refined))
        centre = object_poses[0, :3, 3] + np.array([0.0, 0.0, 0.05])
        if camera_extrinsics is not None:
            front = opencv_to_sapien_camera(camera_extrinsics)
        else:
            front = look_at(centre + np.array([0.0, -0.7, 0.45]), centre)
        side = look_at(centre + np.array([0.6, 0.05, 0.25]), centre)
        views = (("camera", front), ("side", side))
        r.remove_mesh("object")  # a previous call may have shown another object
        out = []
        steps = range(0, len(q_raw), stride)
        for t in steps:
            r.set_mesh("object", object_mesh.vertices, object_mesh.faces, object_poses[t], color=(0.85, 0.3, 0.2, 1))
            rows = []
            for vname, pose in views:
                r.set_camera(pose)
                cols = []
                for name, q, energy in variants:
                    qt = model.clamp(q[t])
                    r.show_hand(hand, qt)
                    self._place_markers(model.fingertip_positions(qt), None if energy is None else energy[t])
                    cols.append(_label(r.render(), f"{name} · {vname} · t={t}"))
                rows.append(np.concatenate(cols, axis=1))
            out.append(np.concatenate(rows, axis=0))
            if on_frame is not None:
                on_frame(len(out), len(steps))
        return out

    def write_mp4(self, frames: list[np.ndarray], path: str | Path) -> Path:
        """Write frames as a browser-playable mp4 (H.264, yuv420p)."""
        import imageio_ffmpeg

        path = Path(path)
        h, w = frames[0].shape[:2]
        writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=self.spec.fps, codec="libx264",
                                             pix_fmt_out="yuv420p", macro_block_size=8,
                                             output_params=["-movflags", "+faststart"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        return path


def _contact(result, variant: str) -> np.ndarray | None:
    e = result.energies  # an EnergyTrace or None
    if e is None:
        return None
    return e.contact_raw if variant == "raw" else e.contact_refined


def render_result(result, path: str | Path, renderer: TrajectoryVideoRenderer | None = None, stride: int = 1,
                  on_frame: Callable[[int, int], object] | None = None) -> Path:
    """Write the raw | refined video of a :class:`~unihm_core.pipeline.GenerationResult` to
    ``path`` (the target's convex hull along the plan, fingertip contact energies as markers);
    every ``stride``-th frame, ``on_frame(done, total)`` after each. The one video function of
    ``unihm generate --render`` and the app. Raises :class:`~unihm_core.errors.RenderError`
    without a Vulkan device."""
    from unihm_core.export.result import target_mesh

    vr = renderer or TrajectoryVideoRenderer()
    frames = vr.frames(result.hand, result.raw.q, None if result.refined is None else result.refined.q,
                       target_mesh(result), result.plan.object_poses,
                       camera_extrinsics=result.scene.camera_to_world,
                       contact_energy_raw=_contact(result, "raw"), contact_energy_refined=_contact(result, "refined"),
                       stride=stride, on_frame=on_frame)
    return vr.write_mp4(frames, path)


def render_replay(result, path: str | Path, renderer: TrajectoryVideoRenderer | None = None, stride: int = 1,
                  on_frame: Callable[[int, int], object] | None = None) -> Path | None:
    """Write the simulated replay of the execution check (``result.physics``: the refined row,
    else the raw one): hand and object as physics moved them. None without a physics row;
    :class:`~unihm_core.errors.RenderError` without a Vulkan device."""
    from unihm_core.export.result import target_mesh

    rep = result.physics.get("refined") or result.physics.get("raw")
    if rep is None:
        return None
    vr = renderer or TrajectoryVideoRenderer()
    frames = vr.frames(result.hand, rep.hand_q, None, target_mesh(result), rep.object_poses,
                       camera_extrinsics=result.scene.camera_to_world, stride=stride, names=("simulated", ""),
                       on_frame=on_frame)
    return vr.write_mp4(frames, path)
