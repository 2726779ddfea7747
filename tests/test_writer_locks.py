"""syncd's leader and apply locks: only the writer role can take them; a blocked apply is a fault."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_daemon import PRICING, applied, daemons, repo, usdc, wait_applied, wait_for

from syncd.sync.locks import APPLY_LOCK, LEADER_LOCK
from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, login_role

__all__ = ["daemons", "repo"]

# The advisory lock keys syncd used before its locks became writer-only.
OLD_ADVISORY_KEYS = (0x73796E63, 0x746F6E73)
LOCK_MODES = (
    "access share",
    "row share",
    "row exclusive",
    "share update exclusive",
    "share",
    "share row exclusive",
    "exclusive",
    "access exclusive",
)


def test_service_role_cannot_take_or_block_the_locks(
    repo: ConfigRepo, db_dsn: str, daemons: Any, tmp_path: Path
) -> None:
    """A service-role session that tries every way to take syncd's locks neither gets them nor stops applies."""
    with login_role(db_dsn, "tonsurance_reader") as reader_dsn:
        attacker = psycopg.connect(reader_dsn)
        try:
            for lock in (LEADER_LOCK, APPLY_LOCK):
                for mode in LOCK_MODES:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        attacker.execute(f"lock table {lock} in {mode} mode")  # type: ignore[arg-type]
                    attacker.rollback()
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    attacker.execute(f"select * from {lock} for update")  # type: ignore[arg-type]
                attacker.rollback()
            # Hold what a service role can hold: the old advisory keys and read locks on every
            # table syncd writes, in a transaction left open for the rest of the test.
            for key in OLD_ADVISORY_KEYS:
                attacker.execute("select pg_advisory_lock(%s)", (key,))
            attacker.execute("select * from config_parameters, sync_state limit 1")
            attacker.execute("select * from historical_depegs, stress_scenarios limit 1")

            daemon = daemons(str(repo.remote), db_dsn)
            wait_applied(db_dsn, repo.head())
            wait_for(lambda: daemon.status()["role"] == "active", what="the daemon to lead")
            sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
            wait_applied(db_dsn, sha)
            assert usdc(db_dsn) == 0.045
            assert daemon.stop() == 0
            older = repo.change(PRICING, "USDC: 0.045", "USDC: 0.046", push=False)
            report = apply_commit(repo.path, older, db_dsn)
            assert report.outcome == "applied" and applied(db_dsn) == older
        finally:
            attacker.close()


def test_leader_lock_holds_back_no_vacuum(repo: ConfigRepo, db_dsn: str, daemons: Any) -> None:
    """The active daemon's leader transaction holds neither a snapshot nor a transaction id."""
    daemon = daemons(str(repo.remote), db_dsn)
    wait_applied(db_dsn, repo.head())
    wait_for(lambda: daemon.status()["role"] == "active", what="the daemon to lead")
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        holders = conn.execute(
            "select a.state, a.backend_xmin, a.backend_xid from pg_locks l"
            " join pg_stat_activity a on a.pid = l.pid"
            " where l.relation = 'sync_leader_lock'::regclass and l.granted"
        ).fetchall()
    assert holders == [("idle in transaction", None, None)]


LOCK_USDC = (
    "select * from config_parameters"
    " where category = 'pricing' and key = 'base_rate_USDC' for update"
)


def _metric(daemon: Any, name: str) -> float | None:
    code, text = daemon.request("/metrics")
    assert code == 200
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


def test_apply_blocked_by_an_operator_transaction_is_a_fault(
    repo: ConfigRepo, db_dsn: str, daemons: Any
) -> None:
    """An operator's open transaction holding a row lock makes the daemon report `blocked` until it ends."""
    daemon = daemons(str(repo.remote), db_dsn, interval="0.5")
    first = repo.head()
    wait_applied(db_dsn, first)
    assert _metric(daemon, "syncd_apply_blocked") == 0
    with psycopg.connect(db_dsn) as operator:
        operator.execute(LOCK_USDC)
        sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
        wait_for(lambda: "blocked" in daemon.status()["faults"], what="the blocked fault")
        code, reason = daemon.request("/readyz")
        assert code == 503 and reason.startswith("applies blocked by a lock: ")
        assert "lock timeout" in daemon.status()["faults"]["blocked"]["error"]
        assert _metric(daemon, "syncd_apply_blocked") == 1
        # Several more lock waits run out while the operator keeps the row: still one line.
        time.sleep(5)
        assert applied(db_dsn) == first and usdc(db_dsn) == 0.04
        operator.rollback()
    wait_applied(db_dsn, sha)
    wait_for(lambda: daemon.request("/readyz")[0] == 200, what="/readyz to be ready again")
    assert "blocked" not in daemon.status()["faults"]
    assert _metric(daemon, "syncd_apply_blocked") == 0
    log = daemon.log
    assert log.count("ERROR blocked: ") == 1 and log.count("INFO unblocked: ") == 1


def test_cli_apply_gives_up_after_its_lock_timeout(repo: ConfigRepo, db_dsn: str) -> None:
    """`syncd apply` behind a row lock gives up after --lock-timeout: exit 3, one line, nothing written."""
    first = repo.head()
    apply_commit(repo.path, first, db_dsn)
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045", push=False)
    with psycopg.connect(db_dsn) as operator:
        operator.execute(LOCK_USDC)
        done = subprocess.run(
            [sys.executable, "-m", "syncd.cli.main", "apply", "--repo", str(repo.path)]
            + ["--commit", sha, "--dsn", db_dsn, "--lock-timeout", "0.5"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(
        "syncd: error: gave up after waiting 0.5 s for a lock held by another session"
    )
    assert len(done.stderr.splitlines()) == 1
    assert applied(db_dsn) == first and usdc(db_dsn) == 0.04
