"""Synthetic HOI data engine (paper Sec. 3.1, App. B.1): objects, scenes, RGB-D frames.

Everything here is importable without SAPIEN; rendering imports it on first use.
"""

from unihm_core.data.depth_noise import DepthNoiseConfig, apply_depth_noise, depth_edges, depth_sigma
from unihm_core.data.example_scene import DEPTH_SCALE, ExampleScene, read_example_scene, write_example_scene
from unihm_core.data.objects import (
    COLOUR_RGB,
    MATERIAL_RENDER,
    OBJECT_REGISTRY,
    OBJECT_TYPES,
    RECEPTACLE_TYPES,
    SEEN_TYPES,
    UNSEEN_INSTANCE_FRACTION,
    UNSEEN_TYPES,
    JointSpec,
    ObjectInstance,
    ObjectPart,
    ObjectSpec,
    get_object_spec,
    make_object,
    object_types_for_split,
    sample_object,
    sample_object_type,
    split_of,
)
from unihm_core.data.rgbd_render import RgbdFrame, RgbdRenderer, default_renderer, render_rgbd
from unihm_core.data.scenes import (
    CameraSpec,
    LightSpec,
    PlacedObject,
    SceneConfig,
    SceneSpec,
    TableSpec,
    footprints_overlap,
    polygon_gap,
    sample_camera,
    sample_scene,
    scene_with_objects,
    visible_fractions,
)

__all__ = [
    "COLOUR_RGB", "DEPTH_SCALE", "MATERIAL_RENDER", "OBJECT_REGISTRY", "OBJECT_TYPES", "RECEPTACLE_TYPES",
    "SEEN_TYPES", "UNSEEN_INSTANCE_FRACTION", "UNSEEN_TYPES",
    "CameraSpec", "DepthNoiseConfig", "ExampleScene", "JointSpec", "LightSpec", "ObjectInstance", "ObjectPart",
    "ObjectSpec", "PlacedObject", "RgbdFrame", "RgbdRenderer", "SceneConfig", "SceneSpec", "TableSpec",
    "apply_depth_noise", "default_renderer", "depth_edges", "depth_sigma", "footprints_overlap", "get_object_spec",
    "make_object", "object_types_for_split", "polygon_gap", "read_example_scene", "render_rgbd", "sample_camera",
    "sample_object", "sample_object_type", "sample_scene", "scene_with_objects", "split_of", "visible_fractions",
    "write_example_scene",
]
