"""Validate the repository's config: `syncd validate` against `check-jsonschema` on the same files
and schemas, both run in this process (and, separately, as whole commands).

    .venv/bin/python bench/bench_validate.py
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

from check_jsonschema import main as check_jsonschema_main

from tonsurance.config import schemacheck
from tonsurance.config.layout import CONFIG_FILES, schema_path
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 20


def ours(cold: bool) -> None:
    if cold:
        schemacheck._compiled.clear()
    result = validate_sources(read_directory(ROOT))
    assert result.ok, result.problems


def theirs() -> None:
    for config in CONFIG_FILES.values():
        args = ["--schemafile", str(ROOT / schema_path(config)), str(ROOT / config)]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                check_jsonschema_main.main(args, standalone_mode=False)
            except SystemExit as exc:
                assert not exc.code, exc.code


def best(fn, *args) -> tuple[float, float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def command(args: list[str]) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    theirs()
    ours(cold=True)
    cold_best, cold_median = best(ours, True)
    warm_best, warm_median = best(ours, False)
    their_best, their_median = best(theirs)
    bindir = Path(sys.executable).parent
    ours_cmd = command([str(bindir / "syncd"), "validate", "--repo", str(ROOT)])
    theirs_cmd = sum(
        command([str(bindir / "check-jsonschema"), "--schemafile", schema_path(c), c])
        for c in CONFIG_FILES.values()
    )
    print(
        f"{'in process (5 files, schemas + rules)':45} {'best ms':>9} {'median ms':>10} {'ratio':>7}"
    )
    print(
        f"{'check-jsonschema (schemas only)':45} {their_best * 1e3:9.1f} {their_median * 1e3:10.1f} {1:7.2f}"
    )
    print(
        f"{'syncd validate, schemas compiled each run':45} {cold_best * 1e3:9.1f} {cold_median * 1e3:10.1f} {cold_median / their_median:7.2f}"
    )
    print(
        f"{'syncd validate, schemas cached':45} {warm_best * 1e3:9.1f} {warm_median * 1e3:10.1f} {warm_median / their_median:7.2f}"
    )
    print()
    print(f"{'whole commands (median of 5, wall time)':45} {'ms':>9}")
    print(f"{'check-jsonschema, one run per file (5 runs)':45} {theirs_cmd * 1e3:9.1f}")
    print(f"{'syncd validate (all files, one run)':45} {ours_cmd * 1e3:9.1f}")


if __name__ == "__main__":
    main()
