"""The cross-hand tab: one scene and instruction, every hand; a still per hand and a metrics row."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from app.generate_tab import example_rows
from app.handlers import user_errors
from app.uploads import checked_image, path_file
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


def make_crosshand(pipeline_provider):
    def run(rgb, depth_file, intrinsics_text, instruction, seed, progress=gr.Progress()):
        from unihm_core.pipeline import check_seed

        WARMUP.wait(lambda frac, msg: progress(frac, desc=msg))
        try:
            pipe = pipeline_provider()
            rgb_arr = rgb_array(rgb)
            intr = parse_intrinsics(intrinsics_text, None, rgb_arr.shape)
            gallery, rows, skipped = [], [], []
            t0 = time.perf_counter()
            for k, hand in enumerate(HAND_NAMES):
                progress(k / len(HAND_NAMES), desc=hand)
                left = CROSSHAND_TIME_LIMIT_S - (time.perf_counter() - t0)
                if left <= 0:  # the time limit is shared by all hands: keep what is done
                    skipped.append(hand)
                    continue
                res = pipe.generate(rgb_arr, depth_path(depth_file), intr, instruction or "", hand=hand,
                                    seed=check_seed(seed), deadline_s=left)
                frame = int(0.6 * (len(res.best.q) - 1))
                img = _still(res, frame)
                if img is not None:
                    gallery.append((img, f"{hand} · frame {frame}"))
                m = res.metrics.get("refined", res.metrics["raw"])
                rows.append([hand, len(res.tokens), m["penetration_max_mm"], m["contact_distance_mm"],
                             m["jerk_m_s3"], round(res.timings_s["total"], 2)])
            note = "" if gallery else f"Rendering unavailable: {render_unavailable_reason()}"
            if skipped:
                note += (f"\n\nTime limit of {CROSSHAND_TIME_LIMIT_S:g} s for all hands reached; not generated: "
                         f"{', '.join(skipped)}. Try again when the server is less busy.")
            return gallery, rows, note
        except UniHMError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return user_errors(run)


def create_crosshand_tab(pipeline_provider) -> None:
    with gr.Tab("Cross-hand"):
        gr.Markdown("One scene and instruction for every hand: the shared codebook lets one model drive all "
                    "of them. Each hand is generated with the same seed.")
        with gr.Row():
            rgb = checked_image(label="RGB image", height=200)
            depth = path_file(label="Depth (16-bit PNG mm / .npy m)", file_types=[".png", ".npy"])
            with gr.Column():
                intrinsics = gr.Textbox(label="Intrinsics JSON", lines=2, max_length=4000)
                instruction = gr.Textbox(label="Instruction", max_length=500)
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
                go = gr.Button("Generate for all hands", variant="primary")
        rows = example_rows()
        if rows:
            gr.Examples(rows, [rgb, depth, intrinsics, instruction], label="Example scenes")
        note = gr.Markdown()
        gallery = gr.Gallery(label="Refined hands at 60 % of the motion", columns=4, height=420,
                             elem_id="crosshand-gallery")
        table = gr.Dataframe(headers=["hand", "tokens", "penetration max [mm]", "contact distance [mm]",
                                      "jerk [m/s³]", "time [s]"], interactive=False,
                             label="Per hand: tokens generated and the refined motion's fingertip metrics")
        go.click(make_crosshand(pipeline_provider), [rgb, depth, intrinsics, instruction, seed],
                 [gallery, table, note], api_name="crosshand", concurrency_limit=1, concurrency_id="heavy")
