"""Apply speed on synthetic configurations of 1k, 10k and 100k parameters.

    .venv/bin/python bench/bench_apply.py [--sizes 1000,10000,100000]

For each size, in a fresh database on the local server: a plain COPY of the same rows into an
empty table (the baseline), a full apply into an empty database, a re-apply of the same state
(nothing to do), and a one-value change. Each figure is the median of a few runs; ratios are
against the COPY baseline measured in the same run. "base known" is the daemon's case: it passes
the commit it applied last, and with no hand edit audited since, the diff is made in memory.
Synthetic files exceed the 1 MiB file limit, so the benchmark raises it (TONSURANCE_MAX_FILE_BYTES).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg

os.environ.setdefault("TONSURANCE_MAX_FILE_BYTES", str(256 * 1024 * 1024))

from syncd.sync.gitsource import CommitInfo
from syncd.sync.migrate import migrate
from syncd.sync.transaction import apply_state
from tonsurance.config.layout import default_root
from tonsurance.config.sources import read_directory
from tonsurance.config.state import ConfigState, Parameter
from tonsurance.config.validation import validate_sources

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root, for tests.support
from tests.support import fresh_database

RUNS = 3


def synthetic_state(size: int) -> ConfigState:
    """The shipped configuration, padded with base rates of synthetic assets up to `size` parameters."""
    real = validate_sources(read_directory(default_root())).state
    assert real is not None
    params = dict(real.parameters)
    i = 0
    while len(params) < size:
        key = f"base_rate_SYN{i:06d}"
        params[("pricing", key)] = Parameter(
            "pricing",
            key,
            round(0.01 + (i % 500) / 10000, 4),
            "float",
            f"Base annual premium rate for SYN{i:06d}.",
        )
        i += 1
    return ConfigState(params, real.tables)


def info(n: int) -> CommitInfo:
    sha = f"{n:040x}"
    return CommitInfo(sha, "Bench <bench@tonsurance.test>", f"bench {n}", f"bench {n}", 0)


def copy_baseline(dsn: str, state: ConfigState) -> float:
    with psycopg.connect(dsn) as conn:
        conn.execute("create table copy_baseline (like config_parameters including all)")
        conn.commit()
        start = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "copy copy_baseline (category, key, value, value_type, description, commit) from stdin"
            ) as copy,
        ):
            for p in state.parameters.values():
                copy.write_row(
                    (p.category, p.key, json.dumps(p.value), p.value_type, p.description, "0" * 40)
                )
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("drop table copy_baseline")
        conn.commit()
    return elapsed


def timed_apply(
    dsn: str, state: ConfigState, n: int, base: tuple[str, ConfigState] | None = None
) -> tuple[float, str, int]:
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        outcome = apply_state(conn, info(n), state, base=base)
        elapsed = time.perf_counter() - start
    return elapsed, outcome.outcome, len(outcome.diff.params)


def one_change(state: ConfigState, n: int) -> ConfigState:
    params = dict(state.parameters)
    key = ("pricing", "base_rate_USDC")
    params[key] = replace(params[key], value=0.04 + n / 1e6)
    return ConfigState(params, state.tables)


def bench_size(size: int) -> dict[str, float]:
    state = synthetic_state(size)
    copies, fulls, noops, singles, known = [], [], [], [], []
    for run in range(RUNS):
        with fresh_database() as dsn:
            migrate(dsn)
            copies.append(copy_baseline(dsn, state))
            elapsed, outcome, changed = timed_apply(dsn, state, 1)
            assert outcome == "applied" and changed == len(state.parameters)
            fulls.append(elapsed)
            elapsed, outcome, _ = timed_apply(dsn, state, 1)
            assert outcome == "unchanged"
            noops.append(elapsed)
            elapsed, outcome, changed = timed_apply(dsn, one_change(state, run + 2), 2)
            assert outcome == "applied" and changed == 1
            singles.append(elapsed)
            changed_state = one_change(state, run + 2)
            elapsed, outcome, changed = timed_apply(
                dsn, one_change(state, run + 3), 3, base=(info(2).sha, changed_state)
            )
            assert outcome == "applied" and changed == 1
            known.append(elapsed)
    return {
        "copy": statistics.median(copies),
        "full": statistics.median(fulls),
        "noop": statistics.median(noops),
        "single": statistics.median(singles),
        "known": statistics.median(known),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--end-to-end-sizes", default="1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'parameters':>10} {'COPY ms':>9} {'full apply ms':>14} {'x COPY':>7} {'no-op ms':>9}"
        f" {'one change ms':>14} {'one change, base known ms':>26}"
    )
    for size in sizes:
        r = bench_size(size)
        print(
            f"{size:>10} {r['copy'] * 1e3:9.0f} {r['full'] * 1e3:14.0f} {r['full'] / r['copy']:7.2f}"
            f" {r['noop'] * 1e3:9.0f} {r['single'] * 1e3:14.0f} {r['known'] * 1e3:26.0f}"
        )
    print_end_to_end([int(s) for s in args.end_to_end_sizes.split(",") if s])


def synthetic_repo(parent: Path, size: int) -> Path:
    """A git repository whose config has `size` parameters: the shipped files plus synthetic
    assets, each with a base rate and (as the rules require) a price impact in every scenario."""
    from tests.support import make_config_repo

    repo = make_config_repo(parent)
    extra = size - len(synthetic_state(0).parameters)
    names = [f"SYN{i:06d}" for i in range(max(0, extra))]
    pricing = repo.file("config/pricing.yaml").read_text()
    rates = "".join(f"  {n}: {0.01 + (i % 500) / 10000}\n" for i, n in enumerate(names))
    repo.write(
        "config/pricing.yaml", pricing.replace("  default: 0.10\n", rates + "  default: 0.10\n")
    )
    scenarios = repo.file("config/stress_scenarios.yaml").read_text().splitlines(keepends=True)
    out = []
    for line in scenarios:
        out.append(line)
        if line.strip() == "price_impacts:":
            indent = " " * (len(line) - len(line.lstrip()) + 2)
            out.extend(f"{indent}{n}: -0.01\n" for n in names)
    repo.write("config/stress_scenarios.yaml", "".join(out))
    repo.commit(f"{size} parameters")
    return repo.path


def end_to_end(size: int) -> dict[str, float]:
    """Read a commit from git and validate it, then apply it; then the same for a one-value change."""
    import tempfile

    from syncd.sync.pipeline import apply_prepared, open_repo, prepare
    from tests.support import git

    with tempfile.TemporaryDirectory() as tmp, fresh_database() as dsn:
        migrate(dsn)
        path = synthetic_repo(Path(tmp), size)
        repo = open_repo(path)
        start = time.perf_counter()
        first = prepare(repo, "HEAD")
        prepared = time.perf_counter()
        assert first.validation.ok, first.validation.problems[:3]
        assert len(first.state.parameters) == size
        with psycopg.connect(dsn) as conn:
            apply_prepared(conn, repo, first)
            applied = time.perf_counter()
            text = (
                (path / "config/pricing.yaml").read_text().replace("USDC: 0.04", "USDC: 0.041", 1)
            )
            (path / "config/pricing.yaml").write_text(text)
            git(path, "commit", "-q", "-am", "one value")
            again = time.perf_counter()
            second = prepare(repo, "HEAD")
            reprepared = time.perf_counter()
            report = apply_prepared(conn, repo, second, base=first)
            done = time.perf_counter()
        assert len(report.result.diff.params) == 1
    return {
        "read_validate": prepared - start,
        "apply": applied - prepared,
        "change_read_validate": reprepared - again,
        "change_apply": done - reprepared,
    }


def print_end_to_end(sizes: list[int]) -> None:
    if not sizes:
        return
    print()
    print("from a git commit (syncd's path): read + validate, then apply; then a one-value change")
    print(
        f"{'parameters':>10} {'read+validate ms':>17} {'apply ms':>9} {'change read+validate ms':>24} {'change apply ms':>16}"
    )
    for size in sizes:
        r = end_to_end(size)
        print(
            f"{size:>10} {r['read_validate'] * 1e3:17.0f} {r['apply'] * 1e3:9.0f}"
            f" {r['change_read_validate'] * 1e3:24.0f} {r['change_apply'] * 1e3:16.0f}"
        )


if __name__ == "__main__":
    main()
