"""Each hand's own motion for a sequence, instead of the motion retargeted from the human.

Retargeting keeps where the synthetic human put its hand, not what makes a grasp hold (see
:mod:`unihm_core.data.dexterous_grasp`). For the tasks whose object the hand moves by
holding or pushing it, the data build asks this module for the hand's own candidates, best
first, and (with ``--sim-check``) keeps the first that the execution check confirms:

* carried tasks (grab, pick&place, hand-over, pour, rotate): a parallel gripper's antipodal
  grasp (:mod:`unihm_core.data.gripper_grasp`), or a hand with a thumb's top-down
  thumb-against-fingers grasp (:mod:`unihm_core.data.dexterous_grasp`), carried rigidly;
* slid tasks (push, pull): the same grasps, with the object slid along the table while held
  (a grasp-and-slide), then a flat-hand push from behind (:mod:`unihm_core.data.push_contact`).
  Measured on the 13 slid sequences of a fresh 40-sequence build (seed 7), first candidate that
  holds: the flat push alone ends within 3 cm of the plan for 3 of 13 Shadow sequences (a flat
  pusher lets the object turn and slide off sideways); grasp-and-slide for 10 of 13 Shadow and
  9 of 13 Inspire sequences, and the flat push rescued none of the rest.
* open / close with a known joint (drawer, lidded box): the handle (a drawer's bar, a lid's tab)
  pinched thumb below, fingers above, coming in against the object's front, and moved with the
  joint (:func:`unihm_core.data.dexterous_grasp.handle_trajectories`); hands without a thumb
  (the gripper) keep the retargeted motion.

Over a whole fresh 40-sequence build (seed 7), every (sequence, robot hand) pair executed: 15 of 280
pairs kept the object on its plan with the retargeted motions (5 %), 195 of 280 (70 %) with these
(carried 69 %, slid 77 %, articulated 55 %); the human hand's own demonstrations 9 -> 32 of 40.
A 150-sequence build (seed 11): 723 of 1050 (69 %); per hand in the dataset card.

"""

from __future__ import annotations

import numpy as np

from unihm_core.data.dexterous_grasp import dexterous_trajectories, handle_trajectories
from unihm_core.data.gripper_grasp import CARRIED_TASKS, GRIPPERS, gripper_trajectory
from unihm_core.data.push_contact import SLID_TASKS, push_trajectory
from unihm_core.hands.model import HandModel

OWN_TASKS = CARRIED_TASKS + SLID_TASKS
ARTICULATED_TASKS = ("open", "close")
HANDLE_PARTS = ("handle", "tab")
FRONT = np.array([0.0, -1.0, 0.0])  # an object's front, in its own frame (unihm_core.data.objects)


def articulated_inputs(obj, joint_values: np.ndarray, object_poses: np.ndarray, samples: int = 600):
    """What :func:`~unihm_core.data.dexterous_grasp.handle_trajectories` needs of an articulated
    object: the handle's surface samples and normals and the moving part's other convex pieces
    (moving-part frame, joint closed), and the static parts' convex pieces in world coordinates
    at the planned poses; None when the object has no handle part."""
    import trimesh  # noqa: PLC0415

    from unihm_core.sim.execution import _convex_pieces  # noqa: PLC0415

    handles = [p.mesh for p in obj.parts if p.moving and p.name in HANDLE_PARTS]
    if not handles or obj.joint is None:
        return None
    handle = trimesh.util.concatenate(handles)
    pts, faces = trimesh.sample.sample_surface_even(handle, samples, seed=0)
    nrm = handle.face_normals[faces]
    others = [p.mesh for p in obj.parts if p.moving and p.name not in HANDLE_PARTS]
    moving = [np.asarray(h.vertices) for h in _convex_pieces(trimesh.util.concatenate(others))] if others else []
    P0 = np.asarray(object_poses[0], float)
    base = P0 @ np.linalg.inv(obj.joint.transform(float(np.clip(joint_values[0], obj.joint.lower, obj.joint.upper))))
    static = [np.asarray(h.vertices) @ base[:3, :3].T + base[:3, 3] for h in _convex_pieces(obj.static_mesh)]
    return np.asarray(pts), np.asarray(nrm), moving, static


def own_trajectories(model: HandModel, points_obj: np.ndarray, normals_obj: np.ndarray, object_poses: np.ndarray,
                     moving: np.ndarray, task: str, limit: int = 3, *, obj=None,
                     joint_values: np.ndarray | None = None) -> list[tuple[np.ndarray, str]]:
    """Candidate ``(T, D)`` trajectories of ``model`` for a sequence, best first, each with its
    source (``"antipodal_top"``, ``"antipodal_side"``, ``"pinch_top"``, ``"flat_push"``); empty
    for tasks the hand keeps the retargeted motion for (module docstring).

    Args:
        model: the hand.
        points_obj, normals_obj: ``(N, 3)`` surface samples and outward normals, object frame [m].
        object_poses: ``(T, 4, 4)`` planned object poses; moving: ``(T,)`` its moving frames.
        task: the sequence's task.
        limit: at most this many grasp candidates (the flat push comes on top for slid tasks).
        obj, joint_values: the articulated object (:class:`~unihm_core.data.objects.ProceduralObject`)
            and its planned joint values, for open / close.
    """
    if task in ARTICULATED_TASKS and obj is not None and joint_values is not None and model.name not in GRIPPERS:
        inputs = articulated_inputs(obj, joint_values, object_poses)
        if inputs is None:
            return []
        hp, hn, mov, static = inputs
        return [(q, "handle_pinch") for q, _ in handle_trajectories(model, hp, hn, mov, static, object_poses, moving,
                                                                    FRONT, limit=limit)]
    if task not in OWN_TASKS:
        return []
    as_carried = task if task in CARRIED_TASKS else "grab"  # held, then slid along the plan
    out: list[tuple[np.ndarray, str]] = []
    if model.name in GRIPPERS:
        picked = gripper_trajectory(model, points_obj, object_poses, moving, as_carried, normals_obj)
        if picked is not None:
            out.append((picked[0], f"antipodal_{picked[1].kind}"))
    elif model.spec.fingers and model.spec.fingers[0] == "thumb":
        out += [(q, "pinch_top") for q, _ in dexterous_trajectories(model, points_obj, normals_obj, object_poses,
                                                                     moving, as_carried, limit=limit)]
    if task in SLID_TASKS:
        q = push_trajectory(model, points_obj, object_poses, moving, task)
        if q is not None:
            out.append((q, "flat_push"))
    return out
