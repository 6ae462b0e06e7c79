"""A colour-image input whose uploads are decoded by the core's checked loader.

``gr.Image`` decodes an upload with Pillow before the handler runs, so a file that is not an
image, a truncated PNG or a decompression bomb fails inside Gradio with a bare "Error" (or
is decoded into memory first). :func:`checked_image` hands the uploaded file to
:func:`unihm_core.perception.load_color` instead, which reads the header, refuses images
above :data:`unihm_core.perception.rgbd.MAX_PIXELS` *before* decoding, then decodes fully, so
every bad upload ends in a :class:`gr.Error` that says what was wrong.

Choices (documented because they differ from ``gr.Image``):

* EXIF orientation is *not* applied: the depth map carries no EXIF, so rotating only the
  colour image would break the pixel alignment of the RGB-D pair.
* Sources are upload and clipboard; a webcam frame comes without a matching depth map.
* Inline ``data:`` URLs (API clients sending base64) are refused; upload the file instead
  (``gradio_client.handle_file`` does that), so the header check always runs.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from unihm_core import InputError


def preprocess_upload(payload) -> np.ndarray | None:
    """The uploaded colour image as (H, W, 3) uint8, or None; every bad upload is a ``gr.Error``."""
    if payload is None:
        return None
    if (payload.url or "").startswith("data:"):
        raise gr.Error("the colour image arrived as inline data; upload it as a PNG or JPEG file instead.",
                       print_exception=False)
    if payload.path is None:
        raise gr.Error("the colour image upload is empty; upload a PNG or JPEG file.", print_exception=False)
    from unihm_core.perception import load_color

    try:
        return load_color(payload.path)
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


def checked_image(**kwargs) -> gr.Image:
    """A ``gr.Image(type="numpy")`` whose uploads go through :func:`preprocess_upload`.

    The check is set on the instance rather than in a subclass: Gradio's component metaclass
    writes a ``.pyi`` stub next to any module that subclasses a component, and the browser
    looks components up by class name.
    """
    if kwargs.setdefault("type", "numpy") != "numpy":
        raise ValueError("checked_image always hands the handler a numpy array (type='numpy')")
    kwargs.setdefault("sources", ["upload", "clipboard"])
    image = gr.Image(**kwargs)
    image.preprocess = preprocess_upload  # Gradio calls block.preprocess(payload) before the handler
    return image
