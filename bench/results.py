"""Write one named section of docs/RESULTS.md, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.

Sections written by other scripts are left untouched; a new section is appended.
"""

from __future__ import annotations

import datetime
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "RESULTS.md"
HEADER = ("# Results\n\nEvery section below is written by a script (named in it); do not edit by hand.\n"
          "Regenerate with `make bench` (or the script named in the section).\n")


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamp = (f"_Generated {datetime.date.today().isoformat()} on {platform.machine()} "
             f"({platform.processor() or 'cpu'}), Python {platform.python_version()}._\n")
    block = f"{start}\n{body.rstrip()}\n\n{stamp}{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if start in text and end in text:
        pre, rest = text.split(start, 1)
        _, post = rest.split(end, 1)
        text = pre + block + post
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
