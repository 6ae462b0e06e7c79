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
* the palm box is kept as a box (:class:`HandBox`): covering it with spheres would round its
  edges by ``t/2 (sqrt 2 - 1)`` (11 mm for the Panda hand's 55 mm housing), and the execution check
  simulates the sharp box. The whole-hand refinement asks instead which *object points* lie inside
  it (exact for a box); for the table its eight corners are points of radius zero
  (:attr:`HandSpheres.table_only`), since a box's lowest point over a plane is a corner.

The sphere centres are fixed points on their links, so their positions and world Jacobians come
from the same compiled kinematic tree as the fingertips (:func:`sphere_kinematics`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HandBox:
    """A box fixed to link ``link`` (index into :attr:`HandSpheres.links`): centre ``centre`` (3,)
    and half extents ``half`` (3,) in the link frame, axes along the link's [m]."""

    link: int
    centre: np.ndarray
    half: np.ndarray


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
        table_only: ``(S,)`` bool, a box corner (radius 0): only the table term reads it.
        boxes: the hand's boxes (the palm), kept out of the object by their own term.
    """

    link: np.ndarray
    links: tuple[str, ...]
    centre: np.ndarray
    radius: np.ndarray
    tip: np.ndarray
    table_only: np.ndarray
    boxes: tuple[HandBox, ...] = ()

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


def _corners(centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    return centre + 0.5 * signs * size


def hand_spheres(hand) -> HandSpheres:
    """:class:`HandSpheres` of a :class:`~unihm_core.hands.HandModel` (cached per model)."""
    hs = _SPHERES.get(hand)
    if hs is not None:
        return hs
    from unihm_core.hands.urdf import link_geometry  # noqa: PLC0415

    links = tuple(hand.link_names)
    tips = {name: i for i, name in enumerate(hand.fingertip_links)}
    link, centre, radius, tip, table_only, boxes = [], [], [], [], [], []
    for li, name in enumerate(links):
        for kind, p in link_geometry(hand.spec)[name]:
            corner = False
            if kind == "capsule":
                c, r = _capsule(np.asarray(p["p1"], float), float(p["radius"])), float(p["radius"])
            elif kind == "sphere":
                c, r = np.zeros((1, 3)), float(p["radius"])
            else:
                size = np.asarray(p["size"], float)
                boxes.append(HandBox(li, np.asarray(p["center"], float), 0.5 * size))
                c, r, corner = _corners(np.asarray(p["center"], float), size), 0.0, True
            link += [li] * len(c)
            centre.append(c)
            radius += [r] * len(c)
            tip += [tips[name] if kind == "sphere" and name in tips else -1] * len(c)
            table_only += [corner] * len(c)
    hs = HandSpheres(np.asarray(link), links, np.concatenate(centre), np.asarray(radius), np.asarray(tip),
                     np.asarray(table_only), tuple(boxes))
    if sorted(hs.tip[hs.tip >= 0].tolist()) != list(range(len(tips))):
        raise ValueError(f"hand {hand.name!r}: every fingertip needs exactly one sphere")
    _SPHERES[hand] = hs
    return hs


_SPHERES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHAINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_BOX_CHAINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sphere_kinematics(hand, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World sphere centres ``(..., S, 3)`` and their Jacobians ``(..., S, 3, D)`` of states ``Q``
    ``(..., D)`` (compiled kinematic tree, no limit check)."""
    from unihm_core.refine import chain as cc  # noqa: PLC0415

    ch = _CHAINS.get(hand)
    if ch is None:
        hs = hand_spheres(hand)
        ch = _CHAINS[hand] = cc.chain_from_hand(hand, frames=[(hs.links[li], c) for li, c in zip(hs.link, hs.centre)])
    return cc.fingertip_kinematics(ch, Q)


def box_kinematics(hand, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every box: its centre and the centre plus each unit axis, ``(..., 4 B, 3)`` world points
    (box ``b`` in rows ``4 b .. 4 b + 3``), and their Jacobians ``(..., 4 B, 3, D)``; the world axes
    are the differences, ``e_k = x_{k+1} - x_0``."""
    from unihm_core.refine import chain as cc  # noqa: PLC0415

    ch = _BOX_CHAINS.get(hand)
    if ch is None:
        hs = hand_spheres(hand)
        frames = [(hs.links[b.link], b.centre + off) for b in hs.boxes for off in np.vstack([np.zeros(3), np.eye(3)])]
        ch = _BOX_CHAINS[hand] = cc.chain_from_hand(hand, frames=frames)
    return cc.fingertip_kinematics(ch, Q)
