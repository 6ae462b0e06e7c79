"""The example scenes bundled with the app (``assets/examples``), made by the data engine.

Each example is a rendered synthetic scene (colour PNG, uint16 millimetre depth PNG with
the sensor-noise model, ``camera.json``, ground-truth masks and ``scene.json``) plus an
``example.json`` with the instruction the app pre-fills and the task family it shows.
There is one example per task family. Scenes are drawn from the *unseen* split where the
family allows, so the demo shows held-out objects. ``unihm data examples`` regenerates
them deterministically; a candidate scene is kept only when perception finds the target
as the instruction's referent (checked by :func:`check_example`), so every bundled example
works end to end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unihm_core.errors import InputError
from unihm_core.paths import EXAMPLES_DIR


@dataclass(frozen=True)
class ExampleSpec:
    """One bundled example: folder name, task family, target type, receptacle, instruction."""

    name: str
    task: str
    target_type: str
    receptacle: str | bool
    instruction: str
    split: str = "unseen"


EXAMPLES: tuple[ExampleSpec, ...] = (
    ExampleSpec("lift_soup_can", "grab", "soup_can", False, "pick up the {colour} can"),
    ExampleSpec("mug_into_bowl", "pick_place", "mug", "bowl", "put the {colour} mug into the bowl"),
    ExampleSpec("push_box", "push", "sugar_box", False, "push the {colour} box away from me"),
    ExampleSpec("open_drawer", "open", "drawer", False, "open the drawer"),
    ExampleSpec("pour_bottle", "pour", "water_bottle", False, "pour out the {colour} bottle"),
    ExampleSpec("handover_apple", "handover", "apple", False, "hand me the {colour} apple"),
    ExampleSpec("rotate_block", "rotate", "wooden_block", False, "rotate the {colour} block"),
)


def example_dirs(root: Path = EXAMPLES_DIR) -> list[Path]:
    """Bundled example folders, in :data:`EXAMPLES` order."""
    return [root / e.name for e in EXAMPLES if (root / e.name / "example.json").exists()]


def load_example(folder: str | Path) -> dict:
    """``{"rgb": (H,W,3) uint8, "depth": (H,W) uint16 mm, "intrinsics": dict, "instruction": str, ...}``."""
    from PIL import Image

    f = Path(folder)
    meta = json.loads((f / "example.json").read_text())
    return {
        "name": f.name,
        "rgb": np.asarray(Image.open(f / "color.png").convert("RGB")),
        "depth": np.asarray(Image.open(f / "depth.png")),
        "intrinsics": json.loads((f / "camera.json").read_text()),
        "instruction": meta["instruction"],
        "task": meta["task"],
        "paths": {k: str(f / n) for k, n in (("rgb", "color.png"), ("depth", "depth.png"), ("camera", "camera.json"))},
    }


def check_example(folder: Path) -> str | None:
    """None when perception + grounding pick the scene's target; else the reason."""
    from unihm_core.perception import ground, perceive

    ex = load_example(folder)
    scene_meta = json.loads((folder / "scene.json").read_text())
    scene = perceive(ex["rgb"], ex["depth"], ex["intrinsics"], seed=0)
    try:
        g = ground(scene, ex["instruction"])
    except InputError as exc:
        return f"grounding failed: {exc}"
    target_world = np.array(scene_meta["objects"][0]["position_m"])
    inst = scene.instances[g.target]
    # the world frame of perception is estimated; compare in the camera frame instead
    cam = np.array(scene_meta["camera"]["extrinsics"])
    target_cam = np.linalg.inv(cam)[:3, :3] @ target_world + np.linalg.inv(cam)[:3, 3]
    dist_xy = np.linalg.norm((np.asarray(inst.centroid_camera) - target_cam)[[0, 2]])
    if dist_xy > 0.06:
        return f"grounded instance {g.target} is {dist_xy:.3f} m from the true target"
    return None


def write_examples(root: Path = EXAMPLES_DIR, seed: int = 0, tries: int = 40, progress=print) -> list[Path]:
    """(Re)generate every example; returns the folders written."""
    from unihm_core.data.example_scene import write_example_scene
    from unihm_core.data.rgbd_render import RgbdRenderer
    from unihm_core.data.scenes import sample_scene

    renderer = RgbdRenderer()
    written = []
    for k, spec in enumerate(EXAMPLES):
        folder = root / spec.name
        for attempt in range(tries):
            rng = np.random.default_rng([seed, k, attempt])
            split = spec.split
            try:
                scene = sample_scene(rng, target_type=spec.target_type, split=split,
                                     receptacle_type=spec.receptacle, n_distractors=int(rng.integers(1, 3)))
            except InputError:
                scene = sample_scene(rng, target_type=spec.target_type, split="seen",
                                     receptacle_type=spec.receptacle, n_distractors=int(rng.integers(1, 3)))
            if spec.task == "open" and scene.target.joint_value not in (None, scene.target.instance.joint.lower):
                continue
            colour = scene.target.instance.colour_name
            instruction = spec.instruction.format(colour=colour)
            write_example_scene(scene, folder, renderer=renderer, noise_seed=int(rng.integers(2**31)))
            (folder / "example.json").write_text(json.dumps(
                {"name": spec.name, "task": spec.task, "instruction": instruction, "split": scene.split,
                 "seed": [seed, k, attempt]}, indent=1))
            reason = check_example(folder)
            if reason is None:
                progress(f"{spec.name}: ok (attempt {attempt}) — {instruction!r}")
                written.append(folder)
                break
            progress(f"{spec.name}: attempt {attempt} rejected ({reason})")
        else:
            raise InputError(f"could not make example {spec.name} work in {tries} tries")
    renderer.close()
    return written
