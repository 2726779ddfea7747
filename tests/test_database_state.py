"""What the database holds, read back in the normal form of a commit (syncd.sync.database_state)."""

from __future__ import annotations

import psycopg

from syncd.sync.database_state import read_state
from syncd.sync.pipeline import apply_commit, open_repo, prepare
from tests.support import ConfigRepo
from tests.support import syncd_cli as cli


def test_read_state_round_trips_the_commit(repo: ConfigRepo, db_dsn: str):
    """What apply writes reads back equal to the commit's desired state."""
    prepared = prepare(open_repo(repo.path), "HEAD")
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        assert read_state(conn) == prepared.state


def test_plan_uses_one_normal_form(repo: ConfigRepo, db_dsn: str):
    """0.040 in the database equals 0.04 in YAML, and 90 stays an int: no permanent difference."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.040' where key = 'base_rate_USDC'")
        conn.execute(
            "update config_parameters set value = '25.00' where key = 'SURE-BTC_allocation_percent'"
        )
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--detailed-exitcode")
    assert code == 0, out
    assert "No changes" in out
