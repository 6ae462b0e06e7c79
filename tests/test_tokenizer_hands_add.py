"""`unihm hands add`: a user URDF becomes a registered HandSpec (written under a temporary UNIHM_ROOT)."""

from __future__ import annotations

import numpy as np
import pytest

from unihm_core.errors import InputError
from unihm_core.hands.import_urdf import spec_from_urdf, spec_to_dict
from unihm_core.hands.spec import HandSpec

URDF = """<robot name="twofinger">
  <link name="base"/><link name="palm"/><link name="f1a"/><link name="f1tip"/><link name="f2a"/><link name="f2tip"/>
  <joint name="fix" type="fixed"><parent link="base"/><child link="palm"/><origin xyz="0 0 0.05"/></joint>
  <joint name="j1" type="revolute"><parent link="palm"/><child link="f1a"/><origin xyz="0.02 0 0.03" rpy="0 0 0"/>
    <axis xyz="0 2 0"/><limit lower="0" upper="1.5" effort="1" velocity="1"/></joint>
  <joint name="j1t" type="fixed"><parent link="f1a"/><child link="f1tip"/><origin xyz="0 0 0.04"/></joint>
  <joint name="j2" type="continuous"><parent link="palm"/><child link="f2a"/><origin xyz="-0.02 0 0.03"/>
    <axis xyz="0 1 0"/></joint>
  <joint name="j2m" type="revolute"><parent link="f2a"/><child link="f2tip"/><origin xyz="0 0 0.04"/>
    <axis xyz="0 1 0"/><limit lower="-1" upper="1"/><mimic joint="j2" multiplier="0.5"/></joint>
</robot>"""


def test_spec_from_urdf_reads_tree_limits_mimic_and_palm(tmp_path):
    p = tmp_path / "h.urdf"
    p.write_text(URDF)
    spec = spec_from_urdf(p, ["f1tip", "f2tip"])
    assert spec.name == "twofinger" and spec.root_link == "base" and spec.palm_link == "palm"
    assert [j.name for j in spec.actuated_joints] == ["j1", "j2"]
    j1 = next(j for j in spec.joints if j.name == "j1")
    assert np.allclose(j1.axis, (0, 1, 0)) and (j1.lower, j1.upper) == (0.0, 1.5)
    j2 = next(j for j in spec.joints if j.name == "j2")
    assert j2.type == "revolute" and j2.upper == pytest.approx(np.pi)
    assert next(j for j in spec.joints if j.name == "j2m").mimic.multiplier == 0.5
    again = HandSpec.from_dict(spec_to_dict(spec))
    assert again == spec


def test_spec_from_urdf_rejects_bad_input(tmp_path):
    p = tmp_path / "h.urdf"
    p.write_text(URDF)
    with pytest.raises(InputError, match="not in"):
        spec_from_urdf(p, ["nope"])
    with pytest.raises(InputError, match="does not exist"):
        spec_from_urdf(tmp_path / "missing.urdf", ["f1tip"])
    (tmp_path / "bad.urdf").write_text("<robot><joint name='x' type='floating'><parent link='a'/><child link='b'/>"
                                       "</joint><link name='a'/><link name='b'/></robot>")
    with pytest.raises(InputError, match="floating"):
        spec_from_urdf(tmp_path / "bad.urdf", ["b"])


def test_cli_hands_add_registers_a_loadable_hand(tmp_path, monkeypatch):
    import unihm_core.hands.registry as reg
    from unihm_core.cli import main

    monkeypatch.setattr(reg, "USER_SPECS_DIR", tmp_path / "user")
    reg.load_spec.cache_clear()
    p = tmp_path / "h.urdf"
    p.write_text(URDF)
    assert main(["hands", "add", "--urdf", str(p), "--fingertips", "f1tip,f2tip", "--name", "toy_gripper"]) == 0
    assert (tmp_path / "user" / "toy_gripper.yaml").exists()
    assert "toy_gripper" in reg.available_hands()
    model = reg.HandModel(reg.load_spec("toy_gripper"))
    assert model.dof == 8
    tips = model.fingertip_positions(model.zero())
    assert tips.shape == (2, 3) and np.allclose(tips[0], [0.02, 0, 0.12], atol=1e-9)
    assert main(["hands", "add", "--urdf", str(p), "--fingertips", "f1tip", "--name", "toy_gripper"]) == 2
    reg.load_spec.cache_clear()
