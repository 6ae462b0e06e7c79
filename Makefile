# UniHM demo: two-command setup.
#   make run    set up, then serve the Gradio app
#   make test   set up, then run the test suite
# `setup` installs the system packages (when root or passwordless sudo; otherwise it prints
# the commands and stops), creates .venv and installs requirements.txt + this project
# editable. A stamp file makes a second run a no-op that takes seconds.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
# Extra pip options, e.g. PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_ARGS ?=
# SKIP_SYSTEM_DEPS=1 skips the system package check (you installed them yourself).
SKIP_SYSTEM_DEPS ?=
# The os-release file that decides the Debian release (tests point it at a Debian 12 or 13 copy).
OS_RELEASE ?= /etc/os-release
# SAPIEN 3.0.3 renders on CPUs only with Mesa's lavapipe from this version on.
MESA_MIN := 24.3

VPY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp

.PHONY: help setup system-deps test-deps run test train bench

help:
	@echo "make run          set up, then start the Gradio app (python app.py)"
	@echo "make test         set up, then run the test suite"
	@echo "make setup        system packages + .venv + Python packages (idempotent)"
	@echo "make system-deps  only the system packages the app needs (Mesa lavapipe >= $(MESA_MIN), libusb)"
	@echo "make test-deps    system-deps plus what only the tests need (Debian's chromium for the browser tests)"
	@echo "make train        set up, then train every model (python -m unihm_core train all: tokenizer, planner,"
	@echo "                  motion encoder, VLM, object category classifier)"
	@echo "make bench        set up, then run the benchmarks (python -m unihm_core bench)"

setup: system-deps $(STAMP)

# pip runs only when requirements.txt or pyproject.toml changed (or .venv is new).
$(STAMP): requirements.txt pyproject.toml | system-deps
	@test -x $(VPY) || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(VPY) -m pip install $(PIP_ARGS) -r requirements.txt
	$(VPY) -m pip install $(PIP_ARGS) --no-deps -e .
	@touch $@

system-deps:
	@MESA_MIN='$(MESA_MIN)' PYTHON='$(PYTHON)' VENV='$(VENV)' SKIP_SYSTEM_DEPS='$(SKIP_SYSTEM_DEPS)' \
		OS_RELEASE='$(OS_RELEASE)' EXTRA_PACKAGES='' bash -c "$$UNIHM_SYSTEM_DEPS_SCRIPT"

# Chromium drives the browser tests only, so `make run` never installs it.
test-deps: system-deps
	@MESA_MIN='$(MESA_MIN)' PYTHON='$(PYTHON)' VENV='$(VENV)' SKIP_SYSTEM_DEPS='$(SKIP_SYSTEM_DEPS)' \
		OS_RELEASE='$(OS_RELEASE)' EXTRA_PACKAGES='chromium' bash -c "$$UNIHM_SYSTEM_DEPS_SCRIPT"

run: setup
	$(VPY) app.py

test: setup test-deps
	$(VPY) -m pytest -q -p no:cacheprovider tests

train: setup
	$(VPY) -m unihm_core train all

bench: setup
	$(VPY) -m unihm_core bench

# ---------------------------------------------------------------------------------------
# System packages. Fast path: dpkg-query finds everything at the right version -> exit 0.
# Otherwise install with apt (root, or passwordless sudo), or print the commands and fail.
define _SYSTEM_DEPS_SCRIPT
set -euo pipefail
if [ "$SKIP_SYSTEM_DEPS" = 1 ]; then
  echo "system-deps: skipped (SKIP_SYSTEM_DEPS=1)"; exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system-deps: not a Debian-based system. Install Mesa's Vulkan drivers (lavapipe) >= $MESA_MIN," >&2
  echo "  the Vulkan loader and libusb-1.0 (and chromium for make test) yourself, then run: make setup SKIP_SYSTEM_DEPS=1" >&2
  exit 1
fi
installed_version() {
  # a package dpkg never heard of makes dpkg-query fail; under pipefail that would end the script
  { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } | awk '$3 == "installed" {print $4; exit}'
}
missing=()
for p in libvulkan1 libusb-1.0-0 $EXTRA_PACKAGES; do
  [ -n "$(installed_version "$p")" ] || missing+=("$p")
done
mesa="$(installed_version mesa-vulkan-drivers)"
if [ -z "$mesa" ] || ! dpkg --compare-versions "$mesa" ge "$MESA_MIN"; then
  missing+=(mesa-vulkan-drivers)
fi
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

. "$OS_RELEASE" 2>/dev/null || true
if [ "$(id -u)" -eq 0 ]; then
  sudo=""; can_run=1
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  sudo="sudo "; can_run=1
else
  sudo="sudo "; can_run=0
fi
cmds=()
if [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ]; then
  # Debian 12 ships Mesa 22.3; SAPIEN needs >= 24.3, which bookworm-backports has. Only Mesa is
  # asked for from backports (apt then takes from there just the libraries it needs newer, such
  # as libdrm); `-t bookworm-backports` would upgrade every package of the transaction.
  if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cmds+=("echo 'deb http://deb.debian.org/debian bookworm-backports main' | ${sudo}tee /etc/apt/sources.list.d/bookworm-backports.list")
  fi
  packages=()
  for p in "${missing[@]}"; do
    if [ "$p" = mesa-vulkan-drivers ]; then packages+=(mesa-vulkan-drivers/bookworm-backports); else packages+=("$p"); fi
  done
else
  packages=("${missing[@]}")
fi
cmds+=("${sudo}apt-get update")
cmds+=("${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y ${packages[*]}")

if [ "$can_run" -ne 1 ]; then
  echo "system-deps: missing or too old: ${missing[*]} (Mesa lavapipe must be >= $MESA_MIN)." >&2
  echo "Run these commands as a user with sudo rights, then run make again:" >&2
  printf '    %s\n' "${cmds[@]}" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
for c in "${cmds[@]}"; do
  echo "+ $c"
  bash -c "$c"
done
mesa="$(installed_version mesa-vulkan-drivers)"
if [ -z "$mesa" ] || ! dpkg --compare-versions "$mesa" ge "$MESA_MIN"; then
  echo "system-deps: mesa-vulkan-drivers is ${mesa:-not installed} after apt; SAPIEN needs >= $MESA_MIN." >&2
  echo "  On Debian 12 enable bookworm-backports; Debian 13 ships a new enough Mesa." >&2
  exit 1
fi
endef
export UNIHM_SYSTEM_DEPS_SCRIPT = $(value _SYSTEM_DEPS_SCRIPT)
