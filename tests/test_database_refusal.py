"""A commit whose data a database check refuses is refused once, like a validation failure:
recorded as the refused head, never retried as an apply fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.support import ConfigRepo, make_config_repo

DEPEGS = "config/historical_depegs.yaml"
# A check stricter than the schema (which allows low_price below 2), as a constraint added to the
# database before the schema catches up would be.
STRICTER = "historical_depegs_low_price_below_1_5"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def syncd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd.cli.main", *args], capture_output=True, text=True, timeout=120
    )


def _add_stricter_check(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"alter table historical_depegs add constraint {STRICTER} check (low_price < 1.5)"
        )


def _sync_row(dsn: str) -> tuple[str | None, str | None, str | None]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select applied_commit, attempt_outcome, attempt_error from sync_state"
        ).fetchone()
    assert row is not None
    return row


def _refused_runs(dsn: str, sha: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select count(*) from sync_runs where commit = %s and outcome = 'refused'", (sha,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_syncd_apply_refuses_data_a_check_refuses(repo: ConfigRepo, db_dsn: str) -> None:
    """`syncd apply` of a commit that violates a check exits 1 naming the constraint, records
    the commit as refused and writes nothing."""
    first = repo.head()
    assert syncd("apply", "--repo", str(repo.path), "--dsn", db_dsn).returncode == 0
    _add_stricter_check(db_dsn)
    bad = repo.change(DEPEGS, "low_price: 0.88", "low_price: 1.6")
    done = syncd("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not applied: the database refused the commit's data" in done.stderr
    assert STRICTER in done.stderr and "unexpected" not in done.stderr
    applied, outcome, error = _sync_row(db_dsn)
    assert (applied, outcome) == (first, "refused")
    assert error is not None and STRICTER in error
    assert _refused_runs(db_dsn, bad) == 1
    with psycopg.connect(db_dsn) as conn:
        row = conn.execute("select max(low_price) from historical_depegs").fetchone()
    assert row is not None and row[0] < 1.5


def test_daemon_records_the_refusal_once_and_does_not_retry(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path
) -> None:
    """The daemon refuses such a head once (event `refused`, exit 1 with --once) and does not
    try it again on the next cycle; the last good commit stays applied."""
    once = [
        "run",
        "--once",
        "--repo",
        str(repo.remote),
        "--dsn",
        db_dsn,
        "--state-dir",
        str(tmp_path / "state"),
    ]
    assert syncd(*once).returncode == 0
    good = repo.head()
    _add_stricter_check(db_dsn)
    bad = repo.change(DEPEGS, "low_price: 0.88", "low_price: 1.6")
    first = syncd(*once)
    assert first.returncode == 1, first.stderr
    refused = [line for line in first.stderr.splitlines() if " refused: refused " in line]
    assert len(refused) == 1 and STRICTER in refused[0], first.stderr
    assert "applying failed" not in first.stderr and "apply_down" not in first.stderr
    second = syncd(*once)
    assert second.returncode == 1, second.stderr
    assert " refused: " not in second.stderr and "applying failed" not in second.stderr
    assert "stopped: " in second.stderr
    assert _refused_runs(db_dsn, bad) == 1
    assert _sync_row(db_dsn)[:2] == (good, "refused")
