"""Export round trip, schema validation, CSV formula escaping, atomic writes."""

import csv

import numpy as np
import pytest

from unihm_core.errors import InputError
from unihm_core.export import TrajectoryExport, escape_csv_cell, read_export, validate_json, write_export
from unihm_core.hands import load_hand


@pytest.fixture
def export():
    hand = load_hand("allegro")
    rng = np.random.default_rng(0)
    q = hand.random(rng, n=10, wrist_scale=0.1)
    poses = np.tile(np.eye(4), (10, 1, 1))
    poses[:, 2, 3] = np.linspace(0, 0.1, 10)
    return TrajectoryExport(hand="allegro", joint_names=list(hand.joint_names), q_raw=q,
                            q_refined=hand.clamp(q + 0.01), object_poses_world=poses, seed=7,
                            instruction="=cmd|' /C calc'!A0 pick up the mug", metrics={"penetration_mm": 1.5})


def test_round_trip(tmp_path, export):
    paths = write_export(export, tmp_path)
    doc = read_export(tmp_path)
    assert np.allclose(doc["q_raw"], export.q_raw) and np.allclose(doc["q_refined"], export.q_refined)
    assert np.array_equal(doc["npz"]["q_raw"], export.q_raw)
    assert np.array_equal(doc["npz"]["object_poses_world"], export.object_poses_world)
    assert list(doc["npz"]["joint_names"]) == export.joint_names
    assert doc["seed"] == 7 and doc["num_frames"] == 10 and doc["units"]["dummy_x_translation_joint"] == "m"
    with open(paths["csv"]) as f:
        rows = list(csv.reader(f))
    assert rows[0][3:] == export.joint_names
    assert len(rows) == 1 + 2 * 10
    assert np.allclose([float(v) for v in rows[1][3:]], export.q_raw[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_schema_validates_and_rejects(tmp_path, export):
    import jsonschema

    write_export(export, tmp_path)
    doc = read_export(tmp_path)
    doc.pop("npz")
    validate_json(doc)
    doc["urdf_sha256"] = "not-a-hash"
    with pytest.raises(jsonschema.ValidationError):
        validate_json(doc)


def test_csv_formula_cells_escaped():
    assert escape_csv_cell("=SUM(A1)") == "'=SUM(A1)"
    assert escape_csv_cell("@cmd") == "'@cmd"
    assert escape_csv_cell("+1+1") == "'+1+1"
    assert escape_csv_cell("-0.25") == "-0.25"  # plain negative numbers stay numbers
    assert escape_csv_cell("joint_1.0") == "joint_1.0"


def test_shape_mismatch_rejected_and_nothing_written(tmp_path, export):
    export.q_refined = export.q_refined[:5]
    with pytest.raises(InputError, match="differs"):
        write_export(export, tmp_path)
    assert not any(tmp_path.iterdir())
