"""`syncd status`: the applied commit, the last attempt and drift since the last sync."""

from __future__ import annotations

import psycopg

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo
from tests.support import syncd_cli as cli

PRICING = "config/pricing.yaml"


def test_status_reports_applied_and_drift(repo: ConfigRepo, db_dsn: str):
    """status shows the applied commit, the last attempt and drift after a hand edit."""
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("status", "--dsn", db_dsn)
    assert code == 0 and repo.head() in out and "drift:           none" in out
    with psycopg.connect(db_dsn) as conn:
        conn.execute("delete from config_parameters where key = 'base_rate_GHO'")
    code, out = cli("status", "--dsn", db_dsn, "--format", "json")
    import json

    status = json.loads(out)
    assert status["drift"] is True and status["drifted_rows"] == 1


def test_drift_correction_keeps_the_refused_head_visible(repo: ConfigRepo, db_dsn: str):
    """Putting drift back re-applies the applied commit without hiding a refused head from status."""
    good = repo.head()
    apply_commit(repo.path, "HEAD", db_dsn)
    bad = repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    assert apply_commit(repo.path, "HEAD", db_dsn).outcome == "refused"
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.3' where key = 'base_rate_GHO'")
    assert apply_commit(repo.path, good, db_dsn).result.drift
    with psycopg.connect(db_dsn) as conn:
        state = conn.execute(
            "select applied_commit, attempted_commit, attempt_outcome from sync_state"
        ).fetchone()
        last_run = conn.execute(
            "select commit, outcome, message from sync_runs order by id desc limit 1"
        ).fetchone()
    assert state == (good, bad, "refused")
    assert last_run == (good, "applied", "drift correction")
