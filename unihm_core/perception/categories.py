"""Object categories for perception and grounding: the data engine's catalogue, a category
prior per perceived instance, and matching of free-form nouns to catalogue types.

Catalogue
    One :class:`Category` per object type of :data:`unihm_core.data.objects.OBJECT_REGISTRY`
    (label, nouns, description, shape class, colour names) with the range of its sizes in
    its natural pose, measured on :data:`SIZE_SAMPLES` seeded instances (built once, on
    first use, about 50 ms).

Category prior (:func:`category_prior`)
    A hand-set likelihood of each type given what perception measured, normalised over the
    types. Geometry: the instance's footprint (longer, shorter side) and height against the
    type's size range, in log-ratio with a tolerance of :data:`SIZE_TOLERANCE` (partial
    views shrink extents; a lying object is also compared with all sides sorted, at a
    penalty). Shape class: a match counts 1, a mismatch :data:`SHAPE_MISMATCH` (real frames
    fit most things as boxes). Colour: the fraction of the instance's points that carry one
    of the type's colours. This is a prior, not a classifier: it separates a soup can from a
    cracker box, not a soup can from a red mug of the same size.

Noun matching (:func:`noun_types`, :func:`embedding_types`)
    A noun of the catalogue denotes the types that list it, and a bare one-word noun also
    the types with a noun of that head word ("can" -> every can; the rule of
    :func:`unihm_core.data.instructions.noun_denotes`). A noun no list holds is matched by
    MiniLM cosine similarity against every type's nouns and "label: description" text; the
    types within :data:`EMBEDDING_BAND` of the best are kept, weighted by similarity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from unihm_core.language import DATA_COLOUR_NAMES, denotes
from unihm_core.perception.colors import COLOR_NAMES, name_rgb

#: Seeded instances per type used to measure its size range.
SIZE_SAMPLES = 12
#: Log-ratio tolerance of the size comparison (one sigma: 30 % larger or smaller).
SIZE_TOLERANCE = 0.3
#: Factor of a shape-class mismatch (perceived box vs catalogue cylinder, ...).
SHAPE_MISMATCH = 0.45
#: Types whose embedding similarity is within this of the best are kept for a free noun.
EMBEDDING_BAND = 0.06
#: Below this best similarity a free noun is reported as a weak match.
WEAK_SIMILARITY = 0.35
#: How many categories an instance carries (top-k).
TOP_K = 3



@dataclass(frozen=True)
class Category:
    """One catalogue type as perception and grounding see it.

    Attributes:
        type_name: registry key ("potted_meat_can").
        label: display name ("Spam tin").
        category: coarse data-engine category ("can").
        nouns: the type's nouns, canonical first.
        description: a sentence on what it is and looks like.
        shape_class: box / cylinder / sphere / other.
        size_lo, size_hi: (3,) smallest and largest (footprint long side, footprint short
            side, height) over the sampled instances [m].
        colours: perception colour names the type comes in.
    """

    type_name: str
    label: str
    category: str
    nouns: tuple[str, ...]
    description: str
    shape_class: str
    size_lo: np.ndarray
    size_hi: np.ndarray
    colours: tuple[str, ...]

    @property
    def text(self) -> str:
        """The text embedded for free-noun matching."""
        return f"{self.label}: {self.description}"


def _pose_dims(size) -> np.ndarray:
    """(long footprint side, short footprint side, height) of a (3,) extent [m]."""
    a, b, h = float(size[0]), float(size[1]), float(size[2])
    return np.array([max(a, b), min(a, b), h])


@lru_cache(maxsize=1)
def catalogue() -> tuple[Category, ...]:
    """Every catalogue type, in registry order (built once)."""
    from unihm_core.data.objects import COLOUR_RGB, OBJECT_REGISTRY, make_object

    out = []
    for name, spec in OBJECT_REGISTRY.items():
        dims = np.array([_pose_dims(make_object(name, s).size) for s in range(SIZE_SAMPLES)])
        colours: list[str] = []
        for c in spec.colours:
            names = DATA_COLOUR_NAMES.get(c) or (name_rgb(tuple(int(round(255 * v)) for v in COLOUR_RGB[c])),)
            colours += [n for n in names if n in COLOR_NAMES and n not in colours]
        out.append(Category(type_name=name, label=spec.label, category=spec.category, nouns=spec.nouns,
                            description=spec.description, shape_class=spec.shape_class,
                            size_lo=dims.min(axis=0), size_hi=dims.max(axis=0), colours=tuple(colours)))
    return tuple(out)


def category_names() -> tuple[str, ...]:
    """Type names of the catalogue, in order."""
    return tuple(c.type_name for c in catalogue())


def get_category(type_name: str) -> Category:
    """The catalogue entry of ``type_name`` (KeyError when unknown)."""
    for c in catalogue():
        if c.type_name == type_name:
            return c
    raise KeyError(type_name)


# --------------------------------------------------------------------------- category prior
def _size_likelihood(dims: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Flat inside the size range, Gaussian in log-ratio outside, normalised by the range's
    width (a type that comes in every size explains any one size less well)."""
    d = np.maximum(0.0, np.maximum(np.log(lo / dims), np.log(dims / hi)))
    width = np.log(hi / lo)
    return float(np.exp(-0.5 * np.sum((d / SIZE_TOLERANCE) ** 2))
                 * np.prod(SIZE_TOLERANCE / (width + SIZE_TOLERANCE)))


def observed_extent(points_table: np.ndarray) -> np.ndarray:
    """(3,) extent of observed points [m]: footprint sides along their principal axes and the
    height of the top (2nd-98th percentiles, so that stray pixels do not count)."""
    p = np.asarray(points_table, dtype=np.float64)
    if len(p) < 3:
        return np.full(3, 1e-3)
    xy = p[:, :2] - p[:, :2].mean(axis=0)
    _, vecs = np.linalg.eigh(xy.T @ xy)
    proj = xy @ vecs
    sides = np.percentile(proj, 98, axis=0) - np.percentile(proj, 2, axis=0)
    return np.array([sides.max(), sides.min(), np.percentile(p[:, 2], 98)])


def type_likelihoods(extent: np.ndarray, shape: str, color_fractions: dict[str, float],
                     observed: np.ndarray | None = None) -> np.ndarray:
    """(T,) unnormalised likelihood of every catalogue type for one perceived object.

    Args:
        extent: (3,) extent of the fitted primitive (length, width, height) [m], table frame.
        shape: perceived shape class.
        color_fractions: fraction of the object's points per colour name.
        observed: optional (3,) extent of the observed points (:func:`observed_extent`);
            the better of the two explains each type (a fit can be wrong, a view partial).
    """
    variants = [np.maximum(_pose_dims(extent), 1e-3)]
    if observed is not None:
        variants.append(np.maximum(_pose_dims(observed), 1e-3))
    out = np.empty(len(catalogue()))
    for k, c in enumerate(catalogue()):
        lo, hi = np.sort(c.size_lo)[::-1], np.sort(c.size_hi)[::-1]
        geom = max(max(_size_likelihood(d, c.size_lo, c.size_hi), 0.5 * _size_likelihood(np.sort(d)[::-1], lo, hi))
                   for d in variants)
        if c.shape_class == shape:
            sh = 1.0
        elif c.shape_class == "other" or shape == "other":
            sh = 0.7
        else:
            sh = SHAPE_MISMATCH
        frac = sum(color_fractions.get(n, 0.0) for n in c.colours)
        col = 0.4 + 0.6 * min(1.0, frac / 0.4)  # real light shifts colour names: a soft cue
        out[k] = geom * sh * col
    return out


def category_probabilities(extent: np.ndarray, shape: str, color_fractions: dict[str, float],
                           observed: np.ndarray | None = None) -> np.ndarray:
    """(T,) probability of every catalogue type (sums to 1); arguments as :func:`type_likelihoods`."""
    lik = type_likelihoods(extent, shape, color_fractions, observed) + 1e-12
    return lik / lik.sum()


def top_categories(probs: np.ndarray, k: int = TOP_K) -> tuple[tuple[str, float], ...]:
    """Top-``k`` (type name, probability) of a (T,) probability vector, most likely first."""
    order = np.argsort(-probs, kind="stable")[:k]
    names = category_names()
    return tuple((names[i], round(float(probs[i]), 4)) for i in order)


def category_prior(extent: np.ndarray, shape: str, color_fractions: dict[str, float],
                   observed: np.ndarray | None = None, k: int = TOP_K) -> tuple[tuple[str, float], ...]:
    """Top-``k`` (type name, probability) for one perceived object, most likely first."""
    return top_categories(category_probabilities(extent, shape, color_fractions, observed), k)


# --------------------------------------------------------------------------- nouns
@lru_cache(maxsize=1)
def catalogue_nouns() -> tuple[str, ...]:
    """Every noun of the catalogue (and every label), longest first (for phrase matching)."""
    nouns = {n.lower() for c in catalogue() for n in c.nouns} | {c.label.lower() for c in catalogue()}
    return tuple(sorted(nouns, key=lambda n: (-len(n), n)))


def noun_types(noun: str) -> dict[str, float]:
    """Types a catalogue noun denotes (weight 1 each); empty when the lists do not hold it."""
    noun = noun.lower().strip()
    out = {}
    for c in catalogue():
        nouns = tuple(n.lower() for n in c.nouns) + (c.label.lower(),)
        if denotes(noun, nouns):
            out[c.type_name] = 1.0
    return out


def noun_spans(text: str, multiword: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, noun) of every catalogue noun in ``text`` (whole words; character offsets
    into ``text.lower()``); with ``multiword`` only nouns of several words ("hand clamp")."""
    low = text.lower()
    out = []
    for n in catalogue_nouns():
        if multiword and not re.search(r"[ -]", n):
            continue
        for m in re.finditer(rf"(?<![\w-]){re.escape(n)}(?![\w-])", low):
            out.append((m.start(), m.end(), n))
    return out


def find_catalogue_noun(text: str) -> str | None:
    """The catalogue noun of ``text`` that ends last (the head), the longest of those; or None."""
    spans = noun_spans(text)
    if not spans:
        return None
    return max(spans, key=lambda s: (s[1], s[1] - s[0]))[2]


def catalogue_texts() -> tuple[list[str], np.ndarray]:
    """Texts embedded for free-noun matching and the (K,) catalogue index of each."""
    texts, owner = [], []
    for k, c in enumerate(catalogue()):
        for t in (c.text, *c.nouns):
            texts.append(t)
            owner.append(k)
    return texts, np.asarray(owner)


def embedding_types(noun_embedding: np.ndarray, text_embeddings: np.ndarray,
                    restrict: dict[str, float] | None = None) -> tuple[dict[str, float], float]:
    """Types for a free noun from its (D,) embedding and the (K, D) catalogue text embeddings.

    Returns ``({type: weight in (0, 1]}, best similarity)``: the types whose best
    similarity is within :data:`EMBEDDING_BAND` of the best, weighted by similarity / best.
    With ``restrict`` only those types compete (a generic noun's types).
    """
    _, owner = catalogue_texts()
    sims = text_embeddings @ noun_embedding
    per_type = np.full(len(catalogue()), -1.0)
    np.maximum.at(per_type, owner, sims)
    if restrict:
        allowed = np.isin(np.asarray(category_names()), list(restrict))
        per_type = np.where(allowed, per_type, -1.0)
    best = float(per_type.max())
    names = category_names()
    keep = np.flatnonzero(per_type >= best - EMBEDDING_BAND)
    return {names[i]: float(max(per_type[i], 1e-3) / max(best, 1e-3)) for i in keep}, best


_cache: dict[int, tuple[object, np.ndarray]] = {}


def cached_text_embeddings(encoder) -> np.ndarray | None:
    """(K, D) catalogue text embeddings already computed with ``encoder``, else None."""
    hit = _cache.get(id(encoder))
    return hit[1] if hit is not None and hit[0] is encoder else None


def store_text_embeddings(encoder, emb: np.ndarray) -> None:
    """Remember the catalogue text embeddings of ``encoder`` (the encoder is kept alive)."""
    if len(_cache) > 4:
        _cache.clear()
    _cache[id(encoder)] = (encoder, np.asarray(emb, dtype=np.float32))
