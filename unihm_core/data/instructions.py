"""Instruction grammar of the synthetic data engine: five distinct instructions per sequence.

The paper annotates every hand-object sequence with five open-vocabulary instructions and
holds out part of the language for the unseen split (Sec. 3.1, App. B.1). This module
writes them from the scene itself, so every attribute and spatial relation an instruction
states is true of the world poses and metadata in the :class:`~unihm_core.data.scenes.SceneSpec`.

Entry points
    :func:`make_instructions` (texts) and :func:`generate_instructions` (texts plus what was
    used: frame, verb template, the target's referring attributes, unseen-only items);
    :func:`referents` / :func:`is_unambiguous` evaluate a referring expression against a
    scene; :func:`describe_object` gives a canonical description ("the small red ceramic
    mug") for the dataset card and browser.

Grammar (one instruction = frame + verb phrase + noun phrases)
    * **Task families** (:data:`TASKS`): ``grab``, ``pick_place``, ``push`` (away from the
      viewer, +y), ``pull`` (towards the viewer, -y), ``open`` / ``close`` (drawer:
      prismatic; lidded box: revolute; templates mentioning "the lid" or "slide ... open"
      are used only for the matching kind), ``rotate`` (about world z; with ``angle_deg``
      the amount and direction are spoken, positive = anticlockwise seen from above),
      ``pour`` (optionally into a receptacle), ``handover`` (to the speaker).
    * **Verb phrases** per task with synonyms (:data:`VERB_TEMPLATES`), e.g. grab: "pick up",
      "grab", "lift", "take", "raise"; pick_place: "put ... in/into/on/onto", "place",
      "drop ... into", "set ... down on", "move ... to"; push: "push", "shove", "slide ...
      away"; pull: "pull", "drag ... towards me"; open: "open", "pull open", "slide open",
      "lift the lid of"; close: "close", "shut", "push ... closed"; rotate: "rotate",
      "turn", "spin ... by ninety degrees"; pour: "pour out", "tip", "empty"; handover:
      "hand ... to me", "pass me", "give me". Past participles (:data:`PARTICIPLES`) serve
      the descriptive register ("I need the mug moved into the bowl").
    * **Frames** by register (:data:`FRAMES`): imperative ("Pick up the mug."), polite
      ("Could you please ...?", "Would you mind picking up ...?"), question ("Can you
      ...?"), desire ("I'd like you to ..."), two-step with a pronoun ("See the red mug?
      Pick it up."), descriptive ("The mug needs to be pushed away from me."), terse
      ("Red mug into the bowl.", "The mug, please."; :data:`TERSE_TEMPLATES`).
    * **Noun phrases**: ``the`` + [superlative] [size] [colour] [material] noun
      [relation | table region | superlative post-form]. Nouns are the instance's
      :attr:`~unihm_core.data.objects.ObjectSpec.nouns`; "red apple" / "lime" only when the
      colour agrees; no colour word when the noun holds one ("the orange"), no material
      word when the noun holds one ("wooden block", "plastic cup"), and no size, colour or
      material word at all before a noun that starts with a size word ("small box"): nouns
      always stay verbatim. Colour words: the instance's colour name ("natural
      wood" is said "light brown" / "wood-coloured"); material words: cardboard, metal,
      plastic, ceramic, glass, wooden, felt, foam, rubber (fruit skin is not said).
    * **Receptacles** ("into the blue bowl", "onto the plate") and **table locations**
      ("on the left side of the table", "over to the right", "to the middle of the table")
      for ``pick_place``; a receptacle for ``pour``. A terse (verbless) instruction says a
      table location as "to the ..." ("Mug to the front of the table."): "Mug towards me."
      would read as a pull and "Mug closer to me." as a hand-over.
    * The task names, locations, relations and superlatives are those of
      :mod:`unihm_core.language`, which grounding reads back; ``tests/test_language.py``
      parses generated instructions back to their task, target and place.

Referring expressions and ambiguity
    A phrase's attributes (a dict with ``noun`` and optional ``colour``, ``material``,
    ``size``, ``location``, ``relation``, ``superlative``; see :func:`referents`) are
    evaluated against every scene object: filter by noun, colour, material, table region
    and relation, then grade by size and superlative over what is left. A noun *denotes*
    an object when it is one of its nouns, or when it is a bare one-word noun equal to the
    head word of one of its nouns ("cup" denotes the mug via "cup with a handle", "fruit"
    denotes apples, oranges, bananas; "bottle" denotes every bottle). Colours that people
    confuse count as equal (green / light green, blue / light blue, natural wood / brown /
    beige). For every instruction the generator enumerates the target's true phrasings,
    keeps those whose referent set is exactly the target (:func:`is_unambiguous`), and
    samples among them, preferring few attributes (extra attributes with probability
    falling by :data:`EXTRA_ATTRIBUTE_DECAY` each). Only when no unambiguous phrasing exists
    does it fall back to the true phrasing with the fewest referents. Landmarks of spatial
    relations and receptacles are themselves referred to unambiguously.

Spatial relations (world = table frame; the speaker stands on the -y side looking
towards +y: +x is the speaker's right, +y is away / behind, -y is front / near)
    Positions are object origins (bottom centre of the main body), xy only.

    * ``left_of`` L: ``x_L - x >= 0.04 m`` and ``|dx| >= |dy|`` (within 45 degrees of the x
      axis); ``right_of`` mirrors it. ``behind`` L: ``y - y_L >= 0.04 m`` and ``|dy| >=
      |dx|``; ``in_front_of`` mirrors it. ``next_to`` L: centre distance <= 0.17 m.
      (:data:`RELATION_MARGIN`, :data:`NEXT_TO_DISTANCE`.)
    * Superlatives over the remaining candidates (at least two, else not said):
      ``leftmost`` / ``rightmost`` (x), ``nearest`` ("closest to me": smallest y),
      ``farthest`` (largest y); the target must lead the runner-up by >= 0.03 m
      (:data:`SUPERLATIVE_MARGIN`).
    * Table regions (origin = workspace centre): left ``x <= -0.10``, right ``x >= 0.10``,
      front ``y <= -0.08``, back ``y >= 0.10``, centre ``|x| <= 0.08 and |y| <= 0.07``
      (:data:`TABLE_REGIONS`). Place targets for these names: :data:`LOCATION_POINTS`.
    * Size: with two or more candidates left, "small"/"smaller"/"smallest" (or large) only
      when the target's bounding-box volume is at least 1.5 times smaller (larger) than
      every other candidate's (:data:`SIZE_RATIO`); with one candidate, absolute: small
      when the largest extent is <= 0.075 m, large when >= 0.21 m.

Seen / unseen split (language generalisation)
    Some verbs (:data:`UNSEEN_ONLY_VERBS`: fetch, hoist, relocate, transfer, nudge, tug,
    crack open, snap shut, swivel, twist, decant, dump, deliver), some noun synonyms
    (:data:`UNSEEN_ONLY_NOUNS`, one per object type, never the canonical noun) and whole
    frame shapes (:data:`UNSEEN_ONLY_TEMPLATES`: "How about ...ing?", "Your next job is to
    ...", "If you could ..., that would be great.", "What I need is ...", "<Object>: ...,
    if you would.") occur only with ``split="unseen"``; :data:`UNSEEN_ONLY_SYNONYMS` is the
    union of the verbs and nouns, :func:`unseen_only_items` finds them in a text. The seen
    split never produces them. In the unseen split each instruction is forced, with
    probability :data:`P_NOVEL` (0.5), to use one unseen-only item (a verb, a frame or,
    when the target has one, a noun); otherwise it draws from the whole inventory.

Determinism
    Everything is drawn from the ``rng`` argument in a fixed order; the same generator
    state and scene give the same instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import Any

import numpy as np

from unihm_core import language
from unihm_core.data.objects import ObjectInstance
from unihm_core.data.scenes import SceneSpec
from unihm_core.errors import InputError, UniHMError

TASKS = language.TASKS
LOCATIONS = language.LOCATIONS

#: Place target (x, y) [m] of each named table location (world = table frame, origin at the
#: workspace centre; the workspace spans x in [-0.30, 0.30], y in [-0.20, 0.22]).
LOCATION_POINTS: dict[str, tuple[float, float]] = {
    "left": (-0.22, 0.0), "right": (0.22, 0.0), "front": (0.0, -0.14), "back": (0.0, 0.17), "centre": (0.0, 0.02),
}

RELATION_MARGIN = 0.04        # [m] minimum offset along the relation's axis
NEXT_TO_DISTANCE = 0.17       # [m] maximum centre distance for "next to"
SUPERLATIVE_MARGIN = 0.03     # [m] lead of the extreme object over the runner-up
SIZE_RATIO = 1.5              # bounding-box volume ratio for relative size words
ABS_SMALL_MAX_EXTENT = 0.075  # [m] largest extent of an absolutely "small" object
ABS_LARGE_MAX_EXTENT = 0.21   # [m] largest extent of an absolutely "large" object
EXTRA_ATTRIBUTE_DECAY = 0.55  # relative weight of each attribute beyond the minimum needed
P_NOVEL = 0.5                 # unseen split: probability that an instruction is forced to use an unseen-only item

#: Table regions for referring to an object by where it stands: name -> predicate on (x, y) [m].
TABLE_REGIONS: dict[str, Any] = {
    "left": lambda x, y: x <= -0.10,
    "right": lambda x, y: x >= 0.10,
    "front": lambda x, y: y <= -0.08,
    "back": lambda x, y: y >= 0.10,
    "centre": lambda x, y: abs(x) <= 0.08 and abs(y) <= 0.07,
}

RELATIONS = language.RELATIONS
SUPERLATIVES = language.SPATIAL_SUPERLATIVES
SIZES: tuple[str, ...] = ("small", "large")

# --------------------------------------------------------------------------------------
# vocabulary
# --------------------------------------------------------------------------------------

#: Noun synonyms reserved for the unseen split (one per object type; never a canonical noun).
UNSEEN_ONLY_NOUNS: frozenset[str] = frozenset({
    "snack box", "sugar packet", "dessert box", "tin of soup", "tuna tin", "coffee tin", "aerosol can",
    "condiment bottle", "cleanser bottle", "tea mug", "tumbler", "basin", "saucer", "fuzzy ball", "mandarin",
    "lime", "curved fruit", "timber block", "toy block", "scrubbing sponge", "felt-tip pen", "chest of drawers",
    "storage box", "jelly box", "luncheon meat tin", "water jug", "soft brick", "electric drill", "shears",
    "hand clamp",
})

#: Verbs reserved for the unseen split (every inflection counts; see :func:`unseen_only_items`).
UNSEEN_ONLY_VERBS: tuple[str, ...] = (
    "fetch", "hoist", "relocate", "transfer", "nudge", "tug", "crack open", "snap shut", "swivel", "twist",
    "decant", "dump", "deliver",
)
#: inflections of each unseen-only verb, as regular expressions ("crack" must not hit "cracker")
_VERB_PATTERNS = {"fetch": r"fetch(es|ed|ing)?", "hoist": r"hoist(s|ed|ing)?", "relocate": r"relocat(e|es|ed|ing)",
                  "transfer": r"transfer(s|red|ring)?", "nudge": r"nudg(e|es|ed|ing)", "tug": r"tug(s|ged|ging)?",
                  "crack open": r"crack(s|ed|ing)?", "snap shut": r"snap(s|ped|ping)?",
                  "swivel": r"swivel(s|led|ling|ed|ing)?", "twist": r"twist(s|ed|ing)?",
                  "decant": r"decant(s|ed|ing)?", "dump": r"dump(s|ed|ing)?", "deliver": r"deliver(s|ed|ing)?"}

UNSEEN_ONLY_SYNONYMS: frozenset[str] = frozenset(UNSEEN_ONLY_NOUNS) | frozenset(UNSEEN_ONLY_VERBS)

_COLOUR_WORDS: dict[str, tuple[str, ...]] = {"natural wood": ("wood-coloured", "light brown")}
_CONFUSABLE_COLOURS = {frozenset(p) for p in [("green", "light green"), ("blue", "light blue"),
                                               ("natural wood", "brown"), ("natural wood", "beige")]}
_MATERIAL_WORDS: dict[str, str | None] = {
    "cardboard": "cardboard", "metal": "metal", "plastic": "plastic", "ceramic": "ceramic", "glass": "glass",
    "wood": "wooden", "felt": "felt", "foam": "foam", "rubber": "rubber", "fruit skin": None,
}
#: nouns that carry a colour: only used when the instance has one of these colours
_NOUN_COLOURS = {"red apple": ("red",), "lime": ("light green", "green")}
_SIZE_TOKENS = {"small", "little", "large", "big", "tiny"}
_MATERIAL_TOKENS = {"plastic", "wooden", "wood", "metal", "tin", "ceramic", "glass", "cardboard", "felt", "foam",
                    "rubber"}
_ALL_COLOUR_TOKENS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "grey",
                      "brown", "beige"}

_SIZE_SURFACE = {  # (kind, n_candidates_class) -> words
    ("small", 1): ("small", "little"), ("large", 1): ("large", "big"),
    ("small", 2): ("small", "smaller", "little"), ("large", 2): ("large", "larger", "bigger", "big"),
    ("small", 3): ("smallest", "small"), ("large", 3): ("largest", "biggest"),
}
_SUPERLATIVE_PRE = {"leftmost": ("leftmost",), "rightmost": ("rightmost",), "nearest": ("nearest", "closest"),
                    "farthest": ("farthest", "furthest")}
_SUPERLATIVE_POST = {"leftmost": ("furthest to the left", "on the far left"),
                     "rightmost": ("furthest to the right", "on the far right"),
                     "nearest": ("nearest to me", "closest to me"),
                     "farthest": ("farthest from me", "furthest away from me", "furthest back")}
_RELATION_WORDS = {"left_of": ("left of", "to the left of", "on the left of"),
                   "right_of": ("right of", "to the right of", "on the right of"),
                   "behind": ("behind", "further back than"),
                   "in_front_of": ("in front of", "closer to me than"),
                   "next_to": ("next to", "beside", "near", "by")}
_RELATION_LEAD = ("", "", "", "that is ", "which is ", "sitting ")
_REGION_WORDS = {"left": ("on the left", "on the left side of the table", "on the left-hand side"),
                 "right": ("on the right", "on the right side of the table", "on the right-hand side"),
                 "front": ("at the front", "at the front of the table", "near the front edge"),
                 "back": ("at the back", "at the back of the table", "towards the back"),
                 "centre": ("in the middle", "in the middle of the table", "in the centre of the table")}
#: destination phrases of table locations: "at" (with put/place/set) and "to" (with move/carry)
_LOCATION_AT = {"left": ("on the left side of the table", "on the left", "on the left-hand side of the table",
                         "at the left end of the table"),
                "right": ("on the right side of the table", "on the right", "on the right-hand side of the table",
                          "at the right end of the table"),
                "front": ("at the front of the table", "near the front edge of the table", "close to me"),
                "back": ("at the back of the table", "near the back of the table", "far from me"),
                "centre": ("in the middle of the table", "in the centre of the table", "in the middle")}
_LOCATION_TO = {"left": ("to the left side of the table", "over to the left", "to the left"),
                "right": ("to the right side of the table", "over to the right", "to the right"),
                "front": ("to the front of the table", "towards me", "closer to me"),
                "back": ("to the back of the table", "further back", "over to the back"),
                "centre": ("to the middle of the table", "to the centre of the table", "into the middle")}

_LOCATION_TO_TERSE = {loc: tuple(p for p in phrases if p.startswith(("to the ", "into the ")))
                      for loc, phrases in _LOCATION_TO.items()}

_ANGLE_WORDS = {30: "thirty", 45: "forty-five", 60: "sixty", 90: "ninety", 120: "a hundred and twenty",
                135: "a hundred and thirty-five", 180: "a hundred and eighty"}
_TURN_NOUNS = {45: ("an eighth of a turn",), 90: ("a quarter turn", "a quarter of a turn"),
               180: ("half a turn", "a half turn")}

# --------------------------------------------------------------------------------------
# templates
# --------------------------------------------------------------------------------------
# Slots: {o} target noun phrase, {at}/{to} place phrase (pick_place), {into} receptacle
# phrase (pour), {angle} rotation amount, {turn} rotation as a noun ("a quarter turn").
# Open/close templates are keyed by the articulation kind ("drawer" or "lid").

_V = dict[str, tuple[str, ...]]

VERB_TEMPLATES: dict[str, _V] = {
    "grab": {
        "seen": ("pick up {o}", "pick {o} up", "grab {o}", "lift {o}", "lift {o} up", "lift {o} off the table",
                 "take {o}", "raise {o}", "raise {o} off the table", "grasp {o} and lift it",
                 "get hold of {o} and lift it up", "pick up {o} from the table", "take hold of {o} and raise it",
                 "lift up {o}", "grab {o} and hold it up"),
        "unseen": ("fetch {o}", "hoist {o}", "hoist {o} up", "fetch {o} from the table"),
    },
    "pick_place": {
        "seen": ("put {o} {at}", "place {o} {at}", "set {o} down {at}", "drop {o} {at}", "move {o} {to}",
                 "pick up {o} and put it {at}", "take {o} and place it {at}", "grab {o} and drop it {at}",
                 "put {o} down {at}", "lift {o} and set it down {at}", "carry {o} {to}", "get {o} {to}"),
        "unseen": ("relocate {o} {to}", "transfer {o} {to}", "fetch {o} and put it {at}"),
    },
    "push": {
        "seen": ("push {o}", "push {o} away", "push {o} away from me", "shove {o} away", "shove {o} forward",
                 "slide {o} away", "slide {o} away from me", "push {o} further back",
                 "push {o} towards the back of the table", "give {o} a push away from me", "slide {o} forward",
                 "push {o} forward"),
        "unseen": ("nudge {o} away", "nudge {o} away from me", "nudge {o} forward"),
    },
    "pull": {
        "seen": ("pull {o}", "pull {o} towards me", "pull {o} closer", "drag {o} towards me",
                 "drag {o} closer to me", "slide {o} towards me", "pull {o} over to me", "pull {o} back towards me",
                 "slide {o} closer to me", "drag {o} over to me"),
        "unseen": ("tug {o} towards me", "tug {o} closer"),
    },
    "open:drawer": {
        "seen": ("open {o}", "pull {o} open", "pull open {o}", "slide {o} open", "slide open {o}", "open up {o}"),
        "unseen": ("crack open {o}", "crack {o} open"),
    },
    "open:lid": {
        "seen": ("open {o}", "lift the lid of {o}", "lift the lid off {o}", "take the lid off {o}", "flip open {o}",
                 "flip {o} open", "open up {o}"),
        "unseen": ("crack open {o}", "crack {o} open"),
    },
    "close:drawer": {
        "seen": ("close {o}", "shut {o}", "push {o} closed", "push {o} shut", "slide {o} shut", "slide {o} closed",
                 "push {o} back in"),
        "unseen": ("snap {o} shut", "snap shut {o}"),
    },
    "close:lid": {
        "seen": ("close {o}", "shut {o}", "close the lid of {o}", "put the lid back on {o}", "lower the lid of {o}",
                 "flip {o} shut"),
        "unseen": ("snap {o} shut", "snap shut {o}"),
    },
    "rotate": {
        "seen": ("rotate {o}", "turn {o}", "spin {o}", "rotate {o} in place", "turn {o} in place",
                 "rotate {o} {angle}", "turn {o} {angle}", "spin {o} {angle}", "rotate {o} in place {angle}",
                 "give {o} {turn}"),
        "unseen": ("swivel {o}", "swivel {o} {angle}", "twist {o} {angle}", "twist {o}"),
    },
    "pour": {
        "seen": ("pour out {o}", "pour {o} out", "tip out {o}", "tip {o}", "empty {o}", "empty out {o}",
                 "pour out the contents of {o}", "tip out the contents of {o}", "pour {o} {into}",
                 "empty {o} {into}", "tip the contents of {o} {into}", "pour the contents of {o} {into}",
                 "pour out {o} {into}"),
        "unseen": ("dump out {o}", "dump {o} out", "decant {o} {into}", "dump the contents of {o} {into}"),
    },
    "handover": {
        "seen": ("hand me {o}", "hand {o} to me", "hand {o} over", "pass me {o}", "pass {o} to me", "pass {o} over",
                 "give me {o}", "give {o} to me", "bring {o} to me", "bring me {o}", "pick up {o} and hand it to me",
                 "grab {o} and give it to me", "hand {o} over to me"),
        "unseen": ("fetch me {o}", "fetch {o} for me", "deliver {o} to me"),
    },
}

#: Past participles for the descriptive register ("I need the mug {pp}.").
PARTICIPLES: dict[str, _V] = {
    "grab": {"seen": ("picked up", "lifted", "lifted off the table", "raised", "lifted up", "held up"),
             "unseen": ("hoisted", "hoisted up")},
    "pick_place": {"seen": ("put {at}", "placed {at}", "moved {to}", "set down {at}", "carried {to}"),
                   "unseen": ("relocated {to}", "transferred {to}")},
    "push": {"seen": ("pushed away", "pushed away from me", "slid away from me", "pushed further back",
                      "shoved away"),
             "unseen": ("nudged away", "nudged forward")},
    "pull": {"seen": ("pulled towards me", "dragged closer to me", "pulled closer", "slid towards me",
                      "dragged towards me"),
             "unseen": ("tugged towards me",)},
    "open:drawer": {"seen": ("opened", "pulled open", "slid open"), "unseen": ("cracked open",)},
    "open:lid": {"seen": ("opened", "flipped open"), "unseen": ("cracked open",)},
    "close:drawer": {"seen": ("closed", "shut", "pushed closed", "slid shut"), "unseen": ("snapped shut",)},
    "close:lid": {"seen": ("closed", "shut", "flipped shut"), "unseen": ("snapped shut",)},
    "rotate": {"seen": ("rotated", "turned", "rotated {angle}", "turned {angle}", "spun {angle}"),
               "unseen": ("swivelled", "swivelled {angle}", "twisted {angle}")},
    "pour": {"seen": ("emptied", "poured out", "tipped out", "emptied {into}", "poured out {into}", "poured {into}"),
             "unseen": ("dumped out", "decanted {into}")},
    "handover": {"seen": ("handed to me", "passed to me", "given to me", "brought over to me", "handed over"),
                 "unseen": ("fetched for me", "delivered to me")},
}

#: Terse, noun-first templates per task ({o} may be a bare noun phrase: "Red mug, please.").
TERSE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "grab": ("{o}: pick it up.", "{o}, lift it, please."),
    "pick_place": ("{o} {to}.", "{o} {to}, please."),
    "push": ("{o} away from me, please.", "{o}: push it away."),
    "pull": ("{o} towards me, please.", "{o}: pull it closer."),
    "open": ("{o}: open it.", "{o}: open it, please."),
    "close": ("{o}: close it.", "{o}: shut it, please."),
    "rotate": ("{o}: rotate it.", "{o}: turn it {angle}."),
    "pour": ("{o}: empty it.", "{o}: pour it {into}."),
    "handover": ("{o}, please.", "{o} to me, please.", "{o} over here, please."),
}

#: Frames: (register, pattern). {VP} verb phrase, {VPing} its gerund form, {o} + {vp_it}
#: noun phrase and the verb phrase with "it", {o} + {pp} descriptive participle.
FRAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "seen": (
        ("imperative", "{VP}."), ("imperative", "{VP}, please."), ("imperative", "Now {VP}."),
        ("imperative", "Go ahead and {VP}."), ("imperative", "Just {VP}."),
        ("polite", "Please {VP}."), ("polite", "Could you please {VP}?"), ("polite", "Would you {VP}, please?"),
        ("polite", "Kindly {VP}."), ("polite", "Could you {VP} for me?"), ("polite", "Would you mind {VPing}?"),
        ("question", "Can you {VP}?"), ("question", "Are you able to {VP}?"), ("question", "Will you {VP}?"),
        ("desire", "I'd like you to {VP}."), ("desire", "I want you to {VP}."), ("desire", "Your task is to {VP}."),
        ("desire", "The goal is to {VP}."), ("desire", "Try to {VP}."),
        ("two_step", "See {o}? {vp_it}."), ("two_step", "Find {o} and {vp_it}."),
        ("two_step", "Look for {o}, then {vp_it}."), ("two_step", "Do you see {o}? Please {vp_it}."),
        ("descriptive", "I need {o} {pp}."), ("descriptive", "I'd like {o} {pp}."),
        ("descriptive", "I want {o} {pp}, please."), ("descriptive", "{o} should be {pp}."),
        ("descriptive", "{o} needs to be {pp}."), ("descriptive", "Could I have {o} {pp}?"),
    ),
    "unseen": (
        ("question", "How about {VPing}?"), ("desire", "Your next job is to {VP}."),
        ("polite", "If you could {VP}, that would be great."), ("descriptive", "What I need is {o} {pp}."),
        ("two_step", "{o}: {vp_it}, if you would."),
    ),
}

#: The unseen-only frame shapes (patterns as written in :data:`FRAMES`).
UNSEEN_ONLY_TEMPLATES: tuple[str, ...] = tuple(p for _, p in FRAMES["unseen"])
#: Regular expressions that identify each unseen-only frame in a finished text.
_UNSEEN_FRAME_MARKERS: tuple[str, ...] = (r"^How about ", r"^Your next job is to ", r", that would be great\.$",
                                          r"^What I need is ", r", if you would\.$")

_REGISTER_WEIGHTS = {"vp": 0.55, "two_step": 0.12, "descriptive": 0.2, "terse": 0.13}
_PARTICLES_AFTER_O = {"up", "open", "closed", "shut", "out", "over", "down"}
_NO_PRONOUN_BEFORE_O = {"up", "out", "open", "me", "of", "shut"}
_DOUBLE_FINAL = {"put", "drop", "set", "get", "grab", "shut", "spin", "tip", "drag", "tug", "snap", "swivel", "flip"}


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One generated instruction and how it was made.

    Attributes:
        text: the instruction.
        task: task family (one of :data:`TASKS`).
        split: language split it was generated for.
        register: imperative, polite, question, desire, two_step, descriptive or terse.
        frame: the frame pattern (or terse template) used.
        verb_template: the verb-phrase / participle template ("" for terse templates).
        target_attrs: referring attributes of the target phrase (see :func:`referents`).
        place_attrs: referring attributes of the receptacle phrase, ``{"location": name}``
            for table locations, or None.
        unseen_only: unseen-only items used ("verb:fetch", "noun:tumbler", "frame:...").
    """

    text: str
    task: str
    split: str
    register: str
    frame: str
    verb_template: str
    target_attrs: dict
    place_attrs: dict | None
    unseen_only: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------
# semantics: nouns, colours, referents
# --------------------------------------------------------------------------------------


def _head(noun: str) -> str:
    """Head word of a noun phrase ("box of crackers" -> "box", "cup with a handle" -> "cup")."""
    words = noun.split()
    for sep in ("of", "with"):
        if sep in words[1:]:
            words = words[:words.index(sep)]
            break
    return words[-1]


def noun_denotes(noun: str, instance: ObjectInstance) -> bool:
    """True when ``noun`` can refer to ``instance`` (one of its nouns, or a bare head word of one)."""
    return _denotes(noun, instance.nouns)


@lru_cache(maxsize=4096)
def _denotes(noun: str, nouns: tuple[str, ...]) -> bool:
    if noun in nouns:
        return True
    return " " not in noun and any(_head(n) == noun for n in nouns)


def _colours_match(a: str, b: str) -> bool:
    return a == b or frozenset((a, b)) in _CONFUSABLE_COLOURS


def _volume(inst: ObjectInstance) -> float:
    return float(np.prod(inst.size))


def _relation_holds(kind: str, p: np.ndarray, q: np.ndarray) -> bool:
    """Does an object at xy ``p`` stand in relation ``kind`` to a landmark at xy ``q``?"""
    dx, dy = q[0] - p[0], q[1] - p[1]
    if kind == "left_of":
        return dx >= RELATION_MARGIN and abs(dx) >= abs(dy)
    if kind == "right_of":
        return -dx >= RELATION_MARGIN and abs(dx) >= abs(dy)
    if kind == "behind":
        return -dy >= RELATION_MARGIN and abs(dy) >= abs(dx)
    if kind == "in_front_of":
        return dy >= RELATION_MARGIN and abs(dy) >= abs(dx)
    if kind == "next_to":
        return float(np.hypot(dx, dy)) <= NEXT_TO_DISTANCE
    raise InputError(f"unknown spatial relation {kind!r}; use one of {RELATIONS}")


_ATTR_KEYS = {"noun", "colour", "material", "size", "location", "relation", "superlative"}


def _static_candidates(attrs: dict, scene: SceneSpec) -> list[int]:
    """Objects matching the phrase's noun, colour and material."""
    objs = scene.objects
    noun = attrs["noun"]
    cand = [i for i, o in enumerate(objs) if _denotes(noun, o.instance.nouns)]
    if attrs.get("colour") is not None:
        cand = [i for i in cand if _colours_match(objs[i].instance.colour_name, attrs["colour"])]
    if attrs.get("material") is not None:
        cand = [i for i in cand if objs[i].instance.material == attrs["material"]]
    return cand


def _resolve(attrs: dict, scene: SceneSpec, memo: dict | None = None) -> tuple[list[int], bool, int]:
    """Referent indices, whether a superlative was vacuous (one candidate), and the size-grading set size.

    ``memo`` (used by the option enumeration) caches noun/colour/material candidates by
    those three values and landmark referents by the landmark dict's ``id`` (valid only
    while the caller keeps those dicts alive and unchanged)."""
    unknown = set(attrs) - _ATTR_KEYS
    if unknown or "noun" not in attrs:
        raise InputError(f"phrase attributes need 'noun' and only keys from {sorted(_ATTR_KEYS)}; got {sorted(attrs)}")
    objs = scene.objects
    if memo is None:
        cand = _static_candidates(attrs, scene)
    else:
        skey = ("static", attrs["noun"], attrs.get("colour"), attrs.get("material"))
        if skey not in memo:
            memo[skey] = _static_candidates(attrs, scene)
        cand = memo[skey]
    if memo is not None and "xy" in memo:
        xy = memo["xy"]
    else:
        xy = [o.pose[:2, 3] for o in objs] if len(attrs) > 1 or memo is not None else []
        if memo is not None:
            memo["xy"] = xy
    if attrs.get("location") is not None:
        loc = attrs["location"]
        if loc not in TABLE_REGIONS:
            raise InputError(f"unknown table region {loc!r}; use one of {LOCATIONS}")
        cand = [i for i in cand if TABLE_REGIONS[loc](*xy[i])]
    rel = attrs.get("relation")
    if rel is not None:
        lm_key = id(rel["landmark"])
        if memo is not None and lm_key in memo:
            landmarks = memo[lm_key]
        else:
            landmarks = _resolve(rel["landmark"], scene)[0]
            if memo is not None:
                memo[lm_key] = landmarks
        cand = [i for i in cand if any(j != i and _relation_holds(rel["kind"], xy[i], xy[j]) for j in landmarks)]
    size_n = len(cand)
    size = attrs.get("size")
    if size is not None:
        if size not in SIZES:
            raise InputError(f"unknown size word {size!r}; use one of {SIZES}")
        if len(cand) == 1:
            ext = max(objs[cand[0]].instance.size)
            ok = ext <= ABS_SMALL_MAX_EXTENT if size == "small" else ext >= ABS_LARGE_MAX_EXTENT
            cand = cand if ok else []
        elif len(cand) >= 2:
            vol = {i: _volume(objs[i].instance) for i in cand}
            order = sorted(cand, key=lambda i: vol[i], reverse=(size == "large"))
            a, b = vol[order[0]], vol[order[1]]
            lead = b / a if size == "small" else a / b
            cand = [order[0]] if lead >= SIZE_RATIO else cand
    vacuous = False
    sup = attrs.get("superlative")
    if sup is not None:
        if sup not in SUPERLATIVES:
            raise InputError(f"unknown superlative {sup!r}; use one of {SUPERLATIVES}")
        if len(cand) == 1:
            vacuous = True
        elif len(cand) >= 2:
            key = {"leftmost": lambda i: xy[i][0], "rightmost": lambda i: -xy[i][0],
                   "nearest": lambda i: xy[i][1], "farthest": lambda i: -xy[i][1]}[sup]
            order = sorted(cand, key=key)
            cand = [order[0]] if key(order[1]) - key(order[0]) >= SUPERLATIVE_MARGIN else cand
    return cand, vacuous, size_n


def referents(phrase_attrs: dict, scene: SceneSpec) -> list[int]:
    """Indices (into ``scene.objects``) of the objects a referring phrase can denote.

    ``phrase_attrs`` keys: ``noun`` (required, a noun phrase), ``colour`` (a colour name of
    :data:`~unihm_core.data.objects.COLOUR_RGB`), ``material`` (a material word of the
    registry), ``size`` ("small" / "large"), ``location`` (a table region of
    :data:`TABLE_REGIONS`), ``relation`` (``{"kind": one of RELATIONS, "landmark":
    <phrase_attrs of the landmark>}``), ``superlative`` (one of :data:`SUPERLATIVES`).
    Filters apply in the order noun, colour, material, location, relation; size and
    superlative then grade what is left (see the module docstring for the thresholds).
    """
    return _resolve(phrase_attrs, scene)[0]


def is_unambiguous(phrase_attrs: dict, scene: SceneSpec, index: int | None = 0) -> bool:
    """True when the phrase denotes exactly one object: object ``index`` (the target by
    default), or any single object when ``index`` is None."""
    refs = referents(phrase_attrs, scene)
    return len(refs) == 1 and (index is None or refs[0] == index)


# --------------------------------------------------------------------------------------
# noun-phrase options and rendering
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NPOption:
    attrs: dict
    n_attrs: int          # attributes beyond the noun (a relation counts its landmark's attributes too)
    unambiguous: bool
    n_refs: int
    size_n: int


def _nouns_for(inst: ObjectInstance, split: str) -> list[str]:
    out = []
    for n in inst.nouns:
        if split != "unseen" and n in UNSEEN_ONLY_NOUNS:
            continue
        if n in _NOUN_COLOURS and inst.colour_name not in _NOUN_COLOURS[n]:
            continue
        out.append(n)
    return out or [inst.nouns[0]]


def _n_attrs(attrs: dict) -> int:
    n = sum(attrs.get(k) is not None for k in ("colour", "material", "size", "location", "superlative"))
    if attrs.get("relation") is not None:
        n += 1 + _n_attrs(attrs["relation"]["landmark"])
    return n


def _base_combos(inst: ObjectInstance, split: str) -> list[dict]:
    """Noun x colour x material x size combinations that are well-formed for ``inst``."""
    combos = []
    material_word = _MATERIAL_WORDS.get(inst.material)
    for noun in _nouns_for(inst, split):
        tokens = set(noun.replace("-", " ").split())
        colours = [None] if tokens & _ALL_COLOUR_TOKENS or noun in _NOUN_COLOURS else [None, inst.colour_name]
        materials = [None] if material_word is None or tokens & _MATERIAL_TOKENS else [None, inst.material]
        sizes = [None] if tokens & _SIZE_TOKENS else [None, *SIZES]
        if noun.split()[0] in _SIZE_TOKENS:  # "small box": no "the pink small box"; the noun stays verbatim
            colours, materials = [None], [None]
        for c, m, s in product(colours, materials, sizes):
            combos.append({"noun": noun, "colour": c, "material": m, "size": s})
    return combos


def _options(scene: SceneSpec, k: int, split: str, *, spatial: bool, exclude_landmarks: frozenset[int] = frozenset(),
             no_regions: bool = False) -> list[_NPOption]:
    """Every true referring phrase for object ``k``, with its ambiguity."""
    inst = scene.objects[k].instance
    spatial_parts: list[dict] = [{}]
    if spatial:
        spatial_parts += [{"superlative": s} for s in SUPERLATIVES]
        if not no_regions:
            spatial_parts += [{"location": r} for r in LOCATIONS]
        xy = [o.pose[:2, 3] for o in scene.objects]
        for j in range(len(scene.objects)):
            if j == k or j in exclude_landmarks:
                continue
            kinds = [r for r in RELATIONS if _relation_holds(r, xy[k], xy[j])]
            if not kinds:
                continue
            lm = [o for o in _options(scene, j, split, spatial=False) if o.unambiguous]
            if not lm:
                continue
            best = min(o.n_attrs for o in lm)
            lm = [o for o in lm if o.n_attrs == best]
            for kind in kinds:
                for o in lm:
                    spatial_parts.append({"relation": {"kind": kind, "landmark": o.attrs}})
    out = []
    memo: dict = {}  # landmark referents; the landmark dicts live in spatial_parts for the whole loop
    for base in _base_combos(inst, split):
        for sp in spatial_parts:
            attrs = {key: v for key, v in {**base, **sp}.items() if v is not None}
            refs, vacuous, size_n = _resolve(attrs, scene, memo)
            if k not in refs or vacuous:
                continue  # false (or a vacuous superlative)
            out.append(_NPOption(attrs, _n_attrs(attrs), refs == [k], len(refs), size_n))
    return out


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _choose_option(rng: np.random.Generator, options: list[_NPOption]) -> _NPOption | None:
    """Prefer unambiguous phrasings with few attributes (see :data:`EXTRA_ATTRIBUTE_DECAY`)."""
    if not options:
        return None
    pool = [o for o in options if o.unambiguous]
    if not pool:
        fewest = min(o.n_refs for o in options)
        pool = [o for o in options if o.n_refs == fewest]
    levels = sorted({o.n_attrs for o in pool})
    w = np.array([EXTRA_ATTRIBUTE_DECAY ** (lv - levels[0]) for lv in levels])
    level = levels[int(rng.choice(len(levels), p=w / w.sum()))]
    return _pick(rng, [o for o in pool if o.n_attrs == level])


def _colour_word(rng: np.random.Generator, name: str) -> str:
    return _pick(rng, _COLOUR_WORDS.get(name, (name,)))


def _render_np(rng: np.random.Generator, opt: _NPOption, *, det: bool = True,
               post_ok: bool = True) -> str:
    a = opt.attrs
    pre, post = [], []
    sup = a.get("superlative")
    if sup is not None:
        if post_ok and rng.random() < 0.5:
            post.append(_pick(rng, _SUPERLATIVE_POST[sup]))
        else:
            pre.append(_pick(rng, _SUPERLATIVE_PRE[sup]))
    if a.get("size") is not None:
        pre.append(_pick(rng, _SIZE_SURFACE[(a["size"], min(opt.size_n, 3) if opt.size_n >= 1 else 1)]))
    if a.get("colour") is not None:
        pre.append(_colour_word(rng, a["colour"]))
    if a.get("material") is not None:
        pre.append(_MATERIAL_WORDS[a["material"]])
    if a.get("location") is not None:
        post.append(_pick(rng, _REGION_WORDS[a["location"]]))
    rel = a.get("relation")
    if rel is not None:
        lm = _render_landmark(rng, rel["landmark"])
        post.append(_pick(rng, _RELATION_LEAD) + _pick(rng, _RELATION_WORDS[rel["kind"]]) + " " + lm)
    words = (["the"] if det else []) + pre + [a["noun"]] + post
    return " ".join(words)


def _render_landmark(rng: np.random.Generator, attrs: dict) -> str:
    pre = []
    if attrs.get("size") is not None:
        pre.append(_pick(rng, _SIZE_SURFACE[(attrs["size"], 1)]))
    if attrs.get("colour") is not None:
        pre.append(_colour_word(rng, attrs["colour"]))
    if attrs.get("material") is not None:
        pre.append(_MATERIAL_WORDS[attrs["material"]])
    return " ".join(["the", *pre, attrs["noun"]])


# --------------------------------------------------------------------------------------
# verb-phrase helpers
# --------------------------------------------------------------------------------------


def _gerund_word(verb: str) -> str:
    if verb in _DOUBLE_FINAL:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _gerund(template: str) -> str:
    """Gerund form of a verb-phrase template: its first verb and every verb after " and "
    ("take {o} and place it {at}" -> "taking {o} and placing it {at}")."""
    words = template.split(" ")
    for i, w in enumerate(words):
        if i == 0 or words[i - 1] == "and":
            words[i] = _gerund_word(w)
    return " ".join(words)


def _word_before_o(t: str) -> str:
    before = t.split("{o}")[0].split()
    return before[-1] if before else ""


def _word_after_o(t: str) -> str:
    after = t.split("{o}", 1)[1].split() if "{o}" in t else []
    return after[0] if after else ""


def _pronoun_ok(t: str) -> bool:
    return "{o}" in t and _word_before_o(t) not in _NO_PRONOUN_BEFORE_O


def _needs_short_np(t: str) -> bool:
    return _word_after_o(t) in _PARTICLES_AFTER_O


def _angle_phrases(angle_deg: float) -> list[str]:
    mag = int(round(abs(angle_deg)))
    nums = [f"{mag}"] + ([_ANGLE_WORDS[mag]] if mag in _ANGLE_WORDS else [])
    dirs = [] if mag == 0 else (["anticlockwise", "counter-clockwise", "counterclockwise"] if angle_deg > 0
                                else ["clockwise"])
    out = []
    for num in nums:
        out += [f"by {num} degrees", f"{num} degrees"]
        for d in dirs:
            out += [f"by {num} degrees {d}", f"{num} degrees {d}", f"{d} by {num} degrees"]
    return out


def _turn_phrases(angle_deg: float) -> list[str]:
    mag = int(round(abs(angle_deg)))
    base = list(_TURN_NOUNS.get(mag, ()))
    if not base:
        return []
    if angle_deg > 0:
        return base + [f"{b} anticlockwise" for b in base]
    return base + [f"{b} clockwise" for b in base]


def _receptacle_preps(inst: ObjectInstance) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(static, directional) prepositions for putting something into / onto a receptacle."""
    if inst.category == "plate":
        return ("on", "onto"), ("onto",)
    return ("in", "into", "inside"), ("into",)


def unseen_only_items(text: str) -> list[str]:
    """Unseen-only verbs, nouns and frames found in ``text`` ("verb:fetch", "noun:tumbler", "frame:...")."""
    low = text.lower()
    found = []
    for verb in UNSEEN_ONLY_VERBS:
        if re.search(rf"\b{_VERB_PATTERNS[verb]}\b", low):
            found.append(f"verb:{verb}")
    for noun in sorted(UNSEEN_ONLY_NOUNS):
        if re.search(rf"\b{re.escape(noun)}\b", low):
            found.append(f"noun:{noun}")
    for pattern, marker in zip(UNSEEN_ONLY_TEMPLATES, _UNSEEN_FRAME_MARKERS):
        if re.search(marker, text):
            found.append(f"frame:{pattern}")
    return found


def _finish(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.?:])", r"\1", text)
    text = text[0].upper() + text[1:]
    return re.sub(r"([.?!]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


# --------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------


def _template_key(task: str, scene: SceneSpec) -> str:
    if task not in ("open", "close"):
        return task
    joint = scene.target.instance.joint
    if joint is None:
        raise InputError(f"task {task!r} needs an articulated target (drawer or lidded box); "
                         f"the target is a {scene.target.instance.name}")
    return f"{task}:{'drawer' if joint.kind == 'prismatic' else 'lid'}"


def _check_place(task: str, scene: SceneSpec, place: dict | None) -> tuple[int | None, str | None]:
    """(receptacle index, location name) from ``place`` after validation."""
    if place is None:
        if task == "pick_place":
            rec = next((k for k, o in enumerate(scene.objects) if o.role == "receptacle"), None)
            if rec is None:
                raise InputError("pick_place needs a place: pass place={'receptacle_index': k} or "
                                 "place={'location': 'left'|'right'|'front'|'back'|'centre'}")
            return rec, None
        return None, None
    if task not in ("pick_place", "pour"):
        raise InputError(f"task {task!r} takes no place; pass place=None")
    unknown = set(place) - {"receptacle_index", "location", "xyz"}
    if unknown or (("receptacle_index" in place) == ("location" in place)):
        raise InputError(f"place must hold exactly one of 'receptacle_index' or 'location' (and optionally 'xyz'); "
                         f"got {sorted(place)}")
    if "location" in place:
        if task == "pour":
            raise InputError("pour takes a receptacle, not a table location")
        if place["location"] not in LOCATIONS:
            raise InputError(f"unknown place location {place['location']!r}; use one of {LOCATIONS}")
        return None, place["location"]
    k = int(place["receptacle_index"])
    if not 1 <= k < len(scene.objects):
        raise InputError(f"receptacle_index {k} out of range: the scene has objects 1..{len(scene.objects) - 1} "
                         "besides the target (index 0)")
    if not scene.objects[k].instance.spec.is_receptacle:
        raise InputError(f"object {k} ({scene.objects[k].instance.name}) is not a receptacle")
    return k, None


def generate_instructions(task: str, scene: SceneSpec, rng: np.random.Generator, *, place: dict | None = None,
                          n: int = 5, split: str = "seen", angle_deg: float | None = None) -> list[Instruction]:
    """``n`` distinct instructions for manipulating the scene's target, with their makings.

    Args:
        task: one of :data:`TASKS`.
        scene: the scene; its object 0 is the target.
        rng: the only source of randomness.
        place: None, ``{"receptacle_index": k}`` (index into ``scene.objects``) or
            ``{"location": name}`` with a name of :data:`LOCATIONS` (an extra ``"xyz"`` key
            is allowed and ignored). ``pick_place`` without a place uses the scene's
            receptacle; ``pour`` accepts a receptacle; other tasks take none.
        n: number of distinct instructions (>= 1).
        split: ``"seen"`` or ``"unseen"`` language (see the module docstring).
        angle_deg: rotate only: signed rotation about world z [deg] (positive =
            anticlockwise seen from above); None keeps the amount unspoken.

    Raises:
        InputError: unknown task or split, a place the task cannot take, open/close on a
            non-articulated target, or fewer than ``n`` distinct instructions possible.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if split not in ("seen", "unseen"):
        raise InputError(f"split must be 'seen' or 'unseen', got {split!r}")
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    if angle_deg is not None and task != "rotate":
        raise InputError(f"angle_deg only applies to task 'rotate', not {task!r}")
    key = _template_key(task, scene)
    rec_k, loc = _check_place(task, scene, place)
    unseen = split == "unseen"

    tgt_opts = _options(scene, 0, split, spatial=True,
                        exclude_landmarks=frozenset() if rec_k is None else frozenset({rec_k}),
                        no_regions=loc is not None)
    has_unamb = any(o.unambiguous for o in tgt_opts)
    rec_opts = (_options(scene, rec_k, split, spatial=True, exclude_landmarks=frozenset({0}))
                if rec_k is not None else [])
    angle_ph = _angle_phrases(angle_deg) if angle_deg is not None else []
    turn_ph = _turn_phrases(angle_deg) if angle_deg is not None else []

    def slots_ok(t: str) -> bool:
        if ("{at}" in t or "{to}" in t) and rec_k is None and loc is None:
            return False
        if "{into}" in t and rec_k is None:
            return False
        if "{into}" not in t and task == "pour" and rec_k is not None:
            return False  # pour with a receptacle must say where
        if "{angle}" in t and not angle_ph:
            return False
        return not ("{turn}" in t and not turn_ph)

    verbs = {s: [t for t in VERB_TEMPLATES[key][s] if slots_ok(t)] for s in ("seen", "unseen")}
    parts = {s: [t for t in PARTICIPLES[key][s] if slots_ok(t)] for s in ("seen", "unseen")}
    terse = [t for t in TERSE_TEMPLATES[task] if slots_ok(t)]
    frames = {"seen": FRAMES["seen"], "unseen": FRAMES["unseen"]}

    out: list[Instruction] = []
    seen_texts: set[str] = set()
    for _ in range(80 * n):
        if len(out) == n:
            break
        novel = None
        if unseen and rng.random() < P_NOVEL:
            kinds = ["verb", "frame"]
            if any(o.unambiguous == has_unamb and o.attrs["noun"] in UNSEEN_ONLY_NOUNS for o in tgt_opts):
                kinds.append("noun")
            novel = _pick(rng, kinds)
        # 1. frame
        if novel == "frame":
            register, frame = _pick(rng, frames["unseen"])
        else:
            pool = list(frames["seen"]) + (list(frames["unseen"]) if unseen and novel is None else [])
            group = _pick_group(rng, terse_ok=bool(terse) and novel != "verb")
            if group == "terse":
                register, frame = "terse", _pick(rng, terse)
            else:
                pool = [f for f in pool if _frame_group(f[1]) == group]
                register, frame = _pick(rng, pool)
        group = _frame_group(frame) if register != "terse" else "terse"
        # 2. verb phrase / participle
        if group == "terse":
            vt = ""
        else:
            src = parts if group == "descriptive" else verbs
            if novel == "verb":
                cands = list(src["unseen"])
            else:
                cands = list(src["seen"]) + (list(src["unseen"]) if unseen and novel is None else [])
            if "for me" in frame:  # no "Could you hand me the mug for me?"
                cands = [t for t in cands if not re.search(r"\bme\b", t)]
                if task != "handover":  # "Could you fetch the mug for me?" hands it over
                    cands = [t for t in cands if not t.startswith("fetch")]
            if group == "two_step":  # "Find the mug and pick it up": no compound verb phrases here
                cands = [t for t in cands if _pronoun_ok(t) and " and " not in t]
            if not cands:
                continue
            vt = _pick(rng, cands)
        # 3. target noun phrase
        # particle after the object ("pick {o} up") or terse text after it ("{o} {to}."):
        # no post-modifiers on the noun phrase
        short = (group == "vp" and _needs_short_np(vt)) or (
            group == "terse" and not frame.split("{o}", 1)[1].lstrip().startswith((":", ",")))
        lid_words = re.search(r"\blid\b", vt) is not None  # "lift the lid of the box with a lid"
        opts = [o for o in tgt_opts
                if not (short and ("relation" in o.attrs or "location" in o.attrs))
                and not (lid_words and "lid" in o.attrs["noun"])]
        if novel == "noun":
            opts = [o for o in opts if o.attrs["noun"] in UNSEEN_ONLY_NOUNS]
        elif not unseen:
            opts = [o for o in opts if o.attrs["noun"] not in UNSEEN_ONLY_NOUNS]
        if has_unamb and not any(o.unambiguous for o in opts):
            continue
        opt = _choose_option(rng, opts)
        if opt is None:
            continue
        bare = group == "terse" and rng.random() < 0.5 and not {"relation", "location"} & set(opt.attrs)
        np_text = _render_np(rng, opt, det=not bare, post_ok=not short)
        # 4. place phrases
        fills: dict[str, str] = {}
        place_attrs = None
        if rec_k is not None:
            ropt = _choose_option(rng, rec_opts)
            if ropt is None:
                raise InputError("the receptacle cannot be described")  # pragma: no cover - noun always true
            place_attrs = ropt.attrs
            rnp = _render_np(rng, ropt)
            static, directional = _receptacle_preps(scene.objects[rec_k].instance)
            fills["at"] = f"{_pick(rng, static)} {rnp}"
            fills["to"] = f"{_pick(rng, directional)} {rnp}"
            fills["into"] = f"{_pick(rng, directional)} {rnp}"
        elif loc is not None:
            place_attrs = {"location": loc}
            fills["at"] = _pick(rng, _LOCATION_AT[loc])
            # without a verb, "Mug towards me." would read as a pull and "Mug closer to me." as a
            # hand-over: terse destinations say "to the ..."
            fills["to"] = _pick(rng, _LOCATION_TO_TERSE[loc] if group == "terse" else _LOCATION_TO[loc])
        if angle_ph:
            fills["angle"] = _pick(rng, angle_ph)
        if turn_ph:
            fills["turn"] = _pick(rng, turn_ph)
        # 5. assemble
        if group == "terse":
            text = frame.format(o=np_text, **_fill_defaults(fills))
        elif group == "descriptive":
            text = frame.format(o=np_text, pp=vt.format(**_fill_defaults(fills)))
        elif group == "two_step":
            text = frame.format(o=np_text, vp_it=vt.format(o="it", **_fill_defaults(fills)))
        else:
            template = _gerund(vt) if "{VPing}" in frame else vt
            text = frame.format(VP=template.format(o=np_text, **_fill_defaults(fills)),
                                VPing=template.format(o=np_text, **_fill_defaults(fills)))
        text = _finish(text)
        if text in seen_texts:
            continue
        found = tuple(unseen_only_items(text))
        if not unseen and found:  # defensive: the seen inventory must never produce these
            raise UniHMError(f"bug: seen-split instruction uses unseen-only items {found}: {text!r}")  # pragma: no cover
        seen_texts.add(text)
        out.append(Instruction(text=text, task=task, split=split, register=register, frame=frame, verb_template=vt,
                               target_attrs=opt.attrs, place_attrs=place_attrs, unseen_only=found))
    if len(out) < n:
        raise InputError(f"could only make {len(out)} distinct {task} instructions for this scene; ask for fewer")
    return out


def _fill_defaults(fills: dict[str, str]) -> dict[str, str]:
    return {k: fills.get(k, "") for k in ("at", "to", "into", "angle", "turn")}


def _frame_group(pattern: str) -> str:
    if "{pp}" in pattern:
        return "descriptive"
    if "{vp_it}" in pattern:
        return "two_step"
    return "vp"


def _pick_group(rng: np.random.Generator, terse_ok: bool) -> str:
    groups = [g for g in _REGISTER_WEIGHTS if terse_ok or g != "terse"]
    w = np.array([_REGISTER_WEIGHTS[g] for g in groups])
    return groups[int(rng.choice(len(groups), p=w / w.sum()))]


def make_instructions(task: str, scene: SceneSpec, rng: np.random.Generator, *, place: dict | None = None,
                      n: int = 5, split: str = "seen", angle_deg: float | None = None) -> list[str]:
    """``n`` distinct instructions (texts) for manipulating the scene's target.

    See :func:`generate_instructions` for the arguments; this returns only the texts.
    """
    return [i.text for i in generate_instructions(task, scene, rng, place=place, n=n, split=split,
                                                  angle_deg=angle_deg)]


def describe_object(instance: ObjectInstance, scene: SceneSpec | None = None) -> str:
    """Canonical description, e.g. "the small red ceramic mug" (deterministic, no rng).

    With a ``scene`` holding the instance, the size word is relative to the other objects
    the canonical noun denotes (absolute when there are none); without one it is absolute
    (thresholds in the module docstring).
    """
    noun = instance.name
    tokens = set(noun.replace("-", " ").split())
    size = None
    idx = None if scene is None else next(
        (i for i, o in enumerate(scene.objects)
         if o.instance is instance or o.instance.instance_id == instance.instance_id), None)
    if tokens & _SIZE_TOKENS:
        pass  # "small box" already says it
    elif idx is not None:  # relative to same-noun objects (absolute when it is the only one)
        size = next((s for s in SIZES if _resolve({"noun": noun, "size": s}, scene)[0] == [idx]), None)
    else:
        ext = max(instance.size)
        size = "small" if ext <= ABS_SMALL_MAX_EXTENT else "large" if ext >= ABS_LARGE_MAX_EXTENT else None
    words = ["the"]
    if size is not None:
        words.append(size)
    if not tokens & _ALL_COLOUR_TOKENS and noun not in _NOUN_COLOURS:
        words.append(_COLOUR_WORDS.get(instance.colour_name, (instance.colour_name,))[0])
    mat = _MATERIAL_WORDS.get(instance.material)
    if mat is not None and not tokens & _MATERIAL_TOKENS:
        words.append(mat)
    words.append(noun)
    return " ".join(words)


__all__ = [
    "LOCATIONS", "LOCATION_POINTS", "TABLE_REGIONS", "TASKS", "UNSEEN_ONLY_NOUNS", "UNSEEN_ONLY_SYNONYMS",
    "UNSEEN_ONLY_TEMPLATES", "UNSEEN_ONLY_VERBS", "Instruction", "describe_object", "generate_instructions",
    "is_unambiguous", "make_instructions", "noun_denotes", "referents", "unseen_only_items",
]
