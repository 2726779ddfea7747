"""Rendering and validating every environment of the shipped configuration, against validating
the base alone, in the same process: warm (schemas compiled and file verdicts kept, as in a
long-running daemon) and cold (every cache emptied before each run, as a fresh `syncd validate`).

    .venv/bin/python bench/bench_environments.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tonsurance.config import environments, filecheck, render, schemacheck, state
from tonsurance.config.render import validate_repository
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 200


def forget() -> None:
    schemacheck._compiled.clear()
    filecheck.forget()
    environments._found.clear()
    render._kept.clear()
    state._built.clear()


def timed(fn: Callable[[], object], cold: bool) -> tuple[float, float]:
    times = []
    for _ in range(REPEATS):
        if cold:
            forget()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    sources = read_directory(ROOT)

    def base() -> None:
        assert validate_sources(sources).ok

    def every() -> None:
        result = validate_repository(sources)
        assert result.ok and result.environments

    base(), every()
    names = ", ".join(validate_repository(sources).environments)
    print(f"environments: {names}; {REPEATS} runs of each")
    for mode, cold in (("warm", False), ("cold", True)):
        base_best, base_median = timed(base, cold)
        all_best, all_median = timed(every, cold)
        print(
            f"{mode}: base alone best {base_best * 1000:.2f} ms, median {base_median * 1000:.2f} ms;"
            f" base + every environment best {all_best * 1000:.2f} ms, median"
            f" {all_median * 1000:.2f} ms; ratio {all_best / base_best:.2f}x (best),"
            f" {all_median / base_median:.2f}x (median)"
        )

if __name__ == "__main__":
    main()
