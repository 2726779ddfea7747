"""syncd's leader and apply locks: only the writer role can take them, and a blocked apply is a fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
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
