"""Time a small dataset build and check it is bit-identical across runs -> `databuild` section.

The data-engine issue asks that a 20-sequence build (rendered, refined, all seven robot hands)
runs in under 60 s and is bit-identical across two runs with the same seed. The test suite
checks the bit-identity on a smaller build (tests/test_data_build.py); timing belongs here,
not in a test. Two builds into fresh temporary folders, same seed, two workers; the shards'
bytes are hashed and compared. CPU seconds of the builds' processes are reported with the wall
time, since the machine may be shared.

Run: ``python bench/bench_data_build.py [--n 20] [--workers 2] [--no-write]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import write_section  # noqa: E402


def shard_digest(folder: Path) -> str:
    """SHA-256 over the shard files' names and bytes (manifest order is fixed by index)."""
    h = hashlib.sha256()
    for p in sorted((folder / "shards").iterdir()):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children [s]."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from unihm_core.data.dataset import DatasetConfig, build_dataset

    from unihm_core.refine.warmup import warm_up

    cfg = DatasetConfig(n=args.n, seed=0, refine=True, render=True, workers=args.workers, shard_size=5)
    c0, t0 = cpu_seconds(), time.perf_counter()
    warm_up()  # compile the refinement once into numba's disk cache, which the workers then load
    warm = (time.perf_counter() - t0, cpu_seconds() - c0)
    runs = []
    for _ in range(2):
        out = Path(tempfile.mkdtemp(prefix="unihm_bench_build_"))
        try:
            c0, t0 = cpu_seconds(), time.perf_counter()
            card = build_dataset(out, cfg, progress=lambda s: None)
            runs.append({"wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0,
                         "digest": shard_digest(out), "n": card["sequences"]})
        finally:
            shutil.rmtree(out, ignore_errors=True)
    same = runs[0]["digest"] == runs[1]["digest"]
    load = os.getloadavg()[0]
    body = (f"`bench/bench_data_build.py`: {args.n}-sequence builds (RGB-D rendered, refined, all seven robot "
            f"hands, seed 0, {args.workers} workers, shards of 5), twice into fresh folders, after compiling (or "
            f"loading from the disk cache) the refinement once: {warm[0]:.1f} s.\n\n"
            f"| run | sequences | wall [s] | CPU [s] |\n|---|---|---|---|\n"
            + "".join(f"| {k + 1} | {r['n']} | {r['wall']:.1f} | {r['cpu']:.1f} |\n" for k, r in enumerate(runs))
            + f"\nTarget: under 60 s. Bit-identical shards across the two runs: **{'yes' if same else 'NO'}** "
              f"(SHA-256 {runs[0]['digest'][:16]}…). Load average at the end: {load:.1f} on {os.cpu_count()} "
              f"cores.\n\n_Generated {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python "
              f"{platform.python_version()}._")
    print(body)
    if not args.no_write:
        write_section("databuild", body)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
