"""Upload inputs whose preprocessing the app does itself (colour image, depth file, camera file).

Colour image: ``gr.Image`` decodes an upload with Pillow before the handler runs, so a file
that is not an image, a truncated PNG or a decompression bomb fails inside Gradio with a bare
"Error" (or is decoded into memory first). :func:`checked_image` hands the uploaded file to
:func:`unihm_core.perception.load_color` instead, which reads the header, refuses images
above :data:`unihm_core.perception.rgbd.MAX_PIXELS` *before* decoding, then decodes fully, so
every bad upload ends in a :class:`gr.Error` that says what was wrong.

Files: ``gr.File(type="filepath")`` creates an empty ``NamedTemporaryFile`` in Gradio's cache
on every call and never deletes it (not even ``delete_cache`` or a clean shutdown does: it
is not tracked), so every request leaked one file. :func:`path_file` hands the handler the
uploaded file's path directly; the handlers check the suffix (``app.session.depth_path``).
Gradio still checks, before preprocessing, that the path lies in its upload folder.

Choices (documented because they differ from ``gr.Image``):

* EXIF orientation is *not* applied: the depth map carries no EXIF, so rotating only the
  colour image would break the pixel alignment of the RGB-D pair.
* Sources are upload and clipboard; a webcam frame comes without a matching depth map.
* Inline ``data:`` URLs (API clients sending base64) are refused; upload the file instead
  (``gradio_client.handle_file`` does that), so the header check always runs.

The checks are set on the instances rather than in subclasses: Gradio's component metaclass
writes a ``.pyi`` stub next to any module that subclasses a component, and the browser looks
components up by class name.
"""

from __future__ import annotations

import gradio as gr
import numpy as np
from gradio.data_classes import ListFiles

from unihm_core import InputError


def preprocess_upload(payload) -> np.ndarray | None:
    """The uploaded colour image as (H, W, 3) uint8 (or (H, W) 16-bit / float as stored), or None;
    every bad upload is a ``gr.Error``."""
    if payload is None:
        return None
    if (payload.url or "").startswith("data:"):
        raise gr.Error("the colour image arrived as inline data; upload it as a PNG or JPEG file instead.",
                       print_exception=False)
    if payload.path is None:
        raise gr.Error("the colour image upload is empty; upload a PNG or JPEG file.", print_exception=False)
    from unihm_core.perception.rgbd import read_color_raw

    try:  # 16-bit / float images stay raw: perception tone-maps them and says so in the warnings
        return read_color_raw(payload.path)
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


def checked_image(**kwargs) -> gr.Image:
    """A ``gr.Image(type="numpy")`` whose uploads go through :func:`preprocess_upload`."""
    if kwargs.setdefault("type", "numpy") != "numpy":
        raise ValueError("checked_image always hands the handler a numpy array (type='numpy')")
    kwargs.setdefault("sources", ["upload", "clipboard"])
    image = gr.Image(**kwargs)
    image.preprocess = preprocess_upload  # Gradio calls block.preprocess(payload) before the handler
    return image


def uploaded_path(payload) -> str | None:
    """The path of an uploaded file (already checked by Gradio to lie in its upload folder)."""
    if payload is None:
        return None
    if isinstance(payload, ListFiles):
        if len(payload.root) != 1:
            raise gr.Error(f"upload one file here, not {len(payload.root)}.", print_exception=False)
        payload = payload.root[0]
    if payload.path is None:
        raise gr.Error("the upload is empty; choose a file.", print_exception=False)
    return str(payload.path)


def path_file(**kwargs) -> gr.File:
    """A single-file ``gr.File(type="filepath")`` that hands the handler the upload's path (str)."""
    if kwargs.setdefault("type", "filepath") != "filepath" or kwargs.setdefault("file_count", "single") != "single":
        raise ValueError("path_file is a single file passed by path (type='filepath', file_count='single')")
    component = gr.File(**kwargs)
    component.preprocess = uploaded_path  # Gradio calls block.preprocess(payload) before the handler
    return component
