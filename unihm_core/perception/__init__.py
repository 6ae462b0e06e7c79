"""Perception: RGB-D -> table plane, object instances with attributes, language grounding.

Entry points: :func:`perceive` (RGB-D + intrinsics -> :class:`Scene`) and :func:`ground`
(Scene + instruction and/or click -> :class:`Grounding`). open3d and the sentence
encoder are imported only when these run.
"""

from unihm_core.perception.grounding import TASKS, AmbiguityError, Grounding, PlaceTarget, ground, parse_task
from unihm_core.perception.instances import ObjectInstance, SegmentationConfig
from unihm_core.perception.intrinsics import Intrinsics
from unihm_core.perception.overlay import instance_table, mask_overlay
from unihm_core.perception.primitives import PrimitiveFit
from unihm_core.perception.rgbd import RGBDFrame, load_color, load_depth, load_rgbd
from unihm_core.perception.scene import Scene, perceive
from unihm_core.perception.table import TablePlane
from unihm_core.perception.text_encoder import TextEncoder, get_text_encoder

__all__ = [
    "TASKS",
    "AmbiguityError",
    "Grounding",
    "Intrinsics",
    "ObjectInstance",
    "PlaceTarget",
    "PrimitiveFit",
    "RGBDFrame",
    "Scene",
    "SegmentationConfig",
    "TablePlane",
    "TextEncoder",
    "get_text_encoder",
    "ground",
    "instance_table",
    "load_color",
    "load_depth",
    "load_rgbd",
    "mask_overlay",
    "parse_task",
    "perceive",
]
