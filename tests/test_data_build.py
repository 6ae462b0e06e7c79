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



def test_sim_rule_executes_every_pair_and_invalidates_failures(tmp_path):
    """With sim_reject every (sequence, hand) pair, the human's too, is executed in SAPIEN; a robot
    hand that fails is invalid with a 'sim: <failure>' reason, and the card counts per family.
    The Panda's carried and slid sequences are its own motions (antipodal grasp where the object
    fits its stroke; a flat push for a slid object that does not); the human's record a source too."""
    from unihm_core.data.own_motions import OWN_TASKS
    from unihm_core.sim.execution import ExecutionConfig, check_sequence

    cfg = DatasetConfig(n=4, seed=3, hands=("panda_gripper",), render=False, shard_size=4, workers=1,
                        sim_reject=True)
    build_dataset(tmp_path, cfg, progress=_quiet)
    ds = SyntheticDataset(tmp_path)
    card = json.loads((tmp_path / "card.json").read_text())
    assert set(card["sim_success"]) == {"human", "panda_gripper"}
    assert card["sim_success"]["panda_gripper"]["all"][1] == len(ds.records) == cfg.n
    panda = load_hand("panda_gripper")
    for r in ds.records:
        assert set(r["sim"]) == {"human", "panda_gripper"}
        res = r["sim"]["panda_gripper"]
        arrays = ds.arrays(r["seq_id"])
        # the stored outcome is the execution check of the stored trajectory
        again = check_sequence(r, arrays, "panda_gripper", config=ExecutionConfig(disturbance=False))
        assert again.success == res["success"] and again.failure == res["failure"]
        if not res["success"]:
            assert not r["hands_valid"]["panda_gripper"]
            assert f"sim: {res['failure']}" in r["hand_reject_reasons"]["panda_gripper"]
        source = r["grasp_source"]["panda_gripper"]
        assert source in ("retargeted", "antipodal_top", "antipodal_side", "flat_push")
        assert (source == "retargeted") == (r["task"] not in OWN_TASKS)  # carried and slid: its own motion
        if source.startswith("antipodal"):  # the gripper's own pick: jaws open at the start, closed when the object moves
            q = arrays["q/panda_gripper"]
            assert q[0, 6] == pytest.approx(panda.upper[6])
            assert q[r["phases"]["manipulation"][0], 6] < panda.upper[6] - 0.005
    succeeded = sum(r["sim"]["panda_gripper"]["success"] for r in ds.records)
    assert card["sim_success"]["panda_gripper"]["all"][0] == succeeded
    assert any(r["grasp_source"]["panda_gripper"] != "retargeted" for r in ds.records)
    assert all(r["grasp_source"]["human"] in ("synthesized", "pinch_top", "flat_push") for r in ds.records)
    ds.close()


def test_ray_executor_writes_the_same_shards_and_resumes(builds, tmp_path):
    """--executor ray (a local Ray) writes the default executor's shards byte for byte, and a build
    interrupted under one executor is finished by the other."""
    pytest.importorskip("ray")
    a, _ = builds
    build_dataset(tmp_path / "ray", CFG, progress=_quiet, executor="ray")
    for path in sorted((a / "shards").iterdir()):
        assert (tmp_path / "ray" / "shards" / path.name).read_bytes() == path.read_bytes(), path.name
    assert (tmp_path / "ray" / "manifest.jsonl").read_bytes() == (a / "manifest.jsonl").read_bytes()
    # resume: the first shard from the process executor, the rest from Ray
    part = tmp_path / "mixed"
    build_dataset(part, DatasetConfig(**{**CFG.__dict__, "workers": 1}), progress=_quiet)
    (part / "shards" / "shard_00001.jsonl").unlink()
    (part / "shards" / "shard_00001.npz").unlink()
    lines = []
    build_dataset(part, CFG, progress=lines.append, executor="ray")
    assert "1 already done" in lines[0] and "Ray" in lines[0]
    assert (part / "shards" / "shard_00001.npz").read_bytes() == (a / "shards" / "shard_00001.npz").read_bytes()
    with pytest.raises(InputError, match="executor"):
        build_dataset(tmp_path / "x", CFG, progress=_quiet, executor="dask")
    with pytest.raises(InputError, match="--executor ray"):
        build_dataset(tmp_path / "y", CFG, progress=_quiet, address="auto")
