"""Launch the UniHM Gradio app: build the UI, warm up the renderer and the compiled refinement, serve
on localhost."""

from __future__ import annotations

import argparse
import os

from app.generate_tab import video_renderer
from app.pipeline_provider import get_pipeline
from app.rendering import get_renderer
from app.server import serve
from app.ui import build_demo
from unihm_core import UniHMError
from unihm_core.refine.warmup import warm_up as warm_up_refinement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    args = parser.parse_args()
    get_renderer()  # compile shaders once, before the first request
    video_renderer()
    warm_up_refinement()  # compile the refinement loop (first start on a machine: about 50 s, then cached on disk)
    try:
        get_pipeline()  # load the models now rather than on the first click
    except UniHMError as exc:
        print(f"warning: the Generate tab will not work: {exc}")
    demo = build_demo()
    serve(demo, args.host, args.port, share=args.share)


if __name__ == "__main__":
    main()
