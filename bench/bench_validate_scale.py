"""Read and validate a commit of 1k, 10k and 100k parameters, as syncd does (from git objects).

    .venv/bin/python bench/bench_validate_scale.py [--sizes 1000,10000,100000]

The synthetic configurations are those of bench_apply.py: the shipped files plus synthetic
assets, each with a base rate and a price impact in every stress scenario (the rules require
one), so N parameters are about 5N YAML values. For each size, in this process:
- strict only: every file read by the strict reader and checked by the full jsonschema
  validator, as before the fast path existed (the fast path switched off, nothing kept);
- fast path, first read: the files read and checked for the first time (nothing kept);
- one file changed: a commit that changes one value of pricing.yaml, read after its parent
  (the other files are kept by content, pricing.yaml is read and checked again);
- same commit again: everything kept, what the daemon pays per cycle for an unchanged head.
Each figure is the best of a few runs, as CPU time of this process (what other processes on a
shared machine do not change; git's own `cat-file` process is not counted) and as wall time (git
read included); the ratio is strict only divided by the fast path's first read, in CPU time,
both measured in this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TONSURANCE_MAX_FILE_BYTES", str(256 * 1024 * 1024))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apply import synthetic_repo  # noqa: E402

from syncd.sync.pipeline import open_repo, prepare  # noqa: E402
from tests.support import git  # noqa: E402
from tonsurance.config import filecheck, schemacheck  # noqa: E402


def best(run: Callable[[], object], repeats: int, before: Callable[[], None]) -> tuple[float, float]:
    """The shortest (CPU time of this process, wall time) of `repeats` runs."""
    cpu, wall = [], []
    for _ in range(repeats):
        before()
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return min(cpu), min(wall)


def bench_size(size: int) -> dict[str, tuple[float, float]]:
    repeats = 3 if size >= 100_000 else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_repo(Path(tmp), size)
        repo = open_repo(path)
        parent = git(path, "rev-parse", "HEAD")
        text = (path / "config/pricing.yaml").read_text().replace("USDC: 0.04", "USDC: 0.041", 1)
        (path / "config/pricing.yaml").write_text(text)
        git(path, "commit", "-q", "-am", "one value")
        head = git(path, "rev-parse", "HEAD")

        def check(rev: str) -> None:
            prepared = prepare(repo, rev)
            assert prepared.validation.ok, prepared.validation.problems[:3]
            assert len(prepared.state.parameters) == size

        def cold() -> None:
            filecheck.forget()
            check(parent)  # compile the schemas once, as a running daemon has
            filecheck.forget()

        saved = filecheck.FAST_PATH_BYTES
        filecheck.FAST_PATH_BYTES = 2**62
        try:
            strict = best(lambda: check(parent), max(1, repeats - 2), cold)
        finally:
            filecheck.FAST_PATH_BYTES = saved
        first = best(lambda: check(parent), repeats, cold)
        changed = best(lambda: check(head), repeats, lambda: (cold(), check(parent)))
        again = best(lambda: check(head), repeats, lambda: check(head))
        schemacheck._compiled.clear()
    return {"strict": strict, "first": first, "changed": changed, "again": again}


def cell(figures: tuple[float, float]) -> str:
    return f"{figures[0] * 1e3:.0f} / {figures[1] * 1e3:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    print("milliseconds, CPU time of this process / wall time; best of 5 runs (3 at 100k)")
    print(
        f"{'parameters':>10} {'strict only':>13} {'fast path':>11} {'x faster (CPU)':>15}"
        f" {'one file changed':>17} {'same commit':>12}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        r = bench_size(size)
        print(
            f"{size:>10} {cell(r['strict']):>13} {cell(r['first']):>11}"
            f" {r['strict'][0] / r['first'][0]:15.1f} {cell(r['changed']):>17}"
            f" {cell(r['again']):>12}",
            flush=True,
        )


if __name__ == "__main__":
    main()
