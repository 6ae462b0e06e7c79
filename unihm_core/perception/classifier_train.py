"""Training data and training of the category classifier (:mod:`.classifier`).

Where the training instances come from
    Whole tabletop scenes of the data engine (:func:`unihm_core.data.scenes.sample_scene`,
    every catalogue type, the target type cycling through the catalogue so every type
    is seen equally often as a target), rendered with SAPIEN
    (:mod:`unihm_core.data.rgbd_render`, about 0.15 s a 640x480 frame here), given sensor
    noise (:mod:`unihm_core.data.depth_noise`), and then passed through the project's own
    :func:`unihm_core.perception.scene.perceive` with the uint16-millimetre depth a
    RealSense writes. Each perceived instance is labelled with the rendered instance mask
    (the object holding most of its pixels; instances whose pixels are less than
    :data:`MIN_PURITY` one object are dropped). So the classifier is trained on what
    perception hands it on a real frame: the same table fit and frame, the same
    segmentation (touching objects merged or cut, flying pixels removed, partial and
    occluded views), the same white balance. Depth rendering straight from the meshes
    would have been faster but would skip exactly these steps; at about 0.5 s a scene
    with perception included, SAPIEN was fast enough.

Domain randomisation (:func:`randomise_scene`, :func:`randomise_rgb`, :func:`randomise_depth_noise`)
    Lights: ambient 0.08-0.45, sun 0.5-3.0 with a colour temperature cast, fill 0.2-1.5.
    Image: a white-balance cast (red/blue gains 0.7-1.35), exposure 0.55-1.5, gamma
    0.85-1.2, Gaussian pixel noise 0-5 levels, an occasional 3x3 blur. Depth: axial
    noise 0.5-3x the RealSense model, edge dropout 0.5-1, dark-surface dropout 0.3-0.95,
    speckle holes 0-15x the default rate, radius 1-4 px. Layout: 1-6 distractors, gaps
    between objects 2-20 mm (clutter, touching objects), camera 0.45-1.15 m away at
    25-70 deg elevation. In training (:func:`augment`): random point dropout and cuts of
    the cloud by a random plane (further occlusion), a few millimetres of jitter,
    mirroring (x -> -x), colour jitter per instance (saturation, a residual cast, exposure
    0.6-3x in linear light: real frames came out brighter than the renders, white objects
    at 0.9 against 0.5 for the median render) and random "label" patches recoloured (real
    objects carry printed labels).

Split
    Scene ``i`` of a build is drawn from ``default_rng([seed, i])``; scenes with
    ``i % HELDOUT_EVERY == 0`` are held out. Every instance is a fresh draw
    (48-bit instance seed), so held-out scenes hold held-out object instances.
    :func:`heldout_sample` draws a further small sample from another seed stream
    (the checkpoint test's).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from unihm_core.errors import InputError

#: Every HELDOUT_EVERY-th scene is held out.
HELDOUT_EVERY = 8
#: A perceived instance must be this pure (fraction of its pixels on one object).
MIN_PURITY = 0.6
#: Points stored per instance.
STORE_POINTS = 1024
#: Offset of the seed stream of :func:`heldout_sample`.
SAMPLE_STREAM = 7919
#: The checkpoint test's thresholds lie this far below the accuracy recorded at training.
CHECK_SLACK = 0.1


def randomise_scene(scene, rng: np.random.Generator):
    """The scene with randomised lights (intensity, colour temperature, direction kept)."""
    from unihm_core.data.scenes import LightSpec

    lt = scene.lights
    temp = rng.uniform(-0.25, 0.25)  # warm (+) to cool (-)
    sun = rng.uniform(0.5, 3.0)
    amb = rng.uniform(0.08, 0.45)
    fill = rng.uniform(0.2, 1.5)
    tint = np.array([1 + temp, 1.0, 1 - temp])
    lights = LightSpec(ambient=tuple(float(v) for v in amb * (1 + 0.3 * (tint - 1))),
                       sun_direction=lt.sun_direction,
                       sun_colour=tuple(float(v) for v in sun * tint),
                       fill_position=lt.fill_position,
                       fill_colour=tuple(float(v) for v in fill * (1 + 0.5 * (tint - 1))))
    return dataclasses.replace(scene, lights=lights)


def randomise_rgb(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A white-balance cast, exposure, gamma, pixel noise and sometimes blur on a uint8 image."""
    from unihm_core.data.rgbd_render import srgb_to_linear

    lin = srgb_to_linear(rgb.astype(np.float64) / 255.0)
    cast = rng.uniform(-0.3, 0.3)
    gains = np.array([np.exp(cast) * rng.uniform(0.95, 1.05), rng.uniform(0.95, 1.05),
                      np.exp(-cast) * rng.uniform(0.95, 1.05)])
    lin = lin * gains * rng.uniform(0.55, 1.5)
    out = np.clip(lin, 0, 1) ** (1 / 2.4 * rng.uniform(0.85, 1.2))
    if rng.random() < 0.3:
        k = np.pad(out, ((1, 1), (1, 1), (0, 0)), mode="edge")
        out = sum(k[i:i + out.shape[0], j:j + out.shape[1]] for i in range(3) for j in range(3)) / 9.0
    out = out * 255.0 + rng.normal(0, rng.uniform(0, 5), size=out.shape)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def randomise_depth_noise(rng: np.random.Generator):
    """A :class:`~unihm_core.data.depth_noise.DepthNoiseConfig` with randomised strengths."""
    from unihm_core.data.depth_noise import DepthNoiseConfig

    base = DepthNoiseConfig()
    s = rng.uniform(0.5, 3.0)
    return dataclasses.replace(
        base, sigma_base=base.sigma_base * s, sigma_quad=base.sigma_quad * s,
        edge_drop_prob=float(rng.uniform(0.5, 1.0)), dark_drop_prob=float(rng.uniform(0.3, 0.95)),
        speckle_rate=float(base.speckle_rate * rng.uniform(0, 15)), speckle_max_radius=int(rng.integers(1, 5)))


def _scene_config(rng: np.random.Generator):
    from unihm_core.data.scenes import SceneConfig

    return SceneConfig(min_distractors=1, max_distractors=6, min_gap=float(rng.uniform(0.002, 0.02)),
                       cam_distance=(0.45, 1.15), cam_elevation_deg=(25.0, 70.0))


def scene_instances(i: int, seed: int, renderer=None) -> list[dict]:
    """Render scene ``i`` of stream ``seed``, perceive it, label the perceived instances.

    Returns one dict per kept instance: ``points`` (K, 3) float32 table frame [m],
    ``colors`` (K, 3) uint8 (white-balanced as perception has them), ``camera`` (3,)
    camera centre in the table frame, ``label`` (catalogue index), ``purity``,
    ``visible`` (fraction of the object's rendered pixels in the instance).
    """
    from unihm_core.data.depth_noise import apply_depth_noise
    from unihm_core.data.objects import OBJECT_TYPES
    from unihm_core.data.rgbd_render import render_rgbd
    from unihm_core.data.scenes import sample_scene
    from unihm_core.perception.categories import category_names
    from unihm_core.perception.instances import SegmentationConfig
    from unihm_core.perception.scene import perceive

    names = category_names()
    rng = np.random.default_rng([int(seed), int(i)])
    ttype = OBJECT_TYPES[i % len(OBJECT_TYPES)]
    try:
        scene = sample_scene(rng, target_type=ttype, config=_scene_config(rng))
    except InputError:
        return []
    scene = randomise_scene(scene, rng)
    frame = render_rgbd(scene, renderer)
    rgb = randomise_rgb(frame.color, rng)
    depth = apply_depth_noise(frame.depth, seed=int(rng.integers(2 ** 31)), fx=scene.camera.fx, color=rgb,
                              config=randomise_depth_noise(rng))
    c = scene.camera
    intr = {"fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy, "width": c.width, "height": c.height}
    try:
        perceived = perceive(rgb, depth, intr, seed=int(i), config=SegmentationConfig(classify=False))
    except InputError:
        return []
    mask = frame.mask.ravel()
    totals = np.bincount(mask, minlength=len(scene.objects) + 1)
    cam = perceived.camera_position_table
    out = []
    for inst in perceived.instances:
        lab = mask[inst.pixel_index]
        counts = np.bincount(lab, minlength=len(scene.objects) + 1)
        k = int(np.argmax(counts[1:]) + 1)
        purity = counts[k] / max(len(lab), 1)
        if purity < MIN_PURITY:
            continue
        pts = perceived.world_to_table(inst.points)
        col = np.clip(np.round(inst.colors * 255), 0, 255).astype(np.uint8)
        if len(pts) > STORE_POINTS:
            sel = rng.choice(len(pts), STORE_POINTS, replace=False)
            pts, col = pts[sel], col[sel]
        out.append({"points": pts.astype(np.float32), "colors": col, "camera": cam.astype(np.float32),
                    "label": names.index(scene.objects[k - 1].instance.type_name),
                    "purity": float(purity), "visible": float(counts[k] / max(totals[k], 1))})
    return out


def _pack(items: list[dict], scene_ids: list[int]) -> dict[str, np.ndarray]:
    lengths = np.array([len(it["points"]) for it in items], dtype=np.int64)
    return {
        "points": np.concatenate([it["points"] for it in items]) if items else np.zeros((0, 3), np.float32),
        "colors": np.concatenate([it["colors"] for it in items]) if items else np.zeros((0, 3), np.uint8),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "camera": np.stack([it["camera"] for it in items]) if items else np.zeros((0, 3), np.float32),
        "label": np.array([it["label"] for it in items], dtype=np.int64),
        "purity": np.array([it["purity"] for it in items]),
        "visible": np.array([it["visible"] for it in items]),
        "scene": np.array(scene_ids, dtype=np.int64),
    }


def unpack(data) -> list[dict]:
    """Inverse of the shard layout: one dict per instance."""
    off = data["offsets"]
    return [{"points": data["points"][off[j]:off[j + 1]], "colors": data["colors"][off[j]:off[j + 1]],
             "camera": data["camera"][j], "label": int(data["label"][j]), "scene": int(data["scene"][j]),
             "visible": float(data["visible"][j])} for j in range(len(data["label"]))]


def _print(msg: str) -> None:
    print(msg, flush=True)


def build_shard(out: Path, scenes: range | list[int], seed: int, log=_print) -> Path:
    """Render, perceive and label ``scenes`` of stream ``seed`` into one ``.npz`` shard."""
    from unihm_core.data.rgbd_render import RgbdRenderer

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    renderer = RgbdRenderer()
    items, ids = [], []
    t0 = time.perf_counter()
    for n, i in enumerate(scenes):
        got = scene_instances(i, seed, renderer)
        items += got
        ids += [i] * len(got)
        if log and (n + 1) % 50 == 0:
            log(f"{out.name}: {n + 1}/{len(scenes)} scenes, {len(items)} instances, {time.perf_counter() - t0:.0f} s")
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **_pack(items, ids))
    tmp.replace(out)
    return out


def heldout_sample(n_scenes: int, seed: int = 0, renderer=None) -> list[dict]:
    """A small held-out sample (stream ``seed + SAMPLE_STREAM``, no scene of any build)."""
    from unihm_core.data.rgbd_render import RgbdRenderer

    renderer = renderer or RgbdRenderer()
    out = []
    for i in range(n_scenes):
        for it in scene_instances(i, seed + SAMPLE_STREAM, renderer):
            it["scene"] = i
            out.append(it)
    return out


# --------------------------------------------------------------------------- training
def augment(points: np.ndarray, colors: np.ndarray, camera: np.ndarray,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training-time augmentation of one instance's (K, 3) points and uint8 colours
    (``camera``: (3,) camera centre, table frame, for the mirroring)."""
    p = points.astype(np.float64).copy()
    c = colors.astype(np.float64) / 255.0
    keep = np.ones(len(p), dtype=bool)
    if rng.random() < 0.4 and len(p) > 80:  # cut by a random vertical plane: more occlusion
        d = rng.normal(size=2)
        d /= np.linalg.norm(d) + 1e-9
        s = (p[:, :2] - p[:, :2].mean(axis=0)) @ d
        keep &= s < np.quantile(s, rng.uniform(0.55, 1.0))
    if rng.random() < 0.3:
        keep &= rng.random(len(p)) > rng.uniform(0, 0.5)
    if keep.sum() >= 20:
        p, c = p[keep], c[keep]
    p += rng.normal(0, rng.uniform(0, 0.002), size=p.shape)
    p[:, 2] = np.maximum(p[:, 2], 0.0)
    if rng.random() < 0.5:  # mirror across the vertical plane through the camera and the object
        c_xy = p[:, :2].mean(axis=0)
        f = c_xy - np.asarray(camera, dtype=np.float64)[:2]
        f /= max(float(np.linalg.norm(f)), 1e-9)
        r = np.array([f[1], -f[0]])
        p[:, :2] -= 2 * ((p[:, :2] - c_xy) @ r)[:, None] * r
    # colour: per-instance brightness / saturation / small hue rotation, plus label patches
    grey = c.mean(axis=1, keepdims=True)
    c = grey + (c - grey) * rng.uniform(0.6, 1.3)
    # exposure in linear light, log-uniform 0.6-3x (real frames come out brighter than the
    # renders: white objects reach 0.9 there), and the cast white balance leaves behind
    lin = np.where(c <= 0.04045, c / 12.92, ((np.clip(c, 0, 1) + 0.055) / 1.055) ** 2.4)
    lin = lin * np.exp(rng.uniform(np.log(0.6), np.log(3.0))) * np.exp(rng.uniform(-0.15, 0.15, size=3))
    lin = np.clip(lin, 0, 1)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    if rng.random() < 0.5:
        n_patch = int(rng.integers(1, 3))
        for _ in range(n_patch):
            centre = p[rng.integers(len(p))]
            r = rng.uniform(0.01, 0.05)
            hit = np.linalg.norm(p - centre, axis=1) < r
            c[hit] = rng.uniform(0, 1, size=3)
    c += rng.normal(0, 0.02, size=c.shape)
    return p, np.clip(c, 0, 1)


def _features(items, rng, train: bool, n: int):
    from unihm_core.perception.classifier import instance_features

    P, G = [], []
    for it in items:
        if train:
            p, c = augment(it["points"], it["colors"], it["camera"], rng)
        else:
            p, c = it["points"], it["colors"]
        f, g = instance_features(p, c, it["camera"], rng=rng if train else None, n=n)
        P.append(f)
        G.append(g)
    return np.stack(P), np.stack(G)


def evaluate(clf, items: list[dict]) -> dict:
    """Top-1 / top-3 accuracy and per-type top-1 of ``clf`` on labelled instances."""
    if not items:
        raise InputError("no instances to evaluate")
    probs = np.concatenate([clf.probabilities_batch([(it["points"], it["colors"], it["camera"])
                                                      for it in items[k:k + 256]])
                            for k in range(0, len(items), 256)])
    labels = np.array([it["label"] for it in items])
    order = np.argsort(-probs, axis=1)
    top1 = order[:, 0] == labels
    top3 = (order[:, :3] == labels[:, None]).any(axis=1)
    per = {}
    for k, name in enumerate(clf.type_names):
        m = labels == k
        if m.any():
            per[name] = {"n": int(m.sum()), "top1": round(float(top1[m].mean()), 4)}
    return {"n": int(len(items)), "top1": round(float(top1.mean()), 4), "top3": round(float(top3.mean()), 4),
            "per_type": per}


def train_classifier(shards: list[Path], out: Path, *, seed: int = 0, epochs: int = 40, batch: int = 64,
                     lr: float = 2e-3, threads: int = 1, max_seconds: float | None = None, check_scenes: int = 6,
                     log=_print) -> dict:
    """Train on the non-held-out scenes of ``shards``; write the checkpoint, ``metrics.json``
    and ``train_log.jsonl`` into ``out``. Returns the metrics.

    ``metrics["check"]`` records the accuracy on :func:`heldout_sample` (``check_scenes``
    scenes, rendered now) and the thresholds the checkpoint test holds it to: the recorded
    values less :data:`CHECK_SLACK` (renderer and BLAS differences between machines)."""
    import torch

    from unihm_core.perception.categories import category_names
    from unihm_core.perception.classifier import NUM_POINTS, CategoryClassifier, build_net, save_classifier

    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    items = []
    for s in shards:
        with np.load(s, allow_pickle=False) as d:
            items += unpack({k: d[k] for k in d.files})
    if not items:
        raise InputError(f"the shards {', '.join(map(str, shards))} hold no instances")
    train = [it for it in items if it["scene"] % HELDOUT_EVERY != 0]
    held = [it for it in items if it["scene"] % HELDOUT_EVERY == 0]
    names = category_names()
    counts = np.bincount([it["label"] for it in train], minlength=len(names)).astype(np.float64)
    weights = torch.tensor(np.where(counts > 0, (counts.sum() / np.maximum(counts, 1) / len(names)) ** 0.5, 0.0),
                           dtype=torch.float32)
    net = build_net(len(names))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = int(np.ceil(len(train) / batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.jsonl"
    log_path.write_text("")
    t0 = time.perf_counter()
    clf = CategoryClassifier(net=net, type_names=names)
    done_epochs = 0
    for ep in range(epochs):
        net.train()
        perm = rng.permutation(len(train))
        tot, correct = 0.0, 0
        for b in range(steps_per_epoch):
            sel = [train[j] for j in perm[b * batch:(b + 1) * batch]]
            if len(sel) < 2:
                continue
            P, G = _features(sel, rng, True, NUM_POINTS)
            y = torch.tensor([it["label"] for it in sel])
            logits = net(torch.from_numpy(P), torch.from_numpy(G))
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss.detach()) * len(sel)
            correct += int((logits.argmax(1) == y).sum())
        done_epochs = ep + 1
        rec = {"epoch": done_epochs, "loss": round(tot / len(train), 4), "train_top1": round(correct / len(train), 4),
               "seconds": round(time.perf_counter() - t0, 1)}
        if done_epochs % 5 == 0 or done_epochs == epochs:
            net.eval()
            rec["heldout"] = {k: v for k, v in evaluate(clf, held).items() if k != "per_type"}
        with log_path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        if log:
            log(json.dumps(rec))
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    net.eval()
    metrics = {
        "heldout": evaluate(clf, held),
        "train": {k: v for k, v in evaluate(clf, train[:: max(1, len(train) // 2000)]).items() if k != "per_type"},
        "n_train": len(train), "n_heldout": len(held),
        "n_scenes": len({it["scene"] for it in items}),
        "epochs": done_epochs, "seed": seed, "train_seconds": round(time.perf_counter() - t0, 1),
        "split": f"scenes with index % {HELDOUT_EVERY} == 0 held out (fresh object instances)",
    }
    if check_scenes > 0:
        res = evaluate(clf, heldout_sample(check_scenes, seed=seed))
        metrics["check"] = {"n_scenes": check_scenes, "seed": seed, "n": res["n"], "top1": res["top1"],
                            "top3": res["top3"], "top1_min": round(max(0.0, res["top1"] - CHECK_SLACK), 2),
                            "top3_min": round(max(0.0, res["top3"] - CHECK_SLACK), 2)}
    save_classifier(net, names, out, meta={"epochs": done_epochs, "seed": seed})
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


__all__ = ["augment", "build_shard", "evaluate", "heldout_sample", "randomise_depth_noise", "randomise_rgb",
           "randomise_scene", "scene_instances", "train_classifier", "unpack"]
