"""Command line: ``unihm`` / ``python -m unihm_core``.

Every subcommand prints results to stdout. A :class:`~unihm_core.errors.UniHMError` ends the
program with one line on stderr (what was wrong, what to do) and exit status 2; no traceback.
Subcommands are added here as the parts they drive land; ``unihm --help`` lists them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence

from unihm_core.errors import UniHMError
from unihm_core.paths import REPO_ROOT


def cmd_hands(args: argparse.Namespace) -> int:
    """List every hand with DoF, joint names and fingertip links."""
    from unihm_core.hands import available_hands, load_hand

    rows = []
    for name in available_hands():
        hand = load_hand(name)
        rows.append({
            "hand": name, "display_name": hand.spec.display_name, "dof": hand.dof,
            "finger_dof": hand.finger_dof, "joint_names": list(hand.joint_names),
            "fingertip_links": list(hand.fingertip_links),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['hand']:<14} {r['display_name']:<28} DoF {r['dof']:>2} (6 wrist + {r['finger_dof']} finger)")
        print(f"    fingertips: {', '.join(r['fingertip_links'])}")
        print(f"    joints:     {', '.join(r['joint_names'][6:])}")
    return 0


# Performance and reliability benchmarks (no dataset needed), in this order.
BENCH_SCRIPTS = ("bench_hands", "bench_data_build", "bench_refine", "perception_stages", "bad_inputs", "bench_app",
                 "load_test")
# Evaluations on the default dataset (data_cache/default; `unihm train all` builds it).
EVAL_SCRIPTS = ("dataset_card", "eval_tokenizer", "eval_planner", "eval_grounding", "eval_tables")


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark scripts in bench/ (each writes its section of docs/RESULTS.md)."""
    names = BENCH_SCRIPTS + (EVAL_SCRIPTS if args.eval else ())
    scripts = [REPO_ROOT / "bench" / f"{n}.py" for n in names if (REPO_ROOT / "bench" / f"{n}.py").exists()]
    if args.only:
        scripts = [s for s in scripts if any(o in s.stem for o in args.only)]
    if not scripts:
        raise UniHMError(f"no benchmark script matches {args.only}; choose from {', '.join(names)}")
    status = 0
    for s in scripts:
        print(f"== {s.name}", flush=True)
        status |= subprocess.call([sys.executable, str(s)], cwd=REPO_ROOT)
    return status


def _hand_list(text: str | None) -> tuple[str, ...]:
    """Comma-separated hand names as registered names (case, spaces and hyphens do not matter:
    "Shadow, LEAP" -> ("shadow", "leap")); unknown names are refused with the list."""
    from unihm_core.hands import canonical_hands

    return canonical_hands(text or "")


def cmd_data_build(args: argparse.Namespace) -> int:
    """Build (or resume) a synthetic dataset."""
    from unihm_core.data.dataset import DatasetConfig, build_dataset

    hands = _hand_list(args.hands) if args.hands else DatasetConfig.hands
    cfg = DatasetConfig(n=args.n, seed=args.seed, hands=hands, render=not args.no_render, refine=args.refine,
                        shard_size=args.shard_size, workers=args.workers, sim_check=args.sim_check,
                        sim_reject=args.sim_reject)
    card = build_dataset(args.out, cfg, executor=args.executor, address=args.address or None)
    print(json.dumps({k: card[k] for k in ("sequences", "per_split", "per_task", "hands_valid",
                                           "human_reject_rate", "build_seconds_this_run")}, indent=2))
    return 0


def cmd_data_show(args: argparse.Namespace) -> int:
    """Write an HTML page showing one sequence."""
    from unihm_core.data.browser import write_sequence_page

    out = write_sequence_page(args.data, args.seq, args.out)
    print(out)
    return 0


def cmd_data_examples(args: argparse.Namespace) -> int:
    """Regenerate the bundled example scenes (assets/examples)."""
    from unihm_core.data.examples import write_examples

    for folder in write_examples(seed=args.seed):
        print(folder)
    return 0


def cmd_train_vlm(args: argparse.Namespace) -> int:
    """Train the DexHand VLM (small Qwen3 from scratch, or fine-tune --base-model)."""
    from unihm_core.vlm.config import TrainConfig
    from unihm_core.vlm.train import train_vlm

    lr = args.lr if args.lr is not None else (1e-4 if args.base_model else TrainConfig.lr)
    tc = TrainConfig(seed=args.seed, lr=lr, threads=args.threads, **({"epochs": args.epochs} if args.epochs else {}))
    tokenizer = None
    if args.tokenizer:
        from unihm_core.tokenizer import Tokenizer

        tokenizer = Tokenizer.load(args.tokenizer)
    m = train_vlm(args.data, args.out, train_config=tc, base_model=args.base_model, tokenizer=tokenizer)
    print(json.dumps({"out": str(args.out), "heldout_unseen": m["heldout_unseen"], "parameters": m["parameters"],
                      "train_seconds": m["train_seconds"]}, indent=2))
    return 0


def cmd_train_planner(args: argparse.Namespace) -> int:
    """Train the CLIPort-style planner on rendered dataset folders (seen split; unseen = held out)."""
    from unihm_core.planning.train import TrainConfig, train_planner

    tc = TrainConfig(seed=args.seed, **({"steps": args.steps} if args.steps else {}),
                     **({"max_seconds": args.max_seconds} if args.max_seconds else {}),
                     **({"threads": args.threads} if args.threads else {}))
    m = train_planner(args.data, args.out, tc)
    print(json.dumps({"out": str(args.out), "heldout": m["heldout"], "train": m["train"]}, indent=2))
    return 0


def cmd_train_tokenizer(args: argparse.Namespace) -> int:
    """Train the multi-hand tokenizer, or add one hand to a trained one (--add-hand)."""
    from pathlib import Path

    from unihm_core.tokenizer.model import TokenizerConfig
    from unihm_core.tokenizer.train import TrainConfig, add_hand_and_save, train_and_save

    log = (lambda r: print(json.dumps(r), file=sys.stderr, flush=True)) if args.verbose else None
    out = Path(args.out)
    if args.add_hand:
        tcfg = TrainConfig(seed=args.seed, threads=args.threads).scaled(args.schedule_scale)
        m = add_hand_and_save(args.data, out, _hand_list(args.add_hand)[0] if args.add_hand.strip() else args.add_hand,
                              tcfg, log_fn=log)
        print(json.dumps(m, indent=2))
        return 0
    cfg = TokenizerConfig(arch=args.arch, **({"hidden": args.hidden} if args.hidden else
                                             ({"hidden": 64} if args.arch == "conv" else {})))
    leave = _hand_list(args.leave_out)
    tcfg = TrainConfig(seed=args.seed, leave_out=leave, threads=args.threads).scaled(args.schedule_scale)
    m = train_and_save(args.data, out, cfg, tcfg, log_fn=log)
    print(json.dumps({"out": str(out), "unseen_overall": m["unseen"]["overall"], "usage_unseen": m["usage_unseen"]["all"],
                      "train_seconds": m["train_seconds"]}, indent=2))
    return 0


def check_generate_args(args: argparse.Namespace):
    """Every check of ``unihm generate`` that needs no model, run before :meth:`Pipeline.load`:
    the output folder, the hand, seed and options, the instruction, the images and the camera
    file (see :func:`unihm_core.pipeline.check_inputs`). Returns ``(frame, instruction, hand,
    seed, options, out, warnings)``; raises :class:`UniHMError` with the reason."""
    import math

    from unihm_core.export import check_out_dir
    from unihm_core.pipeline import GenerateOptions, check_inputs

    out = check_out_dir(args.out, args.overwrite)
    if not math.isfinite(args.temperature):
        raise UniHMError(f"--temperature must be a finite number in [0, 5], got {args.temperature}")
    options = GenerateOptions(refine=not args.no_refine, temperature=args.temperature)
    for flag in ("rgb", "depth"):
        _check_input_path(flag, getattr(args, flag))
    intrinsics = args.intrinsics
    if isinstance(intrinsics, str) and intrinsics.lstrip().startswith(("{", "[")):
        from unihm_core.perception.camera_files import parse_camera_text

        intrinsics = parse_camera_text(intrinsics, "--intrinsics")
    else:
        _check_input_path("intrinsics", intrinsics)
    frame, instruction, hand, seed, notes = check_inputs(args.rgb, args.depth, intrinsics, args.instruction,
                                                         args.hand, args.seed)
    notes = list(frame.warnings) + notes
    return frame, instruction, hand, seed, options, out, notes


def _check_input_path(flag: str, value: str) -> None:
    """A clean message for input paths the OS cannot even look up (NUL, unencodable, too long)."""
    import os

    if not value or not value.strip():
        raise UniHMError(f"--{flag} is empty; give a file")
    if "\x00" in value:
        raise UniHMError(f"--{flag} contains a NUL character; give a plain file name")
    try:
        os.stat(value)
    except UnicodeEncodeError:
        raise UniHMError(f"--{flag}: the file name holds characters that cannot be encoded (a lone "
                         "surrogate); give a plain file name") from None
    except OSError as exc:
        name = os.path.basename(value)[:60]
        if exc.errno == 36:  # ENAMETOOLONG
            raise UniHMError(f"--{flag}: the file name {name}... is too long for the file system") from None
        if isinstance(exc, FileNotFoundError):
            raise UniHMError(f"--{flag}: file {name} does not exist") from None
        if isinstance(exc, NotADirectoryError):
            raise UniHMError(f"--{flag}: {name} lies under something that is not a folder") from None
        raise UniHMError(f"--{flag}: cannot read {name} ({exc.strerror})") from None
    except ValueError:
        raise UniHMError(f"--{flag}: not a usable file name") from None


def cmd_generate(args: argparse.Namespace) -> int:
    """RGB-D + instruction -> one result folder (see docs/EXPORT.md: trajectory.json/.npz/.csv,
    meta.json, report.json, target.obj, objects/, scene.json, render.mp4 with --render).

    The output folder is checked before the models load and written atomically
    (:mod:`unihm_core.export.result`): a non-empty ``--out`` is refused unless ``--overwrite``."""
    from unihm_core.export import write_result
    from unihm_core.pipeline import GenerateOptions, Pipeline

    frame, instruction, hand, seed, options, out, notes = check_generate_args(args)  # before the models load
    for note in notes:
        print(f"unihm generate: warning: {note}", file=sys.stderr)
    pipe = Pipeline.load()
    res = pipe.generate(frame, None, None, instruction, hand=hand, seed=seed, options=options)
    notes = []

    def add_video(folder) -> None:
        if not args.render:
            return
        import time

        from unihm_core.errors import RenderError
        from unihm_core.sim.video import render_result

        t = time.perf_counter()
        try:
            render_result(res, folder / "render.mp4")
        except RenderError as exc:  # the trajectory files are still worth keeping
            notes.append(f"render.mp4 was not written: {exc}")
            res.warnings.append(notes[-1])
        res.timings_s["render"] = time.perf_counter() - t

    files = write_result(res, out, overwrite=args.overwrite, add_files=add_video)
    for note in notes:
        print(f"unihm generate: warning: {note}", file=sys.stderr)
    print(json.dumps({"out": str(out), "files": [str(p.relative_to(out)) for p in files], "task": res.plan.task,
                      "target": res.target.description,
                      "physics": {k: {"success": v.success, "reason": v.reason or "achieves the task in simulation"}
                                  for k, v in res.physics.items()},
                      "timings_s": {k: round(v, 3) for k, v in res.timings_s.items()}},
                     indent=2))
    return 0


def cmd_train_all(args: argparse.Namespace) -> int:
    """Everything `make train` does: dataset -> tokenizer -> planner -> motion encoder -> VLM -> category classifier."""
    from pathlib import Path

    data = Path(args.data)
    steps = []
    if not (data / "manifest.jsonl").exists():
        # --sim-reject: a (sequence, hand) pair whose motion does not keep the object on its plan
        # in SAPIEN is not training data for that hand (issue 16's `sim` rule; the hands' own
        # grasps pass 55-85 % of the pairs per hand, the Panda's 25-35 %)
        steps.append(["data", "build", "--out", str(data), "--n", str(args.n), "--seed", str(args.seed), "--refine",
                      "--sim-reject"])
    # The schedules of the shipped checkpoints (2,000-sequence default dataset, 2 CPU cores): the
    # tokenizer's full schedule on one thread, the planner for a fixed number of steps (no
    # wall-time cap, so the run is deterministic), the VLM for 10 epochs.
    seed = str(args.seed)
    steps += [["train", "tokenizer", "--data", str(data), "--out", "checkpoints/tokenizer", "--seed", seed,
               "--threads", "1"],
              ["train", "planner", "--data", str(data), "--out", "checkpoints/planner", "--seed", seed,
               "--steps", "1500", "--max-seconds", "100000", "--threads", "1"],
              ["train", "motion-encoder", "--data", str(data), "--out", "checkpoints/motion_encoder", "--seed", seed],
              ["train", "vlm", "--data", str(data), "--out", "checkpoints/vlm", "--seed", seed, "--epochs", "10"],
              ["train", "classifier", "--out", "checkpoints/classifier", "--seed", seed]]
    for step in steps:
        print("== unihm " + " ".join(step), flush=True)
        status = main(step)
        if status:
            return status
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    """Render the classifier's training instances (when missing), then train the classifier."""
    from pathlib import Path

    from unihm_core.perception.classifier_train import train_classifier

    if args.scenes < 2 or args.shards < 1:
        raise UniHMError(f"--scenes {args.scenes} / --shards {args.shards}: need at least 2 scenes and 1 shard")
    data = Path(args.data)
    per = -(-args.scenes // args.shards)
    shards = [data / f"shard{k}.npz" for k in range(args.shards)]
    todo = [(k, s) for k, s in enumerate(shards) if not s.exists()]
    if todo:
        # one process per missing shard (each renders with its own SAPIEN scene), --jobs at a time
        for start in range(0, len(todo), max(1, args.jobs)):
            procs = []
            for k, s in todo[start:start + max(1, args.jobs)]:
                lo, hi = k * per, min((k + 1) * per, args.scenes)
                code = ("from unihm_core.perception.classifier_train import build_shard; "
                        f"build_shard({str(s)!r}, range({lo}, {hi}), {args.seed})")
                print(f"== rendering {s} (scenes {lo}-{hi - 1})", flush=True)
                procs.append((subprocess.Popen([sys.executable, "-c", code]), s))
            for p, s in procs:
                if p.wait() != 0:
                    raise UniHMError(f"rendering {s} failed (exit {p.returncode}); see the messages above")
    m = train_classifier(shards, Path(args.out), seed=args.seed, epochs=args.epochs, threads=args.threads,
                         max_seconds=args.max_seconds)
    print(json.dumps({"out": str(args.out), "heldout": {k: m["heldout"][k] for k in ("n", "top1", "top3")},
                      "train": m["train"], "train_seconds": m["train_seconds"]}, indent=2))
    return 0


def cmd_train_motion_encoder(args: argparse.Namespace) -> int:
    """Train the motion encoder of FID / Diversity (App. F) on the seen split."""
    from unihm_core.metrics.motion_encoder import MotionEncoderConfig, train_motion_encoder

    cfg = MotionEncoderConfig(seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    m = train_motion_encoder(args.data, args.out, cfg, threads=args.threads)
    print(json.dumps({"out": str(args.out), "heldout_unseen": m["heldout_unseen"], "train": m["train"],
                      "total_seconds": m["total_seconds"]}, indent=2))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate UniHM, an ablation or the retrieval baseline on a dataset split (App. F metrics)."""
    from unihm_core.eval import ABLATIONS, EvalConfig, evaluate, format_table, save_result

    names = [a.strip() for a in args.ablation.split(",") if a.strip()]
    bad = [a for a in names if a not in ABLATIONS]
    if bad or not names:
        raise UniHMError(f"--ablation {args.ablation!r}: choose from {', '.join(ABLATIONS)} (comma-separated)")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise UniHMError(f"--seeds {args.seeds!r}: give comma-separated integers, e.g. 0,1,2") from None
    hands = _hand_list(args.hands) or None
    cfg = EvalConfig(split=args.split, methods=tuple(ABLATIONS[a] for a in names), n=args.n, seeds=seeds,
                     hands=hands, vlm_path=args.vlm, nomask_path=args.vlm_nomask)
    result = evaluate(args.data, cfg, progress=lambda s: print(s, file=sys.stderr, flush=True))
    save_result(result, args.out)
    print(format_table(result))
    print(f"metrics written to {args.out}")
    return 0


def cmd_hands_add(args: argparse.Namespace) -> int:
    """Register a user hand from a URDF and its fingertip links."""
    from unihm_core.hands.import_urdf import register_user_hand

    links = [x.strip() for x in args.fingertips.split(",") if x.strip()]
    path = register_user_hand(args.urdf, links, name=args.name, palm_link=args.palm, overwrite=args.overwrite)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unihm", description="UniHM: language-guided dexterous hand manipulation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hands", help="list hands with DoF, joint names and fingertip links")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_hands)
    p = p.add_subparsers(dest="hands_command").add_parser("add", help="register a user hand from a URDF")
    p.add_argument("--urdf", required=True, help="the hand's URDF file (kinematic tree is read)")
    p.add_argument("--fingertips", required=True, help="comma-separated fingertip link names")
    p.add_argument("--name", default=None, help="registry name (default: the URDF robot name)")
    p.add_argument("--palm", default=None, help="palm link (default: common ancestor of the fingertips)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_hands_add)
    p = sub.add_parser("generate", help="RGB-D frame + instruction -> hand trajectory files")
    p.add_argument("--rgb", required=True, help="colour image (PNG/JPEG)")
    p.add_argument("--depth", required=True, help="depth: uint16 PNG in millimetres or float .npy in metres")
    p.add_argument("--intrinsics", required=True,
                   help="camera file (camera.json with fx, fy, cx, cy [px]; a 3x3 K, OpenCV YAML, ROS camera_info, "
                        "Open3D or RealSense intrinsics) or the same JSON inline")
    p.add_argument("--instruction", required=True)
    p.add_argument("--hand", default="shadow")
    p.add_argument("--out", required=True, help="output folder (new or empty; written whole, atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace --out when it holds a previous result")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--render", action="store_true", help="also write render.mp4 (SAPIEN)")
    p.add_argument("--no-refine", action="store_true", help="skip the physics-guided refinement")
    p.set_defaults(func=cmd_generate)
    data = sub.add_parser("data", help="synthetic dataset: build, show").add_subparsers(dest="data_command",
                                                                                      required=True)
    p = data.add_parser("build", help="build or resume a synthetic HOI dataset")
    p.add_argument("--out", required=True, help="dataset folder (created; an interrupted build resumes)")
    p.add_argument("--n", type=int, default=2000, help="number of sequences")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="processes (one per core)")
    p.add_argument("--shard-size", type=int, default=25)
    p.add_argument("--hands", default="", help="comma-separated robot hands (default: all seven)")
    p.add_argument("--no-render", action="store_true", help="skip RGB-D rendering")
    p.add_argument("--refine", action="store_true", help="apply physics refinement to robot sequences")
    p.add_argument("--sim-check", action="store_true",
                   help="execute every (sequence, hand) pair in SAPIEN and record whether it keeps the object on its plan")
    p.add_argument("--executor", choices=("process", "ray"), default="process",
                   help="process: a multiprocessing pool (default); ray: Ray tasks (local, or the cluster at --address)")
    p.add_argument("--address", default="", help="Ray cluster address for --executor ray (e.g. ray://head:10001, auto)")
    p.add_argument("--sim-reject", action="store_true",
                   help="like --sim-check, and a hand's sequence counts as valid only when it does")
    p.set_defaults(func=cmd_data_build)
    p = data.add_parser("show", help="write an HTML page with one sequence (RGB-D, masks, 3-D motion)")
    p.add_argument("--data", required=True)
    p.add_argument("--seq", default=None, help="sequence id (default: the first)")
    p.add_argument("--out", default="data_show.html")
    p.set_defaults(func=cmd_data_show)
    p = data.add_parser("examples", help="regenerate the app's bundled example scenes in assets/examples")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_data_examples)
    train = sub.add_parser("train", help="train a model: vlm, planner, tokenizer, motion-encoder, classifier").add_subparsers(dest="train_command", required=True)
    p = train.add_parser("vlm", help="train the DexHand VLM on a dataset folder")
    p.add_argument("--data", required=True, help="dataset folder (unihm data build)")
    p.add_argument("--out", default="checkpoints/vlm", help="checkpoint folder")
    p.add_argument("--base-model", default=None, help="local folder of a pretrained Qwen3 to fine-tune")
    p.add_argument("--tokenizer", default=None, help="hand tokenizer folder (default checkpoints/tokenizer)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the TrainConfig default)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 3e-3; 1e-4 with --base-model)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.set_defaults(func=cmd_train_vlm)
    p = train.add_parser("planner", help="train the CLIPort-style pick/place planner on rendered dataset folders")
    p.add_argument("--data", required=True, nargs="+", help="dataset folder(s) built with rendering")
    p.add_argument("--out", default="checkpoints/planner", help="checkpoint folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default: the TrainConfig default)")
    p.add_argument("--max-seconds", type=float, default=None, help="wall-time cap (default: the TrainConfig default)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the TrainConfig default)")
    p.set_defaults(func=cmd_train_planner)
    p = train.add_parser("tokenizer", help="train the multi-hand tokenizer (or --add-hand to an existing one)")
    p.add_argument("--data", required=True, help="dataset folder (unihm data build); 'seen' trains, 'unseen' tests")
    p.add_argument("--out", default="checkpoints/tokenizer", help="checkpoint folder (read and updated by --add-hand)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp", help="encoder/decoder backbone (Table B1)")
    p.add_argument("--hidden", type=int, default=None, help="hidden width (default 256 mlp, 64 conv)")
    p.add_argument("--leave-out", default="", help="comma-separated hands to leave out (add later with --add-hand)")
    p.add_argument("--add-hand", default=None, help="train only this hand against the frozen codebook")
    p.add_argument("--schedule-scale", type=float, default=1.0, help="multiply every epoch count (e.g. 0.4: quick run)")
    p.add_argument("--verbose", action="store_true", help="print training log records to stderr")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.set_defaults(func=cmd_train_tokenizer)
    p = train.add_parser("all", help="build the default dataset if needed, then train every model in order")
    p.add_argument("--data", default="data_cache/default", help="dataset folder (built when it has no manifest)")
    p.add_argument("--n", type=int, default=2000, help="sequences when the dataset must be built")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_all)
    p = train.add_parser("classifier", help="render per-instance clouds and train the object category classifier")
    p.add_argument("--data", default="data_cache/classifier", help="folder of the rendered instance shards (built when missing)")
    p.add_argument("--out", default="checkpoints/classifier", help="checkpoint folder")
    p.add_argument("--scenes", type=int, default=2400, help="scenes to render when the shards are missing")
    p.add_argument("--shards", type=int, default=2, help="shards (one rendering process each)")
    p.add_argument("--jobs", type=int, default=2, help="rendering processes at a time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.set_defaults(func=cmd_train_classifier)
    p = train.add_parser("motion-encoder", help="train the motion encoder of FID / Diversity on the seen split")
    p.add_argument("--data", required=True, help="dataset folder (unihm data build)")
    p.add_argument("--out", default="checkpoints/motion_encoder", help="checkpoint folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the MotionEncoderConfig default)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.set_defaults(func=cmd_train_motion_encoder)
    p = sub.add_parser("eval", help="evaluate on a dataset split: MPJPE, FOL, FPL, FID, Diversity (+ physical)")
    p.add_argument("--data", required=True, help="dataset folder (unihm data build)")
    p.add_argument("--split", choices=("seen", "unseen"), default="unseen")
    p.add_argument("--ablation", default="none",
                   help="none|no_depth|no_mask|no_refine|retrieval|retrieval_q0|oracle, or several comma-separated")
    p.add_argument("--n", type=int, default=None, help="evaluate the first N sequences of the split (default all)")
    p.add_argument("--seeds", default="0,1,2", help="sampling seeds, comma-separated")
    p.add_argument("--hands", default=None, help="comma-separated hands (default: every hand the VLM supports)")
    p.add_argument("--vlm", default=None, help="VLM checkpoint folder (default checkpoints/vlm)")
    p.add_argument("--vlm-nomask", default=None, help="no-mask VLM folder (default checkpoints/vlm_nomask)")
    p.add_argument("--out", required=True, help="metrics JSON file to write")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("bench", help="run benchmarks and write docs/RESULTS.md sections")
    p.add_argument("only", nargs="*", help="substrings of benchmark names to run (default: all)")
    p.add_argument("--eval", action="store_true",
                   help="also run the evaluations on the default dataset (dataset card, tokenizer, planner, "
                        "grounding, Table 1/4)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UniHMError as exc:
        from unihm_core.errors import InternalError

        extra = ""
        if isinstance(exc, InternalError):
            from unihm_core.logs import log_path

            extra = f"; the traceback is in {log_path()}"
        print(f"unihm {args.command}: error: {_one_line(str(exc))}{extra}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unihm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the catch-all: one line here, the traceback in the log
        from unihm_core.logs import internal_error_message, log_exception, log_path

        ref = log_exception(f"unihm {args.command}", exc)
        print(f"unihm {args.command}: error: {internal_error_message(ref)}; the traceback is in {log_path()}",
              file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
