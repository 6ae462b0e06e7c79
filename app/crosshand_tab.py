"""The cross-hand tab: the Generate tab's scene and instruction, every hand; a still per hand and a
row of success in simulation and metrics."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from app.handlers import user_errors
from app.rendering import get_renderer, render_unavailable_reason
from app.session import depth_path, parse_intrinsics, rgb_array
from app.warmup import WARMUP
from unihm_core import HAND_NAMES, UniHMError

CROSSHAND_TIME_LIMIT_S = 300.0  # for all eight hands together (about 1-2 s each on 2 cores)


def _still(result, frame: int) -> np.ndarray | None:
    """The refined (else raw) hand with the object at ``frame``, seen from the input camera."""
    from unihm_core.sim.render import opencv_to_sapien_camera

    r = get_renderer()
    if r is None:
        return None
    q = result.best.q[frame]
    cam = result.scene.camera_to_world
    from unihm_core.export import target_mesh

    mesh = target_mesh(result)
    with r.lock:
        r.remove_mesh("crosshand_object")
        r.set_mesh("crosshand_object", mesh.vertices, mesh.faces, result.plan.object_poses[frame],
                   color=(0.85, 0.3, 0.2, 1.0))
        r.set_camera(opencv_to_sapien_camera(cam))
        img = r.render_hand(result.hand, q)
        r.remove_mesh("crosshand_object")
    return img


CROSSHAND_HEADERS = ["hand", "achieves the task in simulation", "why not", "tokens",
                     "deepest fingertip penetration [mm]", "fingertip-surface distance in contact [mm]",
                     "fingertip jerk [m/s³]", "time [s]"]


def crosshand_row(hand: str, res) -> list:
    """One hand's row (:data:`CROSSHAND_HEADERS`): the execution check of its refined (else raw)
    motion and the fingertip metrics."""
    rep = res.physics.get("refined") or res.physics.get("raw")
    if rep is None:
        success, why = "not checked", next((w for w in res.warnings if w.startswith("physics check")), "—")
    else:
        success, why = ("yes", "—") if rep.success else ("no", rep.reason)
    m = res.metrics.get("refined", res.metrics["raw"])
    return [hand, success, why, len(res.tokens), m["penetration_max_mm"], m["contact_distance_mm"], m["jerk_m_s3"],
            round(res.timings_s["total"], 2)]


def inputs_summary(rgb, depth_file, intrinsics_text, camera_file, instruction, click=None) -> str:
    """What the Generate tab holds now, as the Cross-hand tab will use it."""
    missing = [name for name, v in (("a colour image", rgb), ("a depth map", depth_file),
                                    ("the camera intrinsics", (intrinsics_text or "").strip() or camera_file))
               if v is None or (isinstance(v, str) and not v)]
    what = f"instruction “{instruction.strip()}”" if instruction and instruction.strip() else (
        "the object clicked in the image" if click is not None else "no instruction yet")
    if missing:
        return f"The Generate tab still needs {', '.join(missing)} ({what})."
    return f"Uses the Generate tab's frame, camera and {what}."


def make_crosshand(pipeline_provider):
    """The Cross-hand handler: the Generate tab's inputs (frame, camera, instruction or click, seed),
    every hand in turn under one shared time limit."""

    def run(rgb, depth_file, intrinsics_text, camera_file, instruction, seed, click=None, progress=gr.Progress()):
        from unihm_core.pipeline import check_inputs

        WARMUP.wait(lambda frac, msg: progress(frac, desc=msg))
        try:
            rgb_arr = rgb_array(rgb)
            intr = parse_intrinsics(intrinsics_text, camera_file, rgb_arr.shape)
            click = None if click is None else tuple(click)
            # every input checked once, before any model runs (the same checks as Generate)
            frame, _, _, seed, _ = check_inputs(rgb_arr, depth_path(depth_file), intr, instruction or "",
                                                HAND_NAMES[0], seed, click=click)
            pipe = pipeline_provider()
            gallery, rows, skipped = [], [], []
            t0 = time.perf_counter()
            for k, hand in enumerate(HAND_NAMES):
                progress(k / len(HAND_NAMES), desc=hand)
                left = CROSSHAND_TIME_LIMIT_S - (time.perf_counter() - t0)
                if left <= 0:  # the time limit is shared by all hands: keep what is done
                    skipped.append(hand)
                    continue
                res = pipe.generate(frame, None, None, instruction or "", hand=hand, seed=seed, click=click,
                                    deadline_s=left)
                frame_k = int(0.6 * (len(res.best.q) - 1))
                img = _still(res, frame_k)
                if img is not None:
                    gallery.append((img, f"{hand} · frame {frame_k}"))
                rows.append(crosshand_row(hand, res))
            note = "" if gallery else f"Rendering unavailable: {render_unavailable_reason()}"
            if skipped:
                note += (f"\n\nTime limit of {CROSSHAND_TIME_LIMIT_S:g} s for all hands reached; not generated: "
                         f"{', '.join(skipped)}. Try again when the server is less busy.")
            return gallery, rows, note
        except UniHMError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return user_errors(run)


def create_crosshand_tab(pipeline_provider, inputs) -> None:
    """The Cross-hand tab, driven by the Generate tab's ``inputs`` (its components: ``rgb``,
    ``depth``, ``intrinsics``, ``camera_file``, ``instruction``, ``seed``, ``click``)."""
    fields = [inputs.rgb, inputs.depth, inputs.intrinsics, inputs.camera_file, inputs.instruction]
    with gr.Tab("Cross-hand"):
        gr.Markdown("The scene and instruction of the **Generate** tab for every hand: the shared codebook lets "
                    "one model drive all of them. Each hand is generated with the same seed and checked in "
                    "simulation.")
        with gr.Row():
            source = gr.Markdown(inputs_summary(None, None, "", None, ""), elem_id="crosshand-inputs")
            go = gr.Button("Generate for all hands", variant="primary", scale=0)
        note = gr.Markdown()
        table = gr.Dataframe(headers=CROSSHAND_HEADERS, interactive=False, elem_id="crosshand-table",
                             label="Per hand: does the refined motion achieve the task in simulation, and its "
                                   "fingertip metrics (lower is better)")
        gallery = gr.Gallery(label="Refined hands at 60 % of the motion", columns=4, height="auto",
                             elem_id="crosshand-gallery")
        for field in fields:
            field.change(inputs_summary, fields, source, api_name=False, show_progress="hidden", queue=False)
        go.click(make_crosshand(pipeline_provider), [*fields, inputs.seed, inputs.click],
                 [gallery, table, note], api_name="crosshand", concurrency_limit=1, concurrency_id="heavy")
