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


def timed(
    first: Callable[[], object], second: Callable[[], object], cold: bool
) -> tuple[list[float], list[float]]:
    """Both functions timed in turns, so that the load of a shared machine falls on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(REPEATS):
        for fn, out in ((first, times[0]), (second, times[1])):
            if cold:
                forget()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def main() -> None:
    sources = read_directory(ROOT)

    def base() -> None:
        assert validate_sources(sources).ok

    def every() -> None:
        result = validate_repository(sources)
        assert result.ok and result.environments

    base(), every()
    names = ", ".join(validate_repository(sources).environments)
    print(f"environments: {names}; {REPEATS} runs of each, in turns")
    for mode, cold in (("warm", False), ("cold", True)):
        alone, every_time = timed(base, every, cold)
        base_best, base_median = min(alone), statistics.median(alone)
        all_best, all_median = min(every_time), statistics.median(every_time)
        print(
            f"{mode}: base alone best {base_best * 1000:.2f} ms, median {base_median * 1000:.2f} ms;"
            f" base + every environment best {all_best * 1000:.2f} ms, median"
            f" {all_median * 1000:.2f} ms; ratio {all_best / base_best:.2f}x (best),"
            f" {all_median / base_median:.2f}x (median)"
        )


if __name__ == "__main__":
    main()
