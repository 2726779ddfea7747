"""Validate the repository's config/ (five files, five schemas), like with like:

- in this process, everything from the bytes on disk (schemas parsed and checked against the
  metaschema, YAML parsed, documents validated): `validate_sources` with every cache emptied,
  against check-jsonschema's own command function, called once per file (it takes one schema per
  run), output discarded;
- in this process, schemas compiled once, files read and checked again: `validate_sources` with
  the per-file cache emptied, against plain library calls on the same files (PyYAML's C loader,
  dates turned back into text, and a jsonschema Draft 2020-12 validator compiled once per
  schema);
- as whole commands, one process each run: `syncd validate` (all files) against
  `check-jsonschema`, which needs one process per schema.

`syncd validate` also checks the business rules and builds the database rows; the others only
check the schemas.

    .venv/bin/python bench/bench_validate.py
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from check_jsonschema import main as check_jsonschema_main
from jsonschema import Draft202012Validator

from tonsurance.config import filecheck, schemacheck
from tonsurance.config.layout import CONFIG_FILES, schema_path
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 20
PAIRS = [(ROOT / config, ROOT / schema_path(config)) for config in CONFIG_FILES.values()]


def ours_cold() -> None:
    schemacheck._compiled.clear()
    filecheck.forget()
    assert validate_sources(read_directory(ROOT)).ok


def ours_files_again() -> None:
    filecheck.forget()
    assert validate_sources(read_directory(ROOT)).ok


def ours_kept() -> None:
    assert validate_sources(read_directory(ROOT)).ok


def theirs_cold() -> None:
    for config, schema in PAIRS:
        args = ["--schemafile", str(schema), str(config)]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                check_jsonschema_main.main(args, standalone_mode=False)
            except SystemExit as exc:
                assert not exc.code, exc.code


VALIDATORS = [
    (
        config,
        Draft202012Validator(
            json.loads(schema.read_bytes()), format_checker=Draft202012Validator.FORMAT_CHECKER
        ),
    )
    for config, schema in PAIRS
]


def _dates_as_text(node: Any) -> Any:
    """PyYAML reads 2023-03-10 as a date; JSON Schema wants the text."""
    if isinstance(node, dict):
        return {k: _dates_as_text(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_dates_as_text(v) for v in node]
    return node.isoformat() if isinstance(node, dt.date) else node


def library_files_again() -> None:
    for config, validator in VALIDATORS:
        document = _dates_as_text(yaml.load(config.read_bytes(), Loader=yaml.CSafeLoader))
        assert not list(validator.iter_errors(document))


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def command(args: list[str]) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(label: str, figures: tuple[float, float], baseline: float) -> None:
    best, median = figures
    print(f"{label:52} {best * 1e3:8.1f} {median * 1e3:10.1f} {median / baseline:7.2f}")


def main() -> None:
    ours_cold()
    theirs_cold()
    library_files_again()
    print(f"{'in process, 5 files':52} {'best ms':>8} {'median ms':>10} {'ratio':>7}")
    their = timed(theirs_cold)
    row("from the bytes: check-jsonschema, once per file", their, their[1])
    row("from the bytes: syncd validate", timed(ours_cold), their[1])
    library = timed(library_files_again)
    row("schemas compiled: PyYAML + jsonschema (baseline)", library, library[1])
    row("schemas compiled: syncd validate", timed(ours_files_again), library[1])
    row("files unchanged (kept by content): syncd validate", timed(ours_kept), library[1])
    bindir = Path(sys.executable).parent
    ours_cmd = command([str(bindir / "syncd"), "validate", "--repo", str(ROOT)])
    theirs_cmd = [
        command([str(bindir / "check-jsonschema"), "--schemafile", str(schema), str(config)])
        for config, schema in PAIRS
    ]
    print()
    print(f"{'whole commands, median of 5 (wall time)':52} {'ms':>8}")
    print(f"{'syncd validate, one process for 5 files':52} {ours_cmd * 1e3:8.1f}")
    mean = statistics.mean(theirs_cmd)
    print(f"{'check-jsonschema, one process per file (mean)':52} {mean * 1e3:8.1f}")
    print(f"{'check-jsonschema, the 5 processes together':52} {sum(theirs_cmd) * 1e3:8.1f}")


if __name__ == "__main__":
    main()
