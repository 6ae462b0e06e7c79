"""Result folders (unihm_core.export.result): checked before the run, moved into place whole,
never mixed between concurrent runs, replaced only with ``overwrite``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import unihm_core.export.result as result_mod
from unihm_core.export.result import OutputFolderError, check_out_dir, write_folder

ROOT = Path(__file__).resolve().parents[1]
FILES = ("a.txt", "b.txt", "c.txt", "meta.json")


def fill_with(run: str, files=FILES, pause: float = 0.0):
    def fill(folder: Path) -> None:
        for name in files:
            text = json.dumps({"format": "unihm-trajectory/1", "run": run}) if name == "meta.json" else run
            (folder / name).write_text(text)
            time.sleep(pause)
    return fill


def runs_in(folder: Path) -> set[str]:
    return {json.loads(p.read_text())["run"] if p.name == "meta.json" else p.read_text()
            for p in folder.iterdir() if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_new_folder_is_written_whole(tmp_path):
    out = write_folder(tmp_path / "res", fill_with("1"))
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES) and runs_in(out) == {"1"}
    assert leftovers(tmp_path) == []
    mask = os.umask(0)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~mask  # not mkdtemp's 0700


def test_empty_existing_folder_is_filled(tmp_path):
    (tmp_path / "res").mkdir()
    write_folder(tmp_path / "res", fill_with("1"))
    assert runs_in(tmp_path / "res") == {"1"}


@pytest.mark.parametrize("bad,words", [("", "empty"), ("   ", "empty"), ("a\x00b", "nul"),
                                       ("x\udcff\ud800", "lone surrogate"), ("n" * 300, "bytes")])
def test_bad_names_are_refused_and_nothing_is_created(tmp_path, monkeypatch, bad, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFolderError) as err:
        check_out_dir(bad)
    assert words in str(err.value).lower()
    assert list(tmp_path.iterdir()) == []


def test_existing_file_under_a_file_and_symlink_are_refused(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep")
    with pytest.raises(OutputFolderError, match="existing file"):
        check_out_dir(f)
    with pytest.raises(OutputFolderError, match="under file.txt, which is a file"):
        check_out_dir(f / "sub" / "res")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OutputFolderError, match="symbolic link"):
        check_out_dir(tmp_path / "link")
    assert f.read_text() == "keep" and sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "link", "real"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_parent_is_refused_before_the_run(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError, match="cannot create the output folder"):
            check_out_dir(ro / "res")
    finally:
        ro.chmod(0o755)


def test_unwritable_parent_is_probed_not_guessed(tmp_path, monkeypatch):
    """The probe (create and remove a folder) decides, so root and ACLs are handled alike."""
    def no_mkdtemp(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(result_mod.tempfile, "mkdtemp", no_mkdtemp)
    with pytest.raises(OutputFolderError, match="Permission denied"):
        check_out_dir(tmp_path / "res")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_folder_needs_overwrite_and_stays_unchanged(tmp_path):
    out = write_folder(tmp_path / "res", fill_with("1"))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not empty.*--overwrite"):
        write_folder(out, fill_with("2"))
    assert runs_in(out) == {"1", "mine"} and leftovers(tmp_path) == []


def test_overwrite_replaces_the_folder_whole(tmp_path):
    out = write_folder(tmp_path / "res", fill_with("1", files=FILES + ("extra.txt",)))
    write_folder(out, fill_with("2"), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no stale extra.txt
    assert runs_in(out) == {"2"} and leftovers(tmp_path) == []


def test_overwrite_without_renameat2_uses_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(result_mod, "_rename_exchange", lambda a, b: False)
    out = write_folder(tmp_path / "res", fill_with("1", files=FILES + ("extra.txt",)))
    write_folder(out, fill_with("2"), overwrite=True)
    assert runs_in(out) == {"2"} and "extra.txt" not in os.listdir(out) and leftovers(tmp_path) == []


def test_overwrite_never_deletes_a_folder_that_is_not_a_result(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputFolderError, match="holds no UniHM result"):
        write_folder(tmp_path / "mine", fill_with("1"), overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"


def test_a_failing_run_leaves_nothing(tmp_path):
    def broken(folder: Path) -> None:
        (folder / "a.txt").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_folder(tmp_path / "res", broken)
    assert list(tmp_path.iterdir()) == []
    write_folder(tmp_path / "old", fill_with("1"))
    with pytest.raises(RuntimeError):
        write_folder(tmp_path / "old", broken, overwrite=True)
    assert runs_in(tmp_path / "old") == {"1"} and leftovers(tmp_path) == []


def test_folder_filled_meanwhile_is_not_mixed(tmp_path):
    """Another run fills the target between the check and the move: this run writes nothing."""
    out = tmp_path / "res"

    def racing(folder: Path) -> None:
        fill_with("mine")(folder)
        write_folder(out, fill_with("other"))  # the concurrent run wins

    with pytest.raises(OutputFolderError, match="filled by another run"):
        write_folder(out, racing)
    assert runs_in(out) == {"other"} and leftovers(tmp_path) == []


WRITER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from unihm_core.export.result import OutputFolderError, write_folder
    run, out, overwrite = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "1"
    def fill(folder):
        for name in ("a.txt", "b.txt", "c.txt", "meta.json"):
            text = json.dumps({"format": "unihm-trajectory/1", "run": run}) if name == "meta.json" else run
            (folder / name).write_text(text)
            time.sleep(0.02)
    go = float(sys.argv[4])
    while time.time() < go:
        time.sleep(0.002)
    try:
        for _ in range(3 if overwrite else 1):
            write_folder(out, fill, overwrite=overwrite)
        sys.exit(0)
    except OutputFolderError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
""")


def snapshot(out: Path):
    """The folder's files as one reader sees them through an open directory handle, or None when
    the path changed while reading (then the handle no longer named the target)."""
    try:
        ino = os.stat(out).st_ino
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        contents = {}
        for name in os.listdir(fd):
            try:
                f = os.open(name, os.O_RDONLY, dir_fd=fd)
            except (FileNotFoundError, IsADirectoryError):
                return None
            with os.fdopen(f) as fh:
                text = fh.read()
            contents[name] = json.loads(text)["run"] if name == "meta.json" else text
        if os.fstat(fd).st_ino != ino or os.stat(out).st_ino != ino:
            return None
        return contents
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)


@pytest.mark.parametrize("overwrite", [False, True], ids=["refuse", "overwrite"])
def test_concurrent_processes_never_mix_a_folder(tmp_path, overwrite):
    out = tmp_path / "res"
    go = time.time() + 1.5
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, f"run{i}", str(out), "1" if overwrite else "0", str(go)],
                              cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for i in range(6)]
    seen = 0
    while any(p.poll() is None for p in procs):
        snap = snapshot(out)
        if snap:
            seen += 1
            assert sorted(snap) == sorted(FILES), f"incomplete folder seen: {sorted(snap)}"
            assert len(set(snap.values())) == 1, f"mixed folder seen: {snap}"
    codes = [p.wait(timeout=60) for p in procs]
    errors = [p.stderr.read() for p in procs]
    final = snapshot(out)
    assert final and sorted(final) == sorted(FILES) and len(set(final.values())) == 1
    if overwrite:
        assert codes.count(0) + codes.count(2) == 6 and codes.count(0) >= 1, errors
    else:
        assert codes.count(0) == 1 and codes.count(2) == 5, errors  # one kept whole, the others refused
        assert all("not empty" in e or "filled by another run" in e for c, e in zip(codes, errors) if c == 2)
    assert leftovers(tmp_path) == [], "temporary folders left behind"
    assert seen > 0
