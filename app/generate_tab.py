"""The Generate tab: inputs, stages with progress, and result tabs (Perception, Plan, Hand,
Energy, Metrics, Export), plus re-refinement. Handlers only call the core and format."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from app import path_overlay, perception_view, plots, scene3d, selection, tokens_view
from app.handlers import user_errors
from app.progress import PIPELINE_STAGES, RunProgress, generate_stages, gradio_reporter
from app.uploads import checked_image, path_file
from app.warmup import WARMUP
from app.session import SESSION_TTL_S, new_run_dir, parse_intrinsics, remove_session, rgb_array, depth_path
from unihm_core import HAND_NAMES, UniHMError
from unihm_core.data.examples import EXAMPLES, example_dirs, load_example

GENERATE_TIME_LIMIT_S = 180.0  # [s] checked between stages (a running Gradio function cannot be cancelled)
RENDER_STRIDE = 2  # render every second frame into the video (15 fps playback of a 30 fps plan)

_video_lock = threading.Lock()
_video_renderer = None


def video_renderer():
    """The shared raw-vs-refined video renderer (SAPIEN), or None when no Vulkan device exists."""
    global _video_renderer
    with _video_lock:
        if _video_renderer is None:
            from unihm_core import RenderError
            from unihm_core.sim.video import TrajectoryVideoRenderer, VideoSpec

            try:
                _video_renderer = TrajectoryVideoRenderer(VideoSpec(width=480, height=360, fps=15))
            except RenderError:
                _video_renderer = False
        return _video_renderer or None


def render_video(result, out_dir: Path, on_frame=None) -> Path | None:
    """Write ``render.mp4`` (raw | refined, camera | side view) with the shared renderer through
    the core's one video function (:func:`unihm_core.sim.video.render_result`), or return None
    without Vulkan; ``on_frame(done, total)`` after each frame."""
    from unihm_core.sim.video import render_result

    vr = video_renderer()
    if vr is None:
        return None
    with _video_lock:
        return render_result(result, out_dir / "render.mp4", renderer=vr, stride=RENDER_STRIDE, on_frame=on_frame)


def export_files(result, out_dir: Path, add_files=None) -> list[str]:
    """Write the run's folder through the one export path (``unihm_core.export.write_result``:
    trajectory files, meta.json, report.json, meshes, scene.json, and what ``add_files`` writes
    into the staging folder, e.g. the videos); return the download list."""
    from unihm_core.export import write_result

    return [str(p) for p in write_result(result, out_dir, add_files=add_files)]


PHYSICS_HEADERS = ["trajectory", "achieves the task", "why not", "max object error [cm]", "max rotation error [deg]",
                   "link penetration [mm]", "holds under 10 m g pushes"]


def physics_rows(result) -> list[list]:
    """One row per executed trajectory (``result.physics``, see :mod:`unihm_core.sim.execution`)."""
    rows = []
    for name, rep in result.physics.items():
        d = rep.to_dict()
        dist = d["disturbance"]
        rows.append([name, "yes" if d["success"] else "no", d["reason"] or "—",
                     round(100 * d["max_position_error_m"], 1), d["max_rotation_error_deg"],
                     d["max_link_penetration_mm"], "—" if dist is None else ("yes" if dist["held"] else "no")])
    return rows


def render_physics_video(result, out_dir: Path, on_frame=None) -> Path | None:
    """Write ``physics.mp4``: the simulated replay of the refined (else raw) trajectory, hand and
    object as physics moved them (:func:`unihm_core.sim.video.render_replay`); None without
    Vulkan or without a physics row."""
    from unihm_core.sim.video import render_replay

    vr = video_renderer()
    if vr is None:
        return None
    with _video_lock:
        return render_replay(result, out_dir / "physics.mp4", renderer=vr, stride=RENDER_STRIDE, on_frame=on_frame)


METRIC_LABELS = {  # unihm_core.metrics.physical: fingertips against the target's surface samples
    "penetration_max_mm": "deepest fingertip penetration, worst frame [mm]",
    "penetration_mean_mm": "deepest fingertip penetration, mean over frames [mm]",
    "contact_distance_mm": "fingertip-surface distance in contact frames [mm]",
    "jerk_m_s3": "fingertip jerk, mean [m/s³] (smoothness: lower is smoother)",
}
METRICS_HEADERS = ["metric (lower is better)", "raw (tokens decoded)", "refined"]
TIMINGS_HEADERS = ["stage", "seconds"]


def metrics_rows(result) -> list[list]:
    rows = []
    for key, label in METRIC_LABELS.items():
        rows.append([label, result.metrics["raw"][key], result.metrics.get("refined", {}).get(key, "—")])
    return rows


#: The Generate / Re-refine outputs in order (``_outputs`` returns them so; the state is last and
#: ``files`` stays at index 13 for API clients).
OUTPUT_NAMES = ("overlay", "instances", "explanation", "plan_plot", "video", "sim_video", "scene_plot", "energy_plot",
                "joints_plot", "pen_plot", "metrics", "timings", "physics", "files", "tokens_text", "tokens_table",
                "tokens_plot", "path_image", "cloud_plot", "run_status", "state")


def _outputs(result, run_dir: Path, render: bool, render_note: str = "", run: RunProgress | None = None):
    from unihm_core.perception import instance_table, mask_overlay

    run = run or RunProgress(generate_stages(render))
    # the videos are rendered first (frame-by-frame progress) into a scratch folder beside the run
    # and moved into the export's staging folder, so the run folder still appears whole
    scratch = Path(tempfile.mkdtemp(prefix=".videos-", dir=run_dir.parent)) if render else None
    videos = {}
    try:
        if render:
            t = time.perf_counter()
            run.stage("rendering video")
            videos["render"] = render_video(result, scratch, on_frame=run.frame)
            run.stage("rendering the simulated replay")
            videos["physics"] = render_physics_video(result, scratch, on_frame=run.frame)
            result.timings_s["render"] = time.perf_counter() - t

        def add_videos(folder: Path) -> None:
            for v in videos.values():
                if v is not None:
                    shutil.move(str(v), str(folder / v.name))

        run.stage("3-D view and plots")
        if render_note:
            result.warnings.append(render_note)
        figures = (plots.plan_figure(result), scene3d.scene_figure(result), plots.energy_figure(result),
                   plots.joints_figure(result), plots.penetration_figure(result))
        run.stage("export")
        files = export_files(result, run_dir, add_videos)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    video, sim_video = (None if videos.get(k) is None else run_dir / videos[k].name for k in ("render", "physics"))
    overlay = mask_overlay(result.scene, target=result.target.index,
                           place=result.grounding.place.index if result.grounding.place is not None else None)
    table = [[r["index"], r["description"], r.get("score", "")] for r in
             instance_table(result.scene, result.grounding.scores)]
    explanation = f"**Task:** {result.plan.task} · **target:** #{result.target.index} {result.target.description}\n\n" \
                  f"{result.grounding.explanation}"
    if result.warnings:
        explanation += "\n\n**Warnings** (what to check or try):\n" + "".join(f"\n- {w}" for w in result.warnings)
    notes = list(getattr(result.plan, "notes", []))
    if notes:
        explanation += "\n\n**Notes** (nothing to do):\n" + "".join(f"\n- {n}" for n in notes)
    timings = [[k, round(v, 3)] for k, v in result.timings_s.items()]
    plan_fig, scene_fig, energy_fig, joints_fig, pen_fig = figures
    summary = run.finish()
    return (overlay, table, explanation, plan_fig, None if video is None else str(video),
            None if sim_video is None else str(sim_video), scene_fig, energy_fig, joints_fig, pen_fig,
            metrics_rows(result), timings, physics_rows(result), files, tokens_view.tokens_summary(result),
            tokens_view.token_rows(result), tokens_view.tokens_figure(result), path_overlay.path_image(result),
            perception_view.point_cloud_figure(result), summary, result)


def _outputs_in_new_run(result, request, render: bool, render_note: str = "", run: RunProgress | None = None):
    """Write the outputs into a fresh run folder of the session; on any failure the folder is
    removed again, so a session never holds a partial run."""
    run_dir = new_run_dir(request.session_hash if request else None)
    try:
        return _outputs(result, run_dir, render, render_note, run)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise


def make_generate(pipeline_provider):
    """The Generate handler bound to a pipeline provider (called once per request)."""

    def generate(rgb, depth_file, intrinsics_text, camera_file, instruction, hand, seed, temperature, top_p,
                 refine, render, lambda_c, w_gen, w_vel, w_acc, click=None, request: gr.Request = None,
                 progress=gr.Progress()):
        run = RunProgress(generate_stages(bool(render)), gradio_reporter(progress))
        if WARMUP.started and not WARMUP.finished:
            run.stage("waiting for the warm-up")
            WARMUP.wait(lambda frac, msg: progress(frac, desc=msg))
        try:
            rgb_arr = rgb_array(rgb)
            intr = parse_intrinsics(intrinsics_text, camera_file, rgb_arr.shape)
            from unihm_core.pipeline import GenerateOptions, check_inputs

            # every input is checked before the models are touched (no load, no queue for the lock)
            frame, _, hand, seed, _ = check_inputs(rgb_arr, depth_path(depth_file), intr, instruction or "", hand, seed)
            options = GenerateOptions(refine=bool(refine), temperature=float(temperature), top_p=float(top_p),
                                      refine_config=refine_config(lambda_c, w_gen, w_vel, w_acc))
            pipe = pipeline_provider()
            t0 = time.perf_counter()
            result = pipe.generate(frame, None, None, instruction or "", hand=hand, seed=seed,
                                   click=None if click is None else tuple(click),
                                   options=options, deadline_s=GENERATE_TIME_LIMIT_S,
                                   progress=run.pipeline_callback)
            render, note = bool(render), ""
            if render and time.perf_counter() - t0 > GENERATE_TIME_LIMIT_S:
                render, note = False, (f"the video was skipped: the time limit of {GENERATE_TIME_LIMIT_S:g} s was "
                                       "reached before rendering")
            return _outputs_in_new_run(result, request, render, note, run)
        except UniHMError as exc:
            selection.remember_refusal(request, exc)  # shown beside the image by the .failure event
            raise gr.Error(str(exc), print_exception=False) from None

    return user_errors(generate)


def refine_config(lambda_c: float, gen_scale: float, vel_scale: float, acc_scale: float):
    """The default refinement configuration with λ_c set and the prior weights scaled. The default
    energy is the whole-hand one, whose fingertip contact weight ``w_touch`` scales with λ_c / 1000
    (1000 is Algorithm 1's default λ_c)."""
    from dataclasses import replace

    from unihm_core.refine import RefineConfig

    base = RefineConfig()

    def scaled(w, s):
        if not np.isfinite(s) or s <= 0:
            raise UniHMError(f"weight scales must be positive numbers, got {s}")
        return tuple(float(x) * s for x in w) if isinstance(w, tuple) else float(w) * s

    if not (isinstance(lambda_c, (int, float)) and np.isfinite(lambda_c) and lambda_c > 0):
        raise UniHMError(f"contact strength λ_c must be a positive number, got {lambda_c}")
    return replace(base, lambda_c=float(lambda_c), w_touch=base.w_touch * float(lambda_c) / 1000.0,
                   w_gen=scaled(base.w_gen, gen_scale),
                   w_vel=scaled(base.w_vel, vel_scale), w_acc=scaled(base.w_acc, acc_scale))


def make_rerefine(pipeline_provider):
    def rerefine(result, lambda_c, w_gen, w_vel, w_acc, render, request: gr.Request, progress=gr.Progress()):
        if result is None:
            raise gr.Error("Generate first; re-refinement reuses the generated tokens.", print_exception=False)
        WARMUP.wait(lambda frac, msg: progress(frac, desc=msg))
        try:
            config = refine_config(lambda_c, w_gen, w_vel, w_acc)
            # Pipeline.rerefine refines, measures and runs the physics check in one call: one stage
            run = RunProgress(["refinement and physics check", *generate_stages(bool(render))[len(PIPELINE_STAGES):]],
                              gradio_reporter(progress), expected={"refinement and physics check": 5.0}, learn=False)
            run.stage("refinement and physics check")
            new = pipeline_provider().rerefine(result, config)
            return _outputs_in_new_run(new, request, bool(render), run=run)
        except UniHMError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return user_errors(rerefine)


def make_physics_check(pipeline_provider):
    def physics(result, request: gr.Request, progress=gr.Progress()):
        """Execute raw and refined trajectories in SAPIEN physics (the execution check); the rows,
        the simulated-replay video and the state are replaced together."""
        if result is None:
            raise gr.Error("Generate first; the physics check executes the generated trajectories.",
                           print_exception=False)
        WARMUP.wait(lambda frac, msg: progress(frac, desc=msg))
        try:
            from dataclasses import replace

            run = RunProgress(["physics", "rendering the simulated replay", "3-D view and plots"],
                              gradio_reporter(progress), learn=False)
            run.stage("physics")
            rows, warnings = pipeline_provider().physics_check(result.hand, result.raw.q, result.refined,
                                                               result.refine_result, result.target, result.plan,
                                                               raw=True)
            if not rows:
                raise gr.Error("; ".join(warnings) or "the physics check could not run", print_exception=False)
            new = replace(result, physics=rows, warnings=[w for w in result.warnings
                                                          if not w.startswith("physics check")] + warnings)
            run_dir = new_run_dir(request.session_hash if request else None)
            run.stage("rendering the simulated replay")
            video = render_physics_video(new, run_dir, on_frame=run.frame)
            run.stage("3-D view and plots")
            fig = scene3d.scene_figure(new)
            return physics_rows(new), None if video is None else str(video), fig, run.finish(), new
        except UniHMError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return user_errors(physics)


def example_rows() -> list[list]:
    rows = []
    for folder in example_dirs():
        ex = load_example(folder)
        rows.append([ex["paths"]["rgb"], ex["paths"]["depth"], json.dumps(ex["intrinsics"]), ex["instruction"]])
    return rows


def create_generate_tab(pipeline_provider) -> SimpleNamespace:
    """Add the Generate tab to the current Blocks; returns its input components (``rgb``, ``depth``,
    ``intrinsics``, ``camera_file``, ``instruction``, ``seed``, ``click``, ``hand``)."""
    with gr.Tab("Generate"):
        state = gr.State(None, time_to_live=SESSION_TTL_S)
        with gr.Row():
            with gr.Column(scale=1):
                rgb = checked_image(label="RGB image", height=240)
                depth = path_file(label="Depth (16-bit PNG in mm, or .npy in metres)", file_types=[".png", ".npy"])
                intrinsics = gr.Textbox(label="Intrinsics (JSON: fx, fy, cx, cy [px], optional depth_scale, "
                                              "extrinsics)", lines=2, max_length=4000)
                camera_file = path_file(label="…or camera.json", file_types=[".json"])
            with gr.Column(scale=1):
                instruction = gr.Textbox(label="Instruction", placeholder="put the red mug into the bowl",
                                         max_length=500)
                click = gr.State(None, time_to_live=SESSION_TTL_S)
                with gr.Row():
                    picked = gr.Markdown("Click on an object in the colour image (or the overlay) to select it.")
                    unpick = gr.Button("Clear selection", size="sm", scale=0)
                # typed or API values are read case-insensitively by check_inputs ("Allegro", " LEAP")
                hand = gr.Dropdown(list(HAND_NAMES), value="allegro", label="Hand", allow_custom_value=True)
                seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**31 - 1, label="Seed")
                with gr.Accordion("Advanced", open=False):
                    temperature = gr.Slider(0.0, 2.0, value=0.7, step=0.05, label="Sampling temperature")
                    top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="top-p")
                    refine = gr.Checkbox(value=True, label="Physics-guided refinement")
                    render = gr.Checkbox(value=True, label="Render video (SAPIEN)")
                    lambda_c = gr.Number(value=1000.0,
                                         label="Contact strength λ_c (Eq. 13; scales the whole-hand contact weight)")
                    w_gen = gr.Number(value=1.0, label="Scale of W_gen, generative prior (Eq. 14)")
                    w_vel = gr.Number(value=1.0, label="Scale of W_vel, velocity prior (Eq. 15)")
                    w_acc = gr.Number(value=1.0, label="Scale of W_acc, acceleration prior (Eq. 15)")
                go = gr.Button("Generate", variant="primary")
                # the progress of a run (every stage, frame by frame), then its stage times
                run_status = gr.Markdown("*A run's progress shows here: every stage, elapsed and remaining time.*",
                                         elem_id="run-status", min_height=70, container=True)
                again = gr.Button("Re-refine with these weights")
        if example_dirs():
            gr.Examples(example_rows(), [rgb, depth, intrinsics, instruction],
                        example_labels=[e.name.replace("_", " ") for e in EXAMPLES
                                        if any(d.name == e.name for d in example_dirs())],
                        label="Example scenes (synthetic, unseen objects)")
        with gr.Tabs():
            with gr.Tab("Perception"):
                with gr.Row():
                    overlay = gr.Image(label="Instances (target in red)", interactive=False)
                    with gr.Column():
                        explanation = gr.Markdown()
                        instances = gr.Dataframe(headers=["#", "description", "score"], label="Instances",
                                                 interactive=False)
                cloud_plot = gr.Plot(label="Perceived point cloud with the fitted table plane; each object's observed "
                                           "points and its completed hidden side", elem_id="point-cloud")
            with gr.Tab("Plan"):
                with gr.Row():
                    plan_plot = gr.Plot(label="Planned object path (top view)")
                    with gr.Column():
                        path_image = gr.Image(label="Planned motion drawn on the colour image", interactive=False,
                                              elem_id="plan-path-image")
                        gr.Markdown(path_overlay.LEGEND)
            with gr.Tab("Tokens"):
                tokens_text = gr.Markdown("*The hand tokens the VLM wrote show here after a run.*")
                tokens_plot = gr.Plot(label="Model probability per token slot: most likely codes (bars), sampled "
                                            "code (◆)")
                tokens_table = gr.Dataframe(headers=tokens_view.TOKEN_HEADERS, interactive=False,
                                            label="Hand tokens: the frames each decodes to, its codebook index, and "
                                                  "the codes the model found most likely",
                                            elem_id="tokens-table")
            with gr.Tab("Hand"):
                with gr.Row():
                    video = gr.Video(label="Raw | refined · camera view (top) and side view (bottom)", autoplay=True)
                    sim_video = gr.Video(label="Simulated replay: what physics did to hand and object", autoplay=True)
                scene_plot = gr.Plot(label="3-D scene: hand raw (orange), refined (blue), simulated (purple); contacts "
                                           "green, penetrating points magenta ×. Slider and ▶ Play move it.",
                                     elem_id="scene3d")
            with gr.Tab("Energy"):
                energy_plot = gr.Plot(label="Contact energy and energy terms")
                joints_plot = gr.Plot(label="Joint angles, raw vs refined, with limits")
                pen_plot = gr.Plot(label="Penetration per frame")
            with gr.Tab("Metrics"):
                metrics = gr.Dataframe(headers=METRICS_HEADERS, interactive=False,
                                       label="Physical plausibility of the motion: fingertips against the target")
                timings = gr.Dataframe(headers=TIMINGS_HEADERS, interactive=False, label="Time per stage [s]")
                physics = gr.Dataframe(headers=PHYSICS_HEADERS, interactive=False,
                                       label="Execution check in SAPIEN physics (PD-driven hand, squeeze at "
                                             "contacts): carried objects stay within 3 cm / 20° of the plan, "
                                             "pushed ones end within 3 cm, drawers and lids reach 80 % of the travel")
                physics_btn = gr.Button("Physics check of raw and refined")
            with gr.Tab("Export"):
                files = gr.File(label="trajectory.json / .npz / .csv, meta.json, report.json, target.obj, objects/*.obj, "
                                      "scene.json, render.mp4 (docs/EXPORT.md: formats and a replay snippet)",
                                file_count="multiple", interactive=False)
        components = dict(overlay=overlay, instances=instances, explanation=explanation, plan_plot=plan_plot,
                          video=video, sim_video=sim_video, scene_plot=scene_plot, energy_plot=energy_plot,
                          joints_plot=joints_plot, pen_plot=pen_plot, metrics=metrics, timings=timings,
                          physics=physics, files=files, tokens_text=tokens_text, tokens_table=tokens_table,
                          tokens_plot=tokens_plot, path_image=path_image, cloud_plot=cloud_plot,
                          run_status=run_status, state=state)
        outputs = [components[name] for name in OUTPUT_NAMES]  # the state last
        go.click(make_generate(pipeline_provider),
                 [rgb, depth, intrinsics, camera_file, instruction, hand, seed, temperature, top_p, refine, render,
                  lambda_c, w_gen, w_vel, w_acc, click],
                 outputs, api_name="generate", concurrency_limit=1, concurrency_id="heavy", show_progress_on=[run_status]
                 ).failure(selection.show_refusal, None, [overlay, instances, explanation], api_name=False)
        for image in (rgb, overlay):  # a click selects the object under it (Point-SAM's role, Eq. 8)
            image.select(selection.select_point, None, [click, picked], api_name=False)
        unpick.click(selection.clear_selection, None, [click, picked], api_name=False)
        rgb.upload(selection.clear_selection, None, [click, picked], api_name=False)
        again.click(make_rerefine(pipeline_provider), [state, lambda_c, w_gen, w_vel, w_acc, render], outputs,
                    api_name="rerefine", concurrency_limit=1, concurrency_id="heavy", show_progress_on=[run_status])
        physics_btn.click(make_physics_check(pipeline_provider), [state],
                          [physics, sim_video, scene_plot, run_status, state],
                          api_name="physics_check", concurrency_limit=1, concurrency_id="heavy",
                          show_progress_on=[physics, run_status])
        # the Cross-hand tab runs every hand on these same inputs
        return SimpleNamespace(rgb=rgb, depth=depth, intrinsics=intrinsics, camera_file=camera_file,
                               instruction=instruction, seed=seed, click=click, hand=hand)


def cleanup_session(request: gr.Request) -> None:
    """Remove a closed session's output folder."""
    remove_session(request.session_hash if request else None)
