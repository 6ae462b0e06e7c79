"""Offscreen rendering of hands (and optionally objects and a table) with SAPIEN.

One :class:`HandRenderer` owns one SAPIEN scene with lights, a table and a camera. Hands are
loaded from their generated URDFs on first use and kept (only the active one is shown;
the others are parked far away), so switching hands or frames costs no reloading. Hands
are posed kinematically: the root link is placed at the wrist pose of the state and every
joint, mimic joints included, is set from :meth:`HandModel.expand`.

Visuals only: the hands are drawn from a render copy of their URDF (:func:`visual_urdf`) whose
box visuals (the palm) are replaced by smooth rounded-box meshes authored here
(:func:`rounded_box`); phalanges stay the URDF's cylinder + sphere capsules. Links, joints and
collision shapes are the URDF's own, so the kinematics match the model, and the physics check
(:mod:`unihm_core.sim.execution`) never sees these meshes.

The first frame takes a few seconds on lavapipe (shader compilation); :meth:`warm_up`
renders one so later frames are fast (about 50 ms at 480x360 on two CPU cores).
"""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path

import numpy as np

from unihm_core.hands import load_hand, q_to_wrist_pose, urdf_path
from unihm_core.sim.vulkan import import_sapien

PARK = np.array([100.0, 100.0, -100.0])


def _pose_from_matrix(sapien, T: np.ndarray):
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    return sapien.Pose(T[:3, 3].astype(np.float32), np.array([w, x, y, z], dtype=np.float32))


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 pose of a SAPIEN camera (x forward, y left, z up) at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    fwd = target - eye
    fwd /= np.linalg.norm(fwd)
    left = np.cross(up, fwd)
    if np.linalg.norm(left) < 1e-6:
        left = np.cross((0.0, 1.0, 0.0), fwd)
    left /= np.linalg.norm(left)
    T = np.eye(4)
    T[:3, :3] = np.stack([fwd, left, np.cross(fwd, left)], axis=1)
    T[:3, 3] = eye
    return T


def opencv_to_sapien_camera(T_cam_opencv: np.ndarray) -> np.ndarray:
    """Convert an OpenCV camera-to-world pose (x right, y down, z forward) to SAPIEN's frame."""
    C = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], float)  # columns: SAPIEN axes in OpenCV coords
    T = np.array(T_cam_opencv, float).copy()
    T[:3, :3] = T[:3, :3] @ C
    return T


def rounded_box(size, radius: float | None = None, subdivisions: int = 4):
    """A box of extents ``size`` [m] with edges and corners rounded by ``radius`` (default 35 % of
    the smallest half-extent), as a smooth ``trimesh.Trimesh`` with analytic vertex normals."""
    import trimesh

    h = np.asarray(size, float) / 2
    r = float(0.35 * h.min() if radius is None else min(radius, h.min()))
    cube = trimesh.creation.box(extents=2 * h)
    v, f = np.asarray(cube.vertices), np.asarray(cube.faces)
    for _ in range(subdivisions):
        v, f = trimesh.remesh.subdivide(v, f)
    inner = np.clip(v, -(h - r), h - r)
    d = v - inner
    n = np.linalg.norm(d, axis=1, keepdims=True)
    # points on a flat face (d along one axis only) keep their face normal
    normals = np.where(n > 1e-12, d / np.maximum(n, 1e-12), 0.0)
    flat = n[:, 0] <= 1e-12
    if flat.any():
        a = np.argmax(np.abs(v[flat]) / h, axis=1)
        normals[flat] = 0.0
        normals[flat, a] = np.sign(v[flat, a])
    verts = inner + r * normals
    mesh = trimesh.Trimesh(verts, f, vertex_normals=normals, process=False)
    return mesh


_BOX_VISUAL = re.compile(r'<visual>(<origin[^>]*/>)?<geometry><box size="([^"]+)"/></geometry>(<material[^>]*/>)?</visual>')
_VISUAL_DIR: Path | None = None


def visual_urdf(hand: str) -> Path:
    """A render-only copy of ``hand``'s URDF whose box visuals are :func:`rounded_box` meshes (OBJ
    files next to it, in a per-process temporary folder); everything else is unchanged."""
    global _VISUAL_DIR
    if _VISUAL_DIR is None:
        _VISUAL_DIR = Path(tempfile.mkdtemp(prefix="unihm_visuals_"))
    out = _VISUAL_DIR / f"{hand}_visual.urdf"
    if out.exists():
        return out
    text = Path(urdf_path(hand)).read_text()
    count = [0]

    def mesh_visual(m: re.Match) -> str:
        size = [float(x) for x in m.group(2).split()]
        name = _VISUAL_DIR / f"{hand}_box_{count[0]}.obj"
        count[0] += 1
        name.write_text(rounded_box(size).export(file_type="obj", include_normals=True))
        return (f"<visual>{m.group(1) or ''}<geometry><mesh filename=\"{name}\"/></geometry>"
                f"{m.group(3) or ''}</visual>")

    out.write_text(_BOX_VISUAL.sub(mesh_visual, text))
    return out


class HandRenderer:
    """A reusable SAPIEN scene for rendering hands; not thread-safe (guard with ``lock``)."""

    def __init__(self, width: int = 480, height: int = 360, fovy: float = 0.9, table: bool = True):
        sapien = import_sapien()
        self._sapien = sapien
        self.lock = threading.Lock()
        self.width, self.height = int(width), int(height)
        self.scene = sapien.Scene()
        self.scene.set_ambient_light([0.45, 0.45, 0.45])
        self.scene.add_directional_light([0.3, 0.6, -1.0], [0.75, 0.75, 0.72], shadow=False)
        self.scene.add_point_light([0.5, -0.6, 1.2], [0.6, 0.6, 0.6])
        if table:
            b = self.scene.create_actor_builder()
            mat = sapien.render.RenderMaterial(base_color=[0.62, 0.55, 0.47, 1.0])
            b.add_box_visual(sapien.Pose([0, 0, -0.02]), half_size=[0.6, 0.5, 0.02], material=mat)
            self.table = b.build_kinematic(name="table")
        self.camera = self.scene.add_camera("main", self.width, self.height, fovy, 0.01, 10.0)
        self.set_camera(look_at((0.45, -0.35, 0.45), (0.0, 0.0, 0.12)))
        self._hands: dict[str, object] = {}
        self._active: str | None = None
        self._objects: dict[str, object] = {}

    # ------------------------------------------------------------------ scene content
    def set_camera(self, pose_sapien: np.ndarray, fovy: float | None = None) -> None:
        """Place the camera (SAPIEN convention, see :func:`look_at`)."""
        self.camera.entity.set_pose(_pose_from_matrix(self._sapien, pose_sapien))
        if fovy is not None:
            self.camera.set_fovy(fovy, compute_x=True)

    def set_intrinsics(self, fx: float, fy: float, cx: float, cy: float) -> None:
        """Use pinhole intrinsics [px] for the main camera (must match width x height)."""
        self.camera.set_focal_lengths(fx, fy)
        self.camera.set_principal_point(cx, cy)

    def _articulation(self, hand: str):
        if hand not in self._hands:
            loader = self.scene.create_urdf_loader()
            loader.fix_root_link = True
            art = loader.load(str(visual_urdf(hand)))
            art.set_root_pose(self._sapien.Pose(PARK))
            self._hands[hand] = art
        return self._hands[hand]

    def show_hand(self, hand: str, q: np.ndarray) -> None:
        """Show ``hand`` at state ``q`` ``(D,)`` (other hands are hidden)."""
        model = load_hand(hand)
        q = model.check(q)
        art = self._articulation(hand)
        if self._active not in (None, hand):
            self._hands[self._active].set_root_pose(self._sapien.Pose(PARK))
        self._active = hand
        art.set_root_pose(_pose_from_matrix(self._sapien, q_to_wrist_pose(q[:6])))
        full = model.expand(q)
        pin_names = list(model.model.names)
        qpos = np.array([full[model.model.joints[pin_names.index(j.name)].idx_q] for j in art.get_active_joints()])
        art.set_qpos(qpos.astype(np.float32))

    def hide_hands(self) -> None:
        for art in self._hands.values():
            art.set_root_pose(self._sapien.Pose(PARK))
        self._active = None

    def set_mesh(self, name: str, vertices: np.ndarray, faces: np.ndarray, pose: np.ndarray,
                 color=(0.8, 0.3, 0.2, 1.0)) -> None:
        """Add (once) or move a triangle mesh actor; ``pose`` is 4x4 world."""
        if name not in self._objects:
            import trimesh

            b = self.scene.create_actor_builder()
            mat = self._sapien.render.RenderMaterial(base_color=list(color))
            mesh = trimesh.Trimesh(vertices, faces, process=False)
            # SAPIEN builders take files; an in-memory mesh goes through a temporary .obj.
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".obj", delete=True) as f:
                mesh.export(f.name)
                b.add_visual_from_file(f.name, material=mat)
                self._objects[name] = b.build_kinematic(name=name)
        self._objects[name].set_pose(_pose_from_matrix(self._sapien, pose))

    def remove_mesh(self, name: str) -> None:
        actor = self._objects.pop(name, None)
        if actor is not None:
            self.scene.remove_entity(actor)

    # ------------------------------------------------------------------ images
    def render(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB image from the main camera."""
        self.scene.update_render()
        self.camera.take_picture()
        rgba = self.camera.get_picture("Color")
        return (np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8)

    def render_hand(self, hand: str, q: np.ndarray, camera_pose: np.ndarray | None = None) -> np.ndarray:
        """Convenience: show ``hand`` at ``q`` and render (optionally from ``camera_pose``)."""
        self.show_hand(hand, q)
        if camera_pose is not None:
            self.set_camera(camera_pose)
        return self.render()

    def warm_up(self) -> None:
        """Render one frame so shaders are compiled before the first real request."""
        self.render()
