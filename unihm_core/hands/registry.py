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


def _key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def canonical_hand(name) -> str:
    """The registered name of a hand, read case- and whitespace-insensitively, with spaces or
    hyphens for underscores ("Allegro " -> "allegro", "Schunk SVH" -> "schunk_svh"); unknown
    names raise :class:`~unihm_core.errors.UnknownHandError` listing the hands."""
    names = available_hands()
    if isinstance(name, str):
        if name in names:
            return name
        for known in names:
            if _key(known) == _key(name):
                return known
    raise UnknownHandError(f"unknown hand {name!r}; choose one of: {', '.join(names)}")


def canonical_hands(names) -> tuple[str, ...]:
    """:func:`canonical_hand` of each name of a list, or of a comma-separated string ("Shadow, LEAP")."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    return tuple(canonical_hand(n) for n in names)


_check_name = canonical_hand


@functools.lru_cache(maxsize=None)
def load_spec(name: str) -> HandSpec:
    """The :class:`HandSpec` of hand ``name`` (read as :func:`canonical_hand` does)."""
    name = canonical_hand(name)
    if name == "human":
        return human_hand_spec()
    path = HAND_SPECS_DIR / f"{name}.yaml"
    if not path.exists():
        path = USER_SPECS_DIR / f"{name}.yaml"
    return HandSpec.from_yaml(path)


def urdf_path(name: str) -> Path:
    """Path of hand ``name``'s generated URDF, written (or refreshed) on first use."""
    name = canonical_hand(name)
    return write_urdf(load_spec(name), hand_urdf_path(name))


def floating_urdf_path(name: str) -> Path:
    """Path of the URDF with the 6-DoF wrist chain prepended (for physics with a driven wrist)."""
    name = canonical_hand(name)
    path = hand_urdf_path(name)
    return write_urdf(load_spec(name), path.with_name(f"{name}_right_floating.urdf"), floating=True)


_lock = threading.Lock()
_cache: dict[str, HandModel] = {}


def load_hand(name: str) -> HandModel:
    """The shared, cached :class:`HandModel` of hand ``name`` (not thread-safe to evaluate); the
    name is read as :func:`canonical_hand` does."""
    name = canonical_hand(name)
    with _lock:
        if name not in _cache:
            _cache[name] = HandModel(load_spec(name))
        return _cache[name]


def new_hand_model(name: str) -> HandModel:
    """A private :class:`HandModel` (own pinocchio data) for use in another thread."""
    return HandModel(load_spec(canonical_hand(name)))


def write_all_urdfs() -> list[Path]:
    """(Re)generate ``assets/hands/<name>/<name>_right.urdf`` for every built-in hand."""
    return [urdf_path(n) for n in HAND_NAMES]
