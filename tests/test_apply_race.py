"""Two `syncd apply` processes racing: an older commit never moves the database back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from test_daemon import wait_for

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, applied_commit, make_config_repo, value

PRICING = "config/pricing.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def _start_apply(repo: ConfigRepo, sha: str, dsn: str, name: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PGAPPNAME=name)
    command = [sys.executable, "-m", "syncd.cli.main", "apply", "--repo", str(repo.path)]
    return subprocess.Popen(
        [*command, "--commit", sha, "--dsn", dsn],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _waiting_on_a_lock(dsn: str, name: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity"
            " where application_name = %s and wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
    return bool(row and row[0])


def _race(repo: ConfigRepo, dsn: str, first: str, second: str) -> tuple[str, str]:
    """Queue `first` then `second` behind a held apply lock, release it; both outputs."""
    with psycopg.connect(dsn) as holder:
        holder.execute("lock table sync_apply_lock in exclusive mode")
        one = _start_apply(repo, first, dsn, "apply-first")
        wait_for(lambda: _waiting_on_a_lock(dsn, "apply-first"), what="the first apply to queue")
        two = _start_apply(repo, second, dsn, "apply-second")
        wait_for(lambda: _waiting_on_a_lock(dsn, "apply-second"), what="the second apply to queue")
        holder.rollback()
    out_one, _ = one.communicate(timeout=60)
    out_two, _ = two.communicate(timeout=60)
    assert one.returncode == 0, out_one
    assert two.returncode == 0, out_two
    return out_one, out_two


def test_older_commit_losing_the_race_is_superseded(repo: ConfigRepo, db_dsn: str) -> None:
    """When the newer commit wins, the older apply reports superseded, exits 0 and writes nothing."""
    base = repo.head()
    apply_commit(repo.path, base, db_dsn)
    older = repo.change(PRICING, "USDC: 0.04", "USDC: 0.041", push=False)
    newer = repo.change(PRICING, "USDC: 0.041", "USDC: 0.042", push=False)
    _, out_older = _race(repo, db_dsn, newer, older)
    assert f"{older[:12]}: superseded: another writer applied {newer[:12]} first" in out_older
    assert applied_commit(db_dsn) == newer
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.042
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            "select (select count(*) from sync_runs where commit = %s),"
            " (select count(*) from config_audit_log where commit_sha = %s)",
            (older, older),
        ).fetchone()
    assert rows == (0, 0)


def test_newer_commit_losing_the_race_is_retried(repo: ConfigRepo, db_dsn: str) -> None:
    """When an ancestor wins, the newer apply retries and the database ends at the newer commit."""
    base = repo.head()
    apply_commit(repo.path, base, db_dsn)
    older = repo.change(PRICING, "USDC: 0.04", "USDC: 0.041", push=False)
    newer = repo.change(PRICING, "USDC: 0.041", "USDC: 0.042", push=False)
    out_older, out_newer = _race(repo, db_dsn, older, newer)
    assert f"{older[:12]}: applied" in out_older and f"{newer[:12]}: applied" in out_newer
    assert applied_commit(db_dsn) == newer
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.042
