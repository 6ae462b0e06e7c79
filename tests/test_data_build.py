"""Dataset build: determinism, round trip, resume, limits, instructions, split hygiene."""

import json

import numpy as np
import pytest

from unihm_core.data.dataset import DatasetConfig, SyntheticDataset, _Worker, build_dataset
from unihm_core.data.objects import UNSEEN_TYPES
from unihm_core.errors import InputError
from unihm_core.hands import load_hand

CFG = DatasetConfig(n=6, seed=3, hands=("allegro", "inspire"), render=False, shard_size=3, workers=1,
                    unseen_fraction=0.5)


def _quiet(*_):
    pass


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    build_dataset(a, CFG, progress=_quiet)
    build_dataset(b, CFG, progress=_quiet)
    return a, b


def _all_arrays(root):
    ds = SyntheticDataset(root)
    out = {r["seq_id"]: ds.arrays(r["seq_id"]) for r in ds.records}
    ds.close()
    return out


def test_bit_identical_across_runs(builds):
    a, b = builds
    assert (a / "manifest.jsonl").read_text() == (b / "manifest.jsonl").read_text()
    arr_a, arr_b = _all_arrays(a), _all_arrays(b)
    assert arr_a.keys() == arr_b.keys() and len(arr_a) == CFG.n
    for sid in arr_a:
        assert arr_a[sid].keys() == arr_b[sid].keys()
        for k in arr_a[sid]:
            assert np.array_equal(arr_a[sid][k], arr_b[sid][k]), (sid, k)


def test_round_trip_equals_fresh_generation(builds):
    a, _ = builds
    ds = SyntheticDataset(a)
    rec = ds.records[1]
    fresh_rec, fresh = _Worker(CFG).sequence(rec["index"])
    stored = ds.arrays(rec["seq_id"])
    assert set(stored) == set(fresh)
    for k, v in fresh.items():
        assert np.array_equal(stored[k], v), k
    assert {k: v for k, v in rec.items() if k != "shard"} == json.loads(json.dumps(fresh_rec))
    ds.close()


def test_robot_sequences_within_limits_and_shapes(builds):
    a, _ = builds
    ds = SyntheticDataset(a)
    for rec in ds.records:
        arr = ds.arrays(rec["seq_id"])
        T = rec["num_frames"]
        assert arr["human_keypoints"].shape == (T, 21, 3) and arr["object_poses"].shape == (T, 4, 4)
        for hand in CFG.hands:
            model = load_hand(hand)
            q = arr[f"q/{hand}"].astype(float)
            assert q.shape == (T, model.dof)
            assert model.within_limits(q, tol=1e-5).all()
    ds.close()


def test_instructions_mention_target(builds):
    a, _ = builds
    for rec in SyntheticDataset(a).records:
        assert len(set(rec["instructions"])) == 5
        nouns = [n.lower() for n in rec["target"]["nouns"]]
        for text in rec["instructions"]:
            assert any(n in text.lower() for n in nouns), (text, nouns)


def test_split_hygiene(builds):
    a, _ = builds
    recs = SyntheticDataset(a).records
    by_split = {s: {o["instance_id"] for r in recs if r["split"] == s for o in r["scene"]["objects"]}
                for s in ("seen", "unseen")}
    assert by_split["seen"] and by_split["unseen"]
    assert not by_split["seen"] & by_split["unseen"]
    seen_types = {o["type_name"] for r in recs if r["split"] == "seen" for o in r["scene"]["objects"]}
    assert not seen_types & set(UNSEEN_TYPES)


def test_resume_after_interruption(builds, tmp_path):
    a, _ = builds
    import shutil

    shutil.copytree(a, tmp_path / "c")
    (tmp_path / "c" / "shards" / "shard_00001.jsonl").unlink()  # as if killed before it finished
    messages = []
    build_dataset(tmp_path / "c", CFG, progress=messages.append)
    assert "1 already done" in messages[0]
    assert (tmp_path / "c" / "manifest.jsonl").read_text() == (a / "manifest.jsonl").read_text()


def test_other_config_in_same_folder_refused(builds):
    a, _ = builds
    with pytest.raises(InputError, match="another configuration"):
        build_dataset(a, DatasetConfig(n=7, seed=3, hands=("allegro",), render=False, workers=1), progress=_quiet)


def test_card_counts(builds):
    a, _ = builds
    card = json.loads((a / "card.json").read_text())
    assert card["sequences"] == CFG.n
    assert sum(card["per_task"].values()) == CFG.n
    assert set(card["hands_valid"]) == set(CFG.hands)
    assert card["instructions"] == 5 * CFG.n
