"""The hands this project knows, and :func:`load_hand`.

Robot hands come from the YAML specs in ``unihm_core/hands/specs``; the human hand from
:func:`unihm_core.hands.human.human_hand_spec`. User hands added with ``unihm hands add``
are YAML specs too, in ``$UNIHM_ROOT/assets/hands/user/<name>.yaml``. Models are cached
per process (a pinocchio model is cheap, but FK data must not be shared across threads:
use :func:`new_hand_model` for a private copy).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from unihm_core.errors import UnknownHandError
from unihm_core.hands.human import human_hand_spec
from unihm_core.hands.model import HandModel
from unihm_core.hands.spec import HandSpec
from unihm_core.hands.urdf import write_urdf
from unihm_core.paths import HAND_ASSETS_DIR, HAND_SPECS_DIR, hand_urdf_path

HAND_NAMES: tuple[str, ...] = (
    "shadow", "allegro", "schunk_svh", "leap", "ability", "inspire", "panda_gripper", "human",
)
ROBOT_HAND_NAMES: tuple[str, ...] = HAND_NAMES[:-1]
USER_SPECS_DIR = HAND_ASSETS_DIR / "user"


def available_hands() -> tuple[str, ...]:
    """Built-in hands followed by user-added ones."""
    user = tuple(sorted(p.stem for p in USER_SPECS_DIR.glob("*.yaml"))) if USER_SPECS_DIR.exists() else ()
    return HAND_NAMES + tuple(n for n in user if n not in HAND_NAMES)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in available_hands():
        raise UnknownHandError(f"unknown hand {name!r}; choose one of: {', '.join(available_hands())}")
    return name


@functools.lru_cache(maxsize=None)
def load_spec(name: str) -> HandSpec:
    """The :class:`HandSpec` of hand ``name``."""
    _check_name(name)
    if name == "human":
        return human_hand_spec()
    path = HAND_SPECS_DIR / f"{name}.yaml"
    if not path.exists():
        path = USER_SPECS_DIR / f"{name}.yaml"
    return HandSpec.from_yaml(path)


def urdf_path(name: str) -> Path:
    """Path of hand ``name``'s generated URDF, written (or refreshed) on first use."""
    return write_urdf(load_spec(name), hand_urdf_path(name))


def floating_urdf_path(name: str) -> Path:
    """Path of the URDF with the 6-DoF wrist chain prepended (for physics with a driven wrist)."""
    path = hand_urdf_path(name)
    return write_urdf(load_spec(name), path.with_name(f"{name}_right_floating.urdf"), floating=True)


_lock = threading.Lock()
_cache: dict[str, HandModel] = {}


def load_hand(name: str) -> HandModel:
    """The shared, cached :class:`HandModel` of hand ``name`` (not thread-safe to evaluate)."""
    with _lock:
        if name not in _cache:
            _cache[name] = HandModel(load_spec(name))
        return _cache[name]


def new_hand_model(name: str) -> HandModel:
    """A private :class:`HandModel` (own pinocchio data) for use in another thread."""
    return HandModel(load_spec(name))


def write_all_urdfs() -> list[Path]:
    """(Re)generate ``assets/hands/<name>/<name>_right.urdf`` for every built-in hand."""
    return [urdf_path(n) for n in HAND_NAMES]
