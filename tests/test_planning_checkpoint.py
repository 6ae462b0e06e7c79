"""The shipped planner checkpoint on its shipped held-out sample (unseen-split scenes).

The sample (``checkpoints/planner/heldout_sample.npz``) holds 24 unseen-split heightmaps with
their five instruction embeddings, the target's top-down mask, the pick/place ground truth
and the predictions ``unihm train planner`` made when it wrote the checkpoint. Thresholds
come from ``metrics.json`` (measured by the trainer with a margin).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from unihm_core.errors import CheckpointError
from unihm_core.paths import CHECKPOINTS_DIR
from unihm_core.planning import Planner
from unihm_core.planning.train import features_of, predict_examples

FOLDER = CHECKPOINTS_DIR / "planner"


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner.load(FOLDER)


@pytest.fixture(scope="module")
def sample() -> dict[str, np.ndarray]:
    with np.load(FOLDER / "heldout_sample.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def predictions(planner, sample) -> dict[str, np.ndarray]:
    return predict_examples(planner, sample, np.arange(len(sample["pick"])))


def test_checkpoint_files_are_small_and_complete():
    for name in ("model.safetensors", "config.yaml", "metrics.json", "train_log.jsonl", "heldout_sample.npz"):
        assert (FOLDER / name).exists(), name
    assert (FOLDER / "model.safetensors").stat().st_size < 4e6
    assert (FOLDER / "heldout_sample.npz").stat().st_size < 1e6
    m = json.loads((FOLDER / "metrics.json").read_text())
    assert m["train"]["heldout_sequences"] > 0 and m["heldout"]["n_sequences"] == m["train"]["heldout_sequences"]


def test_sample_is_heldout_and_shaped(sample):
    n = len(sample["pick"])
    assert n >= 16
    assert sample["color"].shape[1:] == (80, 80, 3) and sample["emb"].shape == (n, 5, 384)
    assert np.all([sample["target"][i][tuple(sample["pick"][i])] for i in range(n)])  # GT pick on the target


def test_pick_inside_target_mask_and_place_error_below_thresholds(sample, predictions):
    th = json.loads((FOLDER / "metrics.json").read_text())["thresholds"]
    n, k = predictions["pick"].shape[:2]
    hit = np.array([[sample["target"][i][tuple(predictions["pick"][i, j])] for j in range(k)] for i in range(n)])
    err_cm = 100 * np.linalg.norm(predictions["place_xy"] - sample["place_xy"][:, None], axis=-1)
    assert hit.mean() >= th["sample_pick_success_min"]
    assert np.median(err_cm) <= th["sample_place_error_cm_median_max"]
    # and better than chance: a uniformly random cell lands on the target far less often
    assert hit.mean() > 3 * sample["target"].mean()


def test_predictions_reproduce_reference(sample, predictions):
    """The loaded weights give the outputs recorded at training time (no silent drift)."""
    same_pick = (predictions["pick"] == sample["ref_pick"]).all(-1).mean()
    assert same_pick >= 0.95
    assert np.abs(predictions["place_xy"] - sample["ref_place_xy"]).max() < 0.02


def test_instruction_changes_the_prediction(planner, sample):
    """Language conditioning matters: swapping embeddings between scenes changes the picks."""
    idx = np.arange(len(sample["pick"]))
    maps = features_of(sample, idx)
    p_own, _ = planner.predict_batch(maps, sample["emb"][idx, 0].astype(np.float32))
    p_other, _ = planner.predict_batch(maps, np.roll(sample["emb"][idx, 0], 1, axis=0).astype(np.float32))
    assert (p_own != p_other).any(-1).mean() > 0.1


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="train one with"):
        Planner.load(tmp_path)
