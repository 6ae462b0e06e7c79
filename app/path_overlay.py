"""The planned motion drawn on the input colour image: the target's path (its centre per frame,
start ○, end ×), the hand's wrist path of the refined (else raw) trajectory, and the planner
network's own pick point. Presentation only: the points come from the result, projected with
the perceived camera (OpenCV convention, ``Scene.camera_to_world``)."""

from __future__ import annotations

import numpy as np

OBJECT_PATH = (255, 200, 0)  # the target's centre along the plan
HAND_PATH = (40, 120, 255)  # the hand root (wrist) along the trajectory
PICK = (0, 200, 80)  # the planner network's pick point


def project(scene, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 2)`` pixel coordinates [px] of world points ``(N, 3)`` and a ``(N,)`` mask of those
    in front of the camera."""
    pts = np.asarray(points_world, float).reshape(-1, 3)
    w2c = np.linalg.inv(np.asarray(scene.camera_to_world, float))
    cam = pts @ w2c[:3, :3].T + w2c[:3, 3]
    z = cam[:, 2]
    front = z > 1e-3
    zs = np.where(front, z, 1.0)
    intr = scene.intrinsics
    uv = np.stack([intr.fx * cam[:, 0] / zs + intr.cx, intr.fy * cam[:, 1] / zs + intr.cy], axis=1)
    return uv, front


def path_image(result) -> np.ndarray:
    """``(H, W, 3)`` uint8: the colour image with the planned paths drawn on it (module docstring)."""
    from PIL import Image, ImageDraw

    scene = result.scene
    img = Image.fromarray(np.asarray(scene.rgb, np.uint8)).convert("RGB")
    # the image is dimmed a little so the lines stand out on any background
    img = Image.blend(img, Image.new("RGB", img.size, (0, 0, 0)), 0.25)
    draw = ImageDraw.Draw(img)
    h = max(1, img.size[1])
    width = max(2, h // 160)
    half = np.array([0.0, 0.0, float(np.asarray(result.target.size)[2]) / 2, 1.0])  # bottom centre -> centre
    centres = (np.asarray(result.plan.object_poses) @ half)[:, :3]

    def polyline(points, colour):
        uv, front = project(scene, points)
        seg = [tuple(p) for p, ok in zip(uv.tolist(), front) if ok]
        if len(seg) >= 2:
            draw.line(seg, fill=colour, width=width, joint="curve")
        return uv, front

    uv, front = polyline(centres, OBJECT_PATH)
    r = 3 * width
    if front[0]:
        x, y = uv[0]
        draw.ellipse([x - r, y - r, x + r, y + r], outline=OBJECT_PATH, width=width)
    if front[-1]:
        x, y = uv[-1]
        draw.line([x - r, y - r, x + r, y + r], fill=OBJECT_PATH, width=width)
        draw.line([x - r, y + r, x + r, y - r], fill=OBJECT_PATH, width=width)
    polyline(np.asarray(result.best.q)[:, :3], HAND_PATH)
    puv, pfront = project(scene, np.asarray(result.plan.pick_xyz)[None])
    if pfront[0]:
        x, y = puv[0]
        draw.ellipse([x - r, y - r, x + r, y + r], outline=PICK, width=max(1, width - 1))
    return np.asarray(img)


LEGEND = ("**Planned motion on the colour image:** yellow = the target's centre along the plan "
          "(○ start, × end), blue = the hand's wrist, green circle = the planner network's own pick point.")
