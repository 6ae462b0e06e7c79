"""The command line: `unihm hands` and error handling."""

import json
import subprocess
import sys

from unihm_core.cli import main
from unihm_core.hands import HAND_NAMES


def test_hands_lists_every_hand(capsys):
    assert main(["hands", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["hand"] for r in rows][: len(HAND_NAMES)] == list(HAND_NAMES)
    shadow = rows[0]
    assert shadow["dof"] == 30 and "thtip" in shadow["fingertip_links"] and "FFJ3" in shadow["joint_names"]


def test_hands_table_output(capsys):
    assert main(["hands"]) == 0
    out = capsys.readouterr().out
    for name in HAND_NAMES:
        assert name in out
    assert "fingertips:" in out


def test_unknown_subcommand_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "unihm_core", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


def test_bench_lists_existing_scripts_only():
    """Every script `unihm bench [--eval]` runs exists in bench/ (no silently skipped benchmark)."""
    from unihm_core.cli import BENCH_SCRIPTS, EVAL_SCRIPTS
    from unihm_core.paths import REPO_ROOT

    for name in BENCH_SCRIPTS + EVAL_SCRIPTS:
        assert (REPO_ROOT / "bench" / f"{name}.py").exists(), name
