"""Raw-vs-refined videos of a hand manipulating an object in its perceived scene, with SAPIEN.

Layout of every video frame (a 2x2 grid, each panel ``VideoSpec.width x height``, 480x360 by
default): columns = raw | refined trajectory, rows = the input camera | a side camera.

* **Scene**: the target (convex hull of its observed + completed surface, in its perceived
  colour) moves along the plan; every other perceived instance stands as the convex hull of its
  observed + completed points in its mean perceived colour; the table is a slab at the perceived
  table plane, sized to hold everything.
* **Framing** (:func:`input_view`, :func:`side_view`): the input camera keeps its viewpoint and
  its intrinsics (scaled to the panel); when the hand trajectory or the object path would leave
  the image it steps back along its view axis (same direction and lens, principal point
  centred) until they fit. The
  side camera looks at the centre of the bounding box of the hand trajectory (wrist and
  fingertips of every shown variant) and the object path, from the input camera's right at 30°
  elevation, at the distance where the box's bounding sphere fits the field of view.
* **Raw vs refined**: a link whose collision primitives reach more than
  :data:`PENETRATION_MM` into the target's hull is tinted magenta (:data:`PENETRATION_RGBA`) in that frame;
  a fingertip whose sphere is within :data:`CONTACT_MM` of the target's surface carries a small
  green sphere (:data:`CONTACT_RGBA`).

The mp4 is H.264 / yuv420p (browser-playable), written with imageio-ffmpeg's bundled ffmpeg.

Measured (``bench/bench_render.py``: lavapipe on the 2 CPU cores shared with another agent,
Shadow hand, a 64-step plan at the app's stride 2 = 32 grid frames of four 480x360 panels,
target + 3 other objects + table, rounded palm): 4.47, 4.46 and 4.22 s (median 4.46 s, load
average ~3 on 2 cores; 320x240 without the scene was 3.0 s); renderer start + warm-up 6.3 s,
paid once per process. ``unihm generate --render`` renders every frame (64 grid frames of the
mug example, Shadow: 16-20 s including the warm-up).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unihm_core.hands import load_hand
from unihm_core.sim.render import PARK, HandRenderer, look_at, opencv_to_sapien_camera

PENETRATION_MM = 2.0  # [mm] a link deeper than this inside the target's hull is tinted
CONTACT_MM = 5.0  # [mm] a fingertip sphere this close to the target's surface gets a contact marker
PENETRATION_RGBA = (0.95, 0.05, 0.85, 1.0)  # magenta: perceived objects are often red
CONTACT_RGBA = (0.1, 0.85, 0.2, 1.0)
TABLE_RGBA = (0.55, 0.52, 0.48, 1.0)
SIDE_ELEVATION = np.deg2rad(30.0)
SIDE_FOVY = 0.8  # [rad]
FIT_MARGIN = 0.85  # the framed boxes fill at most this fraction of the half-image


@dataclass(frozen=True)
class VideoSpec:
    """Frame size of one view [px] and playback rate [frames/s]."""

    width: int = 480
    height: int = 360
    fps: int = 30


@dataclass(frozen=True)
class View:
    """One camera: ``pose`` (4x4, SAPIEN convention: x forward, y left, z up) and pinhole
    intrinsics [px] of a ``width x height`` image."""

    pose: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, 2)`` pixel coordinates (u right, v down) of world ``points`` and ``(N,)`` depth [m]
        along the view direction (positive in front)."""
        P = (np.asarray(points, float) - self.pose[:3, 3]) @ self.pose[:3, :3]  # camera coords
        z = P[:, 0]
        zs = np.where(np.abs(z) < 1e-9, 1e-9, z)
        u = self.cx - self.fx * P[:, 1] / zs
        v = self.cy - self.fy * P[:, 2] / zs
        return np.stack([u, v], 1), z

    def contains(self, points: np.ndarray) -> bool:
        uv, z = self.project(points)
        return bool(np.all(z > 0) and np.all((uv[:, 0] >= 0) & (uv[:, 0] < self.width)
                                             & (uv[:, 1] >= 0) & (uv[:, 1] < self.height)))


@dataclass(frozen=True)
class SceneObject:
    """A static mesh of the scene: world ``vertices`` ``(V, 3)``, ``faces`` ``(F, 3)``, RGBA colour."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    color: tuple = (0.6, 0.6, 0.6, 1.0)


@dataclass
class _Hull:
    """A convex hull's face planes (object frame) for signed distances."""

    normals: np.ndarray
    offsets: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, mesh) -> _Hull | None:
        try:
            h = mesh.convex_hull
        except Exception:  # noqa: BLE001 - a degenerate (flat) mesh has no hull: nothing penetrates it
            return None
        if len(h.faces) < 4:
            return None
        n = np.asarray(h.face_normals, float)
        return cls(n, np.einsum("fj,fj->f", n, np.asarray(h.triangles_center, float)),
                   np.asarray(h.bounds[0], float), np.asarray(h.bounds[1], float))

    def signed_distance(self, P: np.ndarray, within: float) -> np.ndarray:
        """Negative inside (exact depth), positive outside (largest plane distance, a lower bound);
        ``+inf`` for points more than ``within`` outside the bounding box."""
        near = np.all((P >= self.lo - within) & (P <= self.hi + within), axis=1)
        out = np.full(len(P), np.inf)
        if near.any():
            out[near] = (P[near] @ self.normals.T - self.offsets).max(axis=1)
        return out


@dataclass
class _LinkSamples:
    """Points on each link's collision primitives (link frame) with the primitive's radius there."""

    link_index: np.ndarray  # (N,) index into HandModel.link_names
    points: np.ndarray  # (N, 3)
    radius: np.ndarray  # (N,)
    names: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, model) -> _LinkSamples:
        from unihm_core.hands.urdf import link_geometry

        li, pts, rad = [], [], []
        for name, prims in link_geometry(model.spec).items():
            k = model.link_names.index(name)
            for kind, p in prims:
                if kind == "capsule":
                    s = np.linspace(0.0, 1.0, 6)[:, None] * np.asarray(p["p1"], float)[None]
                    pts.append(s)
                    rad.append(np.full(len(s), p["radius"]))
                elif kind == "sphere":
                    pts.append(np.zeros((1, 3)))
                    rad.append(np.array([p["radius"]]))
                elif kind == "box":
                    c, h = np.asarray(p["center"], float), np.asarray(p["size"], float) / 2
                    g = np.stack(np.meshgrid(*[np.linspace(-1, 1, 3)] * 3, indexing="ij"), -1).reshape(-1, 3)
                    pts.append(c + g * h)
                    rad.append(np.zeros(len(g)))
                else:  # pragma: no cover - link_geometry documents only these three kinds
                    continue
                li.append(np.full(len(pts[-1]), k))
        return cls(np.concatenate(li), np.concatenate(pts), np.concatenate(rad), list(model.link_names))

    def world(self, link_poses: np.ndarray) -> np.ndarray:
        P = link_poses[self.link_index]
        return np.einsum("nij,nj->ni", P[:, :3, :3], self.points) + P[:, :3, 3]


def penetrating_links(model, q: np.ndarray, hull: _Hull | None, object_pose: np.ndarray,
                      samples: _LinkSamples | None = None) -> dict[str, float]:
    """``{link name: depth [m]}`` of the links of ``model`` at state ``q`` whose collision
    primitives reach more than :data:`PENETRATION_MM` into ``hull`` (object frame) at ``object_pose``."""
    if hull is None:
        return {}
    samples = samples or _LinkSamples.of(model)
    W = samples.world(model.fk(q).link_poses)
    inv = np.linalg.inv(object_pose)
    local = W @ inv[:3, :3].T + inv[:3, 3]
    depth = samples.radius - hull.signed_distance(local, within=0.02)
    out: dict[str, float] = {}
    for k in np.unique(samples.link_index[depth > PENETRATION_MM / 1000]):
        out[samples.names[k]] = float(depth[samples.link_index == k].max())
    return out


def fingertip_contacts(model, q: np.ndarray, hull: _Hull | None, object_pose: np.ndarray) -> np.ndarray:
    """``(F,)`` bool: fingertip spheres within :data:`CONTACT_MM` of ``hull``'s surface (and not
    deeper inside than that)."""
    tips = model.fingertip_positions(q)
    if hull is None:
        return np.zeros(len(tips), bool)
    inv = np.linalg.inv(object_pose)
    sd = hull.signed_distance(tips @ inv[:3, :3].T + inv[:3, 3], within=0.02) - model.spec.link_radius
    return np.abs(sd) <= CONTACT_MM / 1000


# ------------------------------------------------------------------------------------- framing
def _box_corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def trajectory_points(model, qs: Sequence[np.ndarray], object_mesh, object_poses: np.ndarray) -> np.ndarray:
    """``(N, 3)`` every wrist and fingertip position of the hand trajectories ``qs`` and the corners
    of the object mesh's bounding box along ``object_poses`` (world)."""
    pts = []
    for q in qs:
        q = model.clamp(np.atleast_2d(q))
        pts.append(model.fingertip_positions(q).reshape(-1, 3))
        pts.append(q[:, :3])
    c = _box_corners(*np.asarray(object_mesh.bounds, float))
    for T in object_poses:
        pts.append(c @ T[:3, :3].T + T[:3, 3])
    return np.concatenate(pts)


def trajectory_box(model, qs: Sequence[np.ndarray], object_mesh, object_poses: np.ndarray) -> np.ndarray:
    """``(8, 3)`` corners of the axis-aligned box around :func:`trajectory_points`."""
    P = trajectory_points(model, qs, object_mesh, object_poses)
    return _box_corners(P.min(0), P.max(0))


def _back_off(pose: np.ndarray, points: np.ndarray, fx: float, fy: float, width: int, height: int) -> float:
    """How far [m] to move the camera back along its view direction so that ``points`` fit the
    image (principal point centred, focal lengths ``fx``, ``fy``), with :data:`FIT_MARGIN`."""
    P = (points - pose[:3, 3]) @ pose[:3, :3]  # x forward, y left, z up
    tx, ty = FIT_MARGIN * (width / 2) / fx, FIT_MARGIN * (height / 2) / fy
    need = np.maximum(np.abs(P[:, 1]) / tx, np.abs(P[:, 2]) / ty) - P[:, 0]
    return float(max(0.0, need.max(), 0.05 - P[:, 0].min()))


def input_view(camera_to_world: np.ndarray | None, points: np.ndarray, spec: VideoSpec,
               intrinsics=None) -> View:
    """The input camera (OpenCV ``camera_to_world``; a default front view without it) with its
    ``intrinsics`` (anything with fx, fy, cx, cy, width, height) scaled to the panel. When
    ``points`` (hand trajectory, object path) would leave the image, the camera keeps its
    direction and lens but steps back along its view axis (principal point centred) until they fit."""
    W, H = spec.width, spec.height
    points = np.asarray(points, float)
    if camera_to_world is not None:
        pose = opencv_to_sapien_camera(camera_to_world)
    else:
        centre = (points.min(0) + points.max(0)) / 2
        pose = look_at(centre + np.array([0.0, -0.7, 0.45]), centre)
    if intrinsics is not None:
        sx, sy = W / float(intrinsics.width), H / float(intrinsics.height)
        view = View(pose, intrinsics.fx * sx, intrinsics.fy * sy, intrinsics.cx * sx, intrinsics.cy * sy, W, H)
        if view.contains(points):
            return view
        fx, fy = view.fx, view.fy
    else:
        fx = fy = (H / 2) / np.tan(0.45)  # a 0.9 rad vertical field of view
    d = _back_off(pose, points, fx, fy, W, H)
    pose = pose.copy()
    pose[:3, 3] -= d * pose[:3, 0]
    return View(pose, fx, fy, W / 2, H / 2, W, H)


def side_view(box: np.ndarray, spec: VideoSpec, camera_to_world: np.ndarray | None = None) -> View:
    """A camera from the input camera's right (world +x without it), 30° above the table, looking at
    the centre of ``box`` from the distance where the box's bounding sphere fits the image."""
    W, H = spec.width, spec.height
    centre = box.mean(0)
    radius = max(float(np.linalg.norm(box - centre, axis=1).max()), 0.05)
    if camera_to_world is not None:
        right = np.asarray(camera_to_world, float)[:3, 0].copy()  # OpenCV x = image right
    else:
        right = np.array([1.0, 0.0, 0.0])
    right[2] = 0.0
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    direction = np.cos(SIDE_ELEVATION) * right + np.array([0.0, 0.0, np.sin(SIDE_ELEVATION)])
    f = (H / 2) / np.tan(SIDE_FOVY / 2)
    half = min(np.arctan(FIT_MARGIN * (W / 2) / f), np.arctan(FIT_MARGIN * (H / 2) / f))
    dist = radius / np.sin(half)
    pose = look_at(centre + dist * direction, centre)
    return View(pose, f, f, W / 2, H / 2, W, H)


# ------------------------------------------------------------------------------------- scene
def _rgba(colors) -> tuple:
    c = np.asarray(colors, float).reshape(-1, 3)
    if not len(c):
        return (0.6, 0.6, 0.6, 1.0)
    return (*np.clip(np.median(c, 0), 0.0, 1.0).tolist(), 1.0)


def scene_objects(scene, skip_index: int | None = None) -> list[SceneObject]:
    """Every perceived instance of ``scene`` but ``skip_index`` (the target): the convex hull of its
    observed + completed points (world frame) in its median perceived colour; flat or tiny
    clusters without a 3-D hull are left out."""
    import trimesh

    out = []
    for inst in getattr(scene, "instances", ()):
        if skip_index is not None and int(inst.index) == int(skip_index):
            continue
        pts = np.asarray(inst.points, float)
        comp = np.asarray(getattr(inst, "completed_points", np.zeros((0, 3))), float).reshape(-1, 3)
        pts = np.concatenate([pts.reshape(-1, 3), comp])
        if len(pts) < 4:
            continue
        try:
            h = trimesh.Trimesh(pts).convex_hull
        except Exception:  # noqa: BLE001 - degenerate cluster: no hull to show
            continue
        if len(h.faces) < 4:
            continue
        out.append(SceneObject(f"scene_{int(inst.index)}_{inst.label}", np.asarray(h.vertices), np.asarray(h.faces),
                               _rgba(inst.colors)))
    return out


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """Burn a small label into the top-left corner (Pillow's default font)."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    draw.rectangle([0, 0, 8 + 7 * len(text), 16], fill=(255, 255, 255))
    draw.text((4, 2), text, fill=(0, 0, 0))
    return np.asarray(pil)


class TrajectoryVideoRenderer:
    """Renders raw/refined trajectories of one hand in its scene to frames or an mp4."""

    def __init__(self, spec: VideoSpec = VideoSpec()):
        self.spec = spec
        self.renderer = HandRenderer(width=spec.width, height=spec.height)
        self.renderer.warm_up()
        self._markers: dict[int, object] = {}
        self._link_colours: dict[str, dict[str, list]] = {}  # hand -> link -> [(material, original rgba)]
        self._tinted: set[tuple[str, str]] = set()
        self._scene_names: list[str] = []
        self._samples: dict[str, _LinkSamples] = {}

    # -------------------------------------------------------------- markers and tints
    def _marker(self, finger: int):
        if finger not in self._markers:
            sapien = self.renderer._sapien
            b = self.renderer.scene.create_actor_builder()
            mat = sapien.render.RenderMaterial(base_color=list(CONTACT_RGBA))
            b.add_sphere_visual(radius=0.006, material=mat)
            self._markers[finger] = b.build_kinematic(name=f"contact_marker_{finger}")
        return self._markers[finger]

    def _place_markers(self, tips: np.ndarray, contact: np.ndarray) -> None:
        sapien = self.renderer._sapien
        for f, p in enumerate(tips):
            self._marker(f).set_pose(sapien.Pose(p.astype(np.float32) if contact[f] else PARK))
        for f in range(len(tips), len(self._markers)):
            self._markers[f].set_pose(sapien.Pose(PARK))

    def _materials(self, hand: str) -> dict[str, list]:
        if hand not in self._link_colours:
            sapien = self.renderer._sapien
            art = self.renderer._articulation(hand)
            mats: dict[str, list] = {}
            for link in art.get_links():
                rb = link.entity.find_component_by_type(sapien.render.RenderBodyComponent)
                shapes = [] if rb is None else rb.render_shapes
                found = []
                for s in shapes:  # primitives carry one material; meshes (the rounded palm) one per part
                    if isinstance(s, sapien.render.RenderShapeTriangleMesh):
                        found += [p.material for p in s.parts]
                    elif getattr(s, "material", None) is not None:
                        found.append(s.material)
                mats[link.name] = [(m, list(m.base_color)) for m in found]
            self._link_colours[hand] = mats
        return self._link_colours[hand]

    def tint_links(self, hand: str, links) -> None:
        """Tint ``links`` of ``hand`` :data:`PENETRATION_RGBA`; every other link gets its colour back."""
        mats = self._materials(hand)
        want = {(hand, name) for name in links if name in mats}
        for key in self._tinted - want:
            for m, rgba in self._link_colours[key[0]][key[1]]:
                m.set_base_color(rgba)
        for key in want - self._tinted:
            for m, _ in mats[key[1]]:
                m.set_base_color(list(PENETRATION_RGBA))
        self._tinted = want

    # -------------------------------------------------------------- scene
    def _set_scene(self, objects: Sequence[SceneObject], table_to_world: np.ndarray | None, box: np.ndarray) -> None:
        r = self.renderer
        for name in self._scene_names:
            r.remove_mesh(name)
        self._scene_names = []
        for obj in objects:
            r.set_mesh(obj.name, obj.vertices, obj.faces, np.eye(4), color=obj.color)
            self._scene_names.append(obj.name)
        if getattr(r, "table", None) is not None:
            r.table.set_pose(r._sapien.Pose(PARK))  # the renderer's default table is replaced
        if table_to_world is not None:
            import trimesh

            T = np.asarray(table_to_world, float)
            inv = np.linalg.inv(T)
            pts = [box] + [o.vertices for o in objects]
            local = np.concatenate(pts) @ inv[:3, :3].T + inv[:3, 3]
            lo, hi = local[:, :2].min(0) - 0.12, local[:, :2].max(0) + 0.12
            slab = trimesh.creation.box(extents=(*(hi - lo), 0.02))
            slab.apply_translation((*((lo + hi) / 2), -0.0105))
            r.set_mesh("scene_table", slab.vertices, slab.faces, T, color=TABLE_RGBA)
            self._scene_names.append("scene_table")

    def _use_view(self, view: View) -> None:
        r = self.renderer
        r.set_camera(view.pose)
        r.set_intrinsics(view.fx, view.fy, view.cx, view.cy)

    def views(self, hand: str, qs: Sequence[np.ndarray], object_mesh, object_poses: np.ndarray,
              camera_extrinsics: np.ndarray | None = None, intrinsics=None) -> tuple[View, View]:
        """The (input, side) cameras that frame the hand trajectories ``qs`` and the object path."""
        return self._views(load_hand(hand), qs, object_mesh, object_poses, camera_extrinsics, intrinsics)

    def _views(self, model, qs, object_mesh, object_poses, camera_extrinsics, intrinsics) -> tuple[View, View]:
        pts = trajectory_points(model, qs, object_mesh, object_poses)
        box = _box_corners(pts.min(0), pts.max(0))
        return (input_view(camera_extrinsics, pts, self.spec, intrinsics),
                side_view(box, self.spec, camera_extrinsics))

    def frames(self, hand: str, q_raw: np.ndarray, q_refined: np.ndarray | None, object_mesh,
               object_poses: np.ndarray, camera_extrinsics: np.ndarray | None = None,
               contact_energy_raw: np.ndarray | None = None,
               contact_energy_refined: np.ndarray | None = None, stride: int = 1,
               names: tuple[str, str] = ("raw", "refined"),
               on_frame: Callable[[int, int], object] | None = None, *, intrinsics=None,
               objects: Sequence[SceneObject] = (), table_to_world: np.ndarray | None = None,
               target_color=(0.85, 0.3, 0.2, 1.0)) -> list[np.ndarray]:
        """The grid frames. ``objects`` are the scene's other meshes, ``table_to_world`` the table
        plane's frame (z = 0, normal +z; no table without it), ``intrinsics`` the input camera's
        (fx, fy, cx, cy, width, height attributes). ``contact_energy_*`` are accepted for the old
        callers and unused: contact is shown geometrically. ``names`` label the two columns;
        ``on_frame(done, total)`` is called after each rendered frame (progress reporting)."""
        del contact_energy_raw, contact_energy_refined
        model = load_hand(hand)
        r = self.renderer
        variants = [(names[0], model.clamp(np.asarray(q_raw, float)))]
        if q_refined is not None:
            variants.append((names[1], model.clamp(np.asarray(q_refined, float))))
        object_poses = np.asarray(object_poses, float)
        box = trajectory_box(model, [q for _, q in variants], object_mesh, object_poses)
        views = tuple(zip(("camera", "side"), self._views(model, [q for _, q in variants], object_mesh, object_poses,
                                                         camera_extrinsics, intrinsics)))
        self._set_scene(objects, table_to_world, box)
        hull = _Hull.of(object_mesh)
        samples = self._samples.setdefault(hand, _LinkSamples.of(model))
        r.remove_mesh("object")  # a previous call may have shown another object
        out = []
        steps = range(0, len(q_raw), stride)
        for t in steps:
            pose_t = object_poses[min(t, len(object_poses) - 1)]
            r.set_mesh("object", object_mesh.vertices, object_mesh.faces, pose_t, color=target_color)
            state = []
            for name, q in variants:
                qt = q[t]
                pen = penetrating_links(model, qt, hull, pose_t, samples)
                state.append((name, qt, pen, model.fingertip_positions(qt), fingertip_contacts(model, qt, hull, pose_t)))
            rows = []
            for vname, view in views:
                self._use_view(view)
                cols = []
                for name, qt, pen, tips, contact in state:
                    r.show_hand(hand, qt)
                    self.tint_links(hand, pen)
                    self._place_markers(tips, contact)
                    text = f"{name} · {vname} · t={t}" + (f" · {len(pen)} links in object" if pen else "")
                    cols.append(_label(r.render(), text))
                rows.append(np.concatenate(cols, axis=1))
            out.append(np.concatenate(rows, axis=0))
            if on_frame is not None:
                on_frame(len(out), len(steps))
        self.tint_links(hand, ())
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


def _scene_kwargs(result) -> dict:
    """The perceived scene of a result as keyword arguments of :meth:`TrajectoryVideoRenderer.frames`."""
    scene = result.scene
    target = next((i for i in scene.instances if int(i.index) == int(result.target.index)), None)
    return {"intrinsics": getattr(scene, "intrinsics", None),
            "objects": scene_objects(scene, skip_index=result.target.index),
            "table_to_world": getattr(scene, "table_to_world", None),
            "target_color": _rgba(target.colors) if target is not None else (0.85, 0.3, 0.2, 1.0)}


def render_result(result, path: str | Path, renderer: TrajectoryVideoRenderer | None = None, stride: int = 1,
                  on_frame: Callable[[int, int], object] | None = None) -> Path:
    """Write the raw | refined video of a :class:`~unihm_core.pipeline.GenerationResult` to
    ``path``: the perceived scene (target along the plan, every other instance, the table),
    penetrating links tinted and fingertip contacts marked; every ``stride``-th frame,
    ``on_frame(done, total)`` after each. The one video function of ``unihm generate --render``
    and the app. Raises :class:`~unihm_core.errors.RenderError` without a Vulkan device."""
    from unihm_core.export.result import target_mesh

    vr = renderer or TrajectoryVideoRenderer()
    frames = vr.frames(result.hand, result.raw.q, None if result.refined is None else result.refined.q,
                       target_mesh(result), result.plan.object_poses,
                       camera_extrinsics=result.scene.camera_to_world, stride=stride, on_frame=on_frame,
                       **_scene_kwargs(result))
    return vr.write_mp4(frames, path)


def render_replay(result, path: str | Path, renderer: TrajectoryVideoRenderer | None = None, stride: int = 1,
                  on_frame: Callable[[int, int], object] | None = None) -> Path | None:
    """Write the simulated replay of the execution check (``result.physics``: the refined row,
    else the raw one): hand and object as physics moved them, in the perceived scene. None without
    a physics row; :class:`~unihm_core.errors.RenderError` without a Vulkan device."""
    from unihm_core.export.result import target_mesh

    rep = result.physics.get("refined") or result.physics.get("raw")
    if rep is None:
        return None
    vr = renderer or TrajectoryVideoRenderer()
    frames = vr.frames(result.hand, rep.hand_q, None, target_mesh(result), rep.object_poses,
                       camera_extrinsics=result.scene.camera_to_world, stride=stride, names=("simulated", ""),
                       on_frame=on_frame, **_scene_kwargs(result))
    return vr.write_mp4(frames, path)
