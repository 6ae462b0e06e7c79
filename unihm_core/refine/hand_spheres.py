"""The whole hand as a set of spheres: what the whole-hand refinement keeps out of the object.

Every link of a hand model carries primitive collision shapes (:func:`unihm_core.hands.urdf.link_geometry`:
capsules along the phalanges, a sphere at each fingertip, a box for the palm); the execution check
simulates exactly these shapes. For the refinement each shape is covered by spheres, so that
"how deep is this link inside the object" becomes "how deep are its sphere centres, minus the
radius", a point query that has a one-line Jacobian (the same sphere-set model motion planners
such as cuRobo use for robot collision):

* a capsule (radius ``r``, axis from the link origin to ``p1``): spheres of radius ``r`` on the
  axis, both ends included, at most ``r`` apart, so the union's surface dips at most
  ``r (1 - cos 30 deg) ~ 0.13 r`` (about 1 mm) between two spheres;
* a fingertip sphere: itself (these are the contact points of the grip term);
* the palm box: spheres of radius ``t / 2`` (``t`` its thinnest side) on its mid-plane, in a grid
  at most ``t / 2`` apart and ``t / 2`` inside the box's edges, so the spheres stay inside the box
  and its faces are covered up to the rounded edges.

The sphere centres are fixed points on their links, so their positions and world Jacobians come
from the same compiled kinematic tree as the fingertips (:func:`sphere_kinematics`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HandSpheres:
    """Spheres covering one hand's collision shapes (``S`` spheres).

    Attributes:
        link: ``(S,)`` index into ``links`` of the link each sphere is fixed to.
        links: the hand's link names.
        centre: ``(S, 3)`` sphere centres in their link frames [m].
        radius: ``(S,)`` radii [m].
        tip: ``(S,)`` int, the fingertip index (into ``hand.fingertip_links``) of a fingertip's
            own sphere, ``-1`` for every other sphere.
    """

    link: np.ndarray
    links: tuple[str, ...]
    centre: np.ndarray
    radius: np.ndarray
    tip: np.ndarray

    def __len__(self) -> int:
        return len(self.radius)

    @property
    def tip_spheres(self) -> np.ndarray:
        """``(F,)`` the sphere index of every fingertip, in fingertip order."""
        idx = np.flatnonzero(self.tip >= 0)
        return idx[np.argsort(self.tip[idx])]


def _capsule(p1: np.ndarray, r: float) -> np.ndarray:
    n = max(2, int(np.ceil(np.linalg.norm(p1) / r)) + 1)
    return np.linspace(0.0, 1.0, n)[:, None] * p1[None, :]


def _box(centre: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, float]:
    thin = int(np.argmin(size))
    rho = 0.5 * float(size[thin])
    axes = [a for a in range(3) if a != thin]
    grids = []
    for a in axes:
        half = 0.5 * float(size[a]) - rho
        n = max(1, int(np.ceil(2 * half / rho)) + 1) if half > 0 else 1
        grids.append(np.linspace(-half, half, n) if half > 0 else np.zeros(1))
    g0, g1 = np.meshgrid(*grids, indexing="ij")
    pts = np.zeros((g0.size, 3))
    pts[:, axes[0]], pts[:, axes[1]] = g0.ravel(), g1.ravel()
    return pts + centre, rho


def hand_spheres(hand) -> HandSpheres:
    """:class:`HandSpheres` of a :class:`~unihm_core.hands.HandModel` (cached per model)."""
    hs = _SPHERES.get(hand)
    if hs is not None:
        return hs
    from unihm_core.hands.urdf import link_geometry  # noqa: PLC0415

    links = tuple(hand.link_names)
    tips = {name: i for i, name in enumerate(hand.fingertip_links)}
    link, centre, radius, tip = [], [], [], []
    for li, name in enumerate(links):
        for kind, p in link_geometry(hand.spec)[name]:
            if kind == "capsule":
                c, r = _capsule(np.asarray(p["p1"], float), float(p["radius"])), float(p["radius"])
            elif kind == "sphere":
                c, r = np.zeros((1, 3)), float(p["radius"])
            else:
                c, r = _box(np.asarray(p["center"], float), np.asarray(p["size"], float))
            link += [li] * len(c)
            centre.append(c)
            radius += [r] * len(c)
            tip += [tips[name] if kind == "sphere" and name in tips else -1] * len(c)
    hs = HandSpheres(np.asarray(link), links, np.concatenate(centre), np.asarray(radius), np.asarray(tip))
    if sorted(hs.tip[hs.tip >= 0].tolist()) != list(range(len(tips))):
        raise ValueError(f"hand {hand.name!r}: every fingertip needs exactly one sphere")
    _SPHERES[hand] = hs
    return hs


_SPHERES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHAINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sphere_kinematics(hand, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World sphere centres ``(..., S, 3)`` and their Jacobians ``(..., S, 3, D)`` of states ``Q``
    ``(..., D)`` (compiled kinematic tree, no limit check)."""
    from unihm_core.refine import compiled as cc  # noqa: PLC0415

    ch = _CHAINS.get(hand)
    if ch is None:
        hs = hand_spheres(hand)
        ch = _CHAINS[hand] = cc.chain_from_hand(hand, frames=[(hs.links[li], c) for li, c in zip(hs.link, hs.centre)])
    return cc.fingertip_kinematics(ch, Q)
