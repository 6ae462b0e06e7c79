"""Command line: ``unihm`` / ``python -m unihm_core``.

Every subcommand prints results to stdout. A :class:`~unihm_core.errors.UniHMError` ends the
program with one line on stderr (what was wrong, what to do) and exit status 2; no traceback.
Subcommands are added here as the parts they drive land; ``unihm --help`` lists them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence

from unihm_core.errors import UniHMError
from unihm_core.paths import REPO_ROOT


def cmd_hands(args: argparse.Namespace) -> int:
    """List every hand with DoF, joint names and fingertip links."""
    from unihm_core.hands import available_hands, load_hand

    rows = []
    for name in available_hands():
        hand = load_hand(name)
        rows.append({
            "hand": name, "display_name": hand.spec.display_name, "dof": hand.dof,
            "finger_dof": hand.finger_dof, "joint_names": list(hand.joint_names),
            "fingertip_links": list(hand.fingertip_links),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['hand']:<14} {r['display_name']:<28} DoF {r['dof']:>2} (6 wrist + {r['finger_dof']} finger)")
        print(f"    fingertips: {', '.join(r['fingertip_links'])}")
        print(f"    joints:     {', '.join(r['joint_names'][6:])}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark scripts in bench/ (each writes its section of docs/RESULTS.md)."""
    scripts = sorted((REPO_ROOT / "bench").glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(o in s.stem for o in args.only)]
    if not scripts:
        raise UniHMError("no benchmark scripts found in bench/ (expected bench/bench_*.py)")
    status = 0
    for s in scripts:
        print(f"== {s.name}", flush=True)
        status |= subprocess.call([sys.executable, str(s)], cwd=REPO_ROOT)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unihm", description="UniHM: language-guided dexterous hand manipulation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hands", help="list hands with DoF, joint names and fingertip links")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_hands)
    p = sub.add_parser("bench", help="run benchmarks and write docs/RESULTS.md sections")
    p.add_argument("only", nargs="*", help="substrings of benchmark names to run (default: all)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UniHMError as exc:
        print(f"unihm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unihm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
