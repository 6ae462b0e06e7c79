"""One vocabulary for instructions, shared by the instruction generator
(:mod:`unihm_core.data.instructions`), grounding (:mod:`unihm_core.perception.grounding`),
the planner (:mod:`unihm_core.planning.trajectory`) and the motion synthesis.

What lives here: the task names and their families, the verbs that say each task, how a
family and its verb (and destination) give back the task, the spatial relations, the table
locations, the superlatives, the size words, the colour words, the object nouns (the data
engine's catalogue) and the length limit of an instruction. The generator writes
instructions from these names and grounding reads them back into the same names; the
round trip is tested over generated instructions (``tests/test_language.py``).

Frames: "left"/"right" as the viewer sees it (table-frame x), "front" towards the viewer
(-y), "back" away from the viewer (+y).
"""

from __future__ import annotations

from functools import lru_cache

from unihm_core.errors import InputError

#: Longest instruction accepted [characters].
MAX_INSTRUCTION_CHARS = 500

#: The data engine's nine tasks.
TASKS: tuple[str, ...] = ("grab", "pick_place", "push", "pull", "open", "close", "rotate", "pour", "handover")
#: Grounding's six task families (a verb phrase alone cannot always tell push from pull).
TASK_FAMILIES: tuple[str, ...] = ("grab_lift", "pick_place", "push_pull", "open_close", "rotate_pour", "handover")
#: Task -> family.
FAMILY_OF_TASK: dict[str, str] = {
    "grab": "grab_lift", "pick_place": "pick_place", "push": "push_pull", "pull": "push_pull",
    "open": "open_close", "close": "open_close", "rotate": "rotate_pour", "pour": "rotate_pour",
    "handover": "handover",
}
#: Tasks that take a destination.
PLACE_FAMILIES: tuple[str, ...] = ("pick_place", "push_pull", "rotate_pour")

#: Verb lemmas (as grounding reports them) that decide the task within a family.
PULL_VERBS: tuple[str, ...] = ("pull", "drag", "tug")
PUSH_VERBS: tuple[str, ...] = ("push", "shove", "nudge")
CLOSE_VERBS: tuple[str, ...] = ("close", "shut", "snap")
POUR_VERBS: tuple[str, ...] = ("pour", "tilt", "tip", "empty", "dump", "decant")

#: Named table locations (destinations and table regions).
LOCATIONS: tuple[str, ...] = ("left", "right", "front", "back", "centre")
#: Spatial relations between two objects.
RELATIONS: tuple[str, ...] = ("left_of", "right_of", "behind", "in_front_of", "next_to")
#: Placement relations to a receptacle.
PLACEMENTS: tuple[str, ...] = ("in", "on")
#: Superlatives the generator speaks (position among candidates).
SPATIAL_SUPERLATIVES: tuple[str, ...] = ("leftmost", "rightmost", "nearest", "farthest")
#: Every superlative grounding reads.
SUPERLATIVES: tuple[str, ...] = SPATIAL_SUPERLATIVES + ("largest", "smallest", "tallest", "shortest", "middle")
#: Size words (grounding's absolute classes; the generator speaks small / large).
SIZES: tuple[str, ...] = ("small", "medium", "large")

#: Colour words people say -> the perceived colour name (:data:`unihm_core.perception.colors.COLOR_NAMES`).
COLOUR_WORDS: dict[str, str] = {
    "red": "red", "crimson": "red", "scarlet": "red", "maroon": "red",
    "orange": "orange", "yellow": "yellow", "golden": "yellow", "gold": "yellow",
    "green": "green", "lime": "green", "olive": "green",
    "cyan": "cyan", "teal": "cyan", "turquoise": "cyan", "aqua": "cyan",
    "blue": "blue", "navy": "blue", "azure": "blue",
    "purple": "purple", "violet": "purple", "magenta": "purple", "lilac": "purple",
    "pink": "pink", "brown": "brown", "tan": "brown", "wooden": "brown", "wood-coloured": "brown",
    "beige": "brown",
    "black": "black", "white": "white", "cream": "white", "ivory": "white",
    "gray": "gray", "grey": "gray", "silver": "gray",
}
#: The data engine's colour names (:data:`unihm_core.data.objects.COLOUR_RGB`) -> the
#: perceived names that say the same.
DATA_COLOUR_NAMES: dict[str, tuple[str, ...]] = {
    "red": ("red",), "orange": ("orange",), "yellow": ("yellow",), "green": ("green",),
    "light green": ("green",), "blue": ("blue",), "light blue": ("blue", "cyan"), "purple": ("purple",),
    "pink": ("pink",), "white": ("white",), "black": ("black",), "grey": ("gray",), "brown": ("brown",),
    "beige": ("brown", "white"), "natural wood": ("brown",),
}


def head_noun(noun: str) -> str:
    """Head word of a noun phrase ("box of crackers" -> "box", "cup with a handle" -> "cup")."""
    words = noun.split()
    for sep in ("of", "with"):
        if sep in words[1:]:
            words = words[:words.index(sep)]
            break
    return words[-1]


@lru_cache(maxsize=4096)
def denotes(noun: str, nouns: tuple[str, ...]) -> bool:
    """True when ``noun`` is one of ``nouns`` or, a single word, the head word of one of them."""
    if noun in nouns:
        return True
    return " " not in noun and any(head_noun(n) == noun for n in nouns)


def task_of(task: str, verb: str = "", location: str | None = None) -> str:
    """The data-engine task from a task name, or from a family with its verb and destination.

    ``push_pull``: a pulling verb (:data:`PULL_VERBS`) -> ``pull``, a pushing one -> ``push``,
    any other ("slide", none) by the destination: ``front`` (towards the viewer) -> ``pull``,
    else ``push``. ``open_close``: a closing verb -> ``close``, else ``open``.
    ``rotate_pour``: a pouring verb -> ``pour``, else ``rotate``. ``grab_lift`` -> ``grab``.
    """
    if task in TASKS:
        return task
    v = verb.lower().strip()
    if task == "grab_lift":
        return "grab"
    if task in ("pick_place", "handover"):
        return task
    if task == "push_pull":
        if v in PULL_VERBS:
            return "pull"
        if v in PUSH_VERBS:
            return "push"
        return "pull" if location == "front" else "push"
    if task == "open_close":
        return "close" if v in CLOSE_VERBS else "open"
    if task == "rotate_pour":
        return "pour" if v in POUR_VERBS else "rotate"
    raise InputError(f"unknown task {task!r}; use one of {', '.join(TASKS)} or a task family "
                     f"({', '.join(TASK_FAMILIES)})")


def object_nouns() -> dict[str, tuple[str, ...]]:
    """Object type -> its nouns (canonical first), from the data engine's catalogue."""
    from unihm_core.data.objects import OBJECT_REGISTRY

    return {name: spec.nouns for name, spec in OBJECT_REGISTRY.items()}


__all__ = [
    "CLOSE_VERBS", "COLOUR_WORDS", "DATA_COLOUR_NAMES", "FAMILY_OF_TASK", "LOCATIONS", "MAX_INSTRUCTION_CHARS",
    "PLACEMENTS", "PLACE_FAMILIES", "POUR_VERBS", "PULL_VERBS", "PUSH_VERBS", "RELATIONS", "SIZES",
    "SPATIAL_SUPERLATIVES", "SUPERLATIVES", "TASKS", "TASK_FAMILIES", "object_nouns", "task_of",
]
