"""Launch the UniHM Gradio app: build the UI and serve it on localhost; the renderers, the models and
the compiled refinement warm up in the background once the page is up (app/warmup.py)."""

from __future__ import annotations

import argparse
import os

from app.server import serve
from app.ui import build_demo
from app.warmup import WARMUP

WARMUP_DELAY_S = 10.0  # [s] the warm-up starts on the first page load, or this long after launch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    args = parser.parse_args()
    # open3d's __init__ iterates sys.modules: imported in a request thread while the warm-up thread
    # imports other modules, it failed with "dictionary changed size during iteration" (seen as an
    # internal error in the perception stage of the first request). Imported here, once, before any
    # thread starts (about 0.8 s).
    import open3d  # noqa: F401

    demo = build_demo()
    # Started before launch, the warm-up's imports and compilation slowed the server's start to about 25 s.
    WARMUP.start_later(WARMUP_DELAY_S)
    serve(demo, args.host, args.port, share=args.share)


if __name__ == "__main__":
    main()
