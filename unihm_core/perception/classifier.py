"""Learned per-instance category classifier: a small PointNet over an instance's points
and colours, trained on renders of the data engine (:mod:`.classifier_train`).

Input (:func:`instance_features`, identical in training and inference)
    The instance's observed points in the estimated table frame (z up, table at z = 0) and
    their colours after perception's white balance, exactly as
    :func:`unihm_core.perception.instances.build_instance` has them. The points are
    centred on their mean footprint position (x, y) and keep their height above the table
    (z); they are rotated about z into a *view frame* (y along the horizontal direction
    from the camera to the object, x to its right), so a partial view always shows its
    visible side towards -y and the network never has to guess where the camera was.
    Metric size is kept (coordinates in decimetres, no rescaling: size tells a mug from
    a pitcher). :data:`NUM_POINTS` points are drawn (a fixed seed at inference, with
    replacement when there are fewer). Per point: x, y, z [dm] and r, g, b - 0.5.
    Global: ``log(extent / 5 cm)`` of the observed extent (footprint sides along their
    principal axes and the 98th-percentile height; :func:`.categories.observed_extent`)
    and the sine of the camera's elevation seen from the object.

Network (:class:`CategoryNet`)
    A shared per-point MLP (6 -> 48 -> 96 -> 192, batch-normalised) pooled by max and
    mean, concatenated with the global features, then 384+4 -> 256 -> 128 -> T logits
    over the catalogue types (:func:`.categories.category_names`, registry order). About
    0.15 M parameters, a few ms per instance on one core (``bench/perception_stages.py``
    times perception as a whole).

Checkpoint
    ``checkpoints/classifier/model.safetensors`` + ``config.json`` (type names in logit
    order, widths, point count). :func:`load_default_classifier` returns None when it is
    missing or its type list does not match the catalogue; perception then falls back to
    the hand-set prior of :mod:`.categories` and says so in the instance's
    ``extras["category_source"]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from unihm_core.errors import InputError

#: Points per instance fed to the network.
NUM_POINTS = 256
#: Coordinate scale: metres -> decimetres.
COORD_SCALE = 10.0
#: Reference length of the log-extent features [m].
EXTENT_REF = 0.05
#: Default checkpoint folder (relative to the repository root).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "classifier"
#: Widths of the per-point MLP and of the head.
POINT_DIMS = (48, 96, 192)
HEAD_DIMS = (256, 128)
#: Number of global features.
NUM_GLOBAL = 4
#: Fewest observed points the classifier is asked about (below: the prior only).
MIN_POINTS = 20


def _observed_extent(p: np.ndarray) -> np.ndarray:
    from unihm_core.perception.categories import observed_extent

    return observed_extent(p)


def instance_features(points_table: np.ndarray, colors: np.ndarray, camera_table: np.ndarray,
                      rng: np.random.Generator | None = None, n: int = NUM_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Network input of one instance (see the module docstring).

    Args:
        points_table: (N, 3) observed points, table frame [m].
        colors: (N, 3) colours in [0, 1] (white-balanced) or uint8.
        camera_table: (3,) camera centre in the table frame [m].
        rng: draws the ``n`` points; None = the fixed inference seed 0.
        n: points to draw.

    Returns:
        ``(points (n, 6) float32, global (NUM_GLOBAL,) float32)``.
    """
    p = np.asarray(points_table, dtype=np.float64)
    c = np.asarray(colors)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 1 or c.shape != p.shape:
        raise InputError(f"instance points must be (N, 3) with (N, 3) colours, got {p.shape} and {c.shape}")
    c = c.astype(np.float64) / 255.0 if c.dtype == np.uint8 else c.astype(np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)
    centre = np.array([p[:, 0].mean(), p[:, 1].mean(), 0.0])
    view = centre[:2] - np.asarray(camera_table, dtype=np.float64)[:2]
    norm = float(np.linalg.norm(view))
    fwd = view / norm if norm > 1e-6 else np.array([0.0, 1.0])
    right = np.array([fwd[1], -fwd[0]])
    q = p - centre
    x = q[:, :2] @ right
    y = q[:, :2] @ fwd
    local = np.stack([x, y, p[:, 2]], axis=1)
    idx = rng.choice(len(p), n, replace=len(p) < n)
    feats = np.concatenate([local[idx] * COORD_SCALE, c[idx] - 0.5], axis=1).astype(np.float32)
    ext = np.maximum(_observed_extent(p), 1e-3)
    cam = np.asarray(camera_table, dtype=np.float64) - centre
    elev = float(cam[2] / max(np.linalg.norm(cam), 1e-6))
    glob = np.concatenate([np.log(ext / EXTENT_REF), [elev]]).astype(np.float32)
    return feats, glob


def _torch():
    import torch

    return torch


def build_net(num_types: int, point_dims=POINT_DIMS, head_dims=HEAD_DIMS):
    """A fresh :class:`CategoryNet` (torch imported lazily: perception without torch still runs)."""
    torch = _torch()
    nn = torch.nn

    class CategoryNet(nn.Module):
        """Shared point MLP, max + mean pool, MLP head -> (B, T) logits."""

        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            prev = 6
            for d in point_dims:
                layers += [nn.Conv1d(prev, d, 1), nn.BatchNorm1d(d), nn.ReLU()]
                prev = d
            self.point = nn.Sequential(*layers)
            head: list[nn.Module] = []
            h = 2 * prev + NUM_GLOBAL
            for d in head_dims:
                head += [nn.Linear(h, d), nn.BatchNorm1d(d), nn.ReLU(), nn.Dropout(0.3)]
                h = d
            head.append(nn.Linear(h, num_types))
            self.head = nn.Sequential(*head)

        def forward(self, points, glob):  # points (B, n, 6), glob (B, G)
            f = self.point(points.transpose(1, 2))
            g = torch.cat([f.amax(dim=2), f.mean(dim=2), glob], dim=1)
            return self.head(g)

    return CategoryNet()


@dataclass
class CategoryClassifier:
    """A loaded classifier: the network (eval mode) and its type names in logit order."""

    net: object
    type_names: tuple[str, ...]
    num_points: int = NUM_POINTS
    source: str = ""

    def probabilities(self, points_table: np.ndarray, colors: np.ndarray, camera_table: np.ndarray) -> np.ndarray:
        """(T,) softmax probabilities of one instance."""
        return self.probabilities_batch([(points_table, colors, camera_table)])[0]

    def probabilities_batch(self, items) -> np.ndarray:
        """(B, T) probabilities of [(points_table, colors, camera_table), ...]."""
        torch = _torch()
        feats = [instance_features(p, c, cam, n=self.num_points) for p, c, cam in items]
        pts = torch.from_numpy(np.stack([f[0] for f in feats]))
        glob = torch.from_numpy(np.stack([f[1] for f in feats]))
        with torch.no_grad():
            logits = self.net(pts, glob)
        return torch.softmax(logits, dim=1).numpy().astype(np.float64)


def save_classifier(net, type_names: tuple[str, ...], out: Path, meta: dict | None = None) -> None:
    """Write ``model.safetensors`` and ``config.json`` into ``out``."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(out / "model.safetensors"))
    cfg = {"type_names": list(type_names), "point_dims": list(POINT_DIMS), "head_dims": list(HEAD_DIMS),
           "num_points": NUM_POINTS, "num_global": NUM_GLOBAL, "meta": meta or {}}
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def load_classifier(folder: Path | str) -> CategoryClassifier:
    """Load a classifier folder (``model.safetensors`` + ``config.json``).

    Raises:
        InputError: missing or unreadable files, or a network that does not match the config.
    """
    folder = Path(folder)
    cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file() or not w_path.is_file():
        raise InputError(f"no classifier checkpoint in {folder} (needs config.json and model.safetensors); "
                         "train one with `python -m unihm_core train classifier`.")
    try:
        cfg = json.loads(cfg_path.read_text())
        names = tuple(cfg["type_names"])
        from safetensors.torch import load_file

        state = load_file(str(w_path))
        net = build_net(len(names), tuple(cfg["point_dims"]), tuple(cfg["head_dims"]))
        net.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"classifier checkpoint in {folder} is unreadable ({exc}); retrain it with "
                         "`python -m unihm_core train classifier`.") from exc
    net.eval()
    return CategoryClassifier(net=net, type_names=names, num_points=int(cfg.get("num_points", NUM_POINTS)),
                              source=str(folder))


@lru_cache(maxsize=1)
def _default() -> tuple[CategoryClassifier | None, str]:
    from unihm_core.perception.categories import category_names

    try:
        clf = load_classifier(DEFAULT_DIR)
    except InputError as exc:
        return None, str(exc)
    except ImportError as exc:  # torch / safetensors missing
        return None, f"the category classifier needs torch and safetensors ({exc})"
    if clf.type_names != category_names():
        return None, (f"the classifier in {DEFAULT_DIR} was trained on other types than the catalogue; "
                      "retrain it with `python -m unihm_core train classifier`.")
    return clf, ""


def load_default_classifier() -> CategoryClassifier | None:
    """The shipped classifier, or None (then :func:`classifier_note` says why)."""
    return _default()[0]


def classifier_note() -> str:
    """Why the default classifier is not used ("" when it is)."""
    return _default()[1]


def combine(classifier_probs: np.ndarray, prior_probs: np.ndarray, prior_weight: float) -> np.ndarray:
    """``p_clf * p_prior^w``, renormalised (w = 0: the classifier alone)."""
    p = np.asarray(classifier_probs, dtype=np.float64) * np.power(np.asarray(prior_probs) + 1e-9, prior_weight)
    return p / p.sum()


__all__ = ["CategoryClassifier", "build_net", "classifier_note", "combine", "instance_features",
           "load_classifier", "load_default_classifier", "save_classifier"]
