"""The apply transaction (syncd.sync.transaction): the applier's own guards, the in-memory diff, drift."""

from __future__ import annotations

import psycopg
import pytest

from syncd.sync.pipeline import apply_commit, open_repo, prepare
from syncd.sync.transaction import apply_state
from tests.support import ConfigRepo, audit, value
from tests.support import syncd_cli as cli

PRICING = "config/pricing.yaml"
DEPEGS = "config/historical_depegs.yaml"


def test_empty_state_is_refused_by_the_applier(repo: ConfigRepo, db_dsn: str):
    """The applier itself refuses to empty the database unless allowed, whatever the validator says."""
    from tonsurance.config.state import ConfigState

    apply_commit(repo.path, "HEAD", db_dsn)
    info = prepare(open_repo(repo.path), "HEAD").info
    with psycopg.connect(db_dsn) as conn:
        refused = apply_state(conn, info, ConfigState())
        assert refused.outcome == "refused" and "--allow-empty" in refused.reason
        assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
        allowed = apply_state(conn, info, ConfigState(), allow_empty=True)
    assert allowed.outcome == "applied"
    assert value(db_dsn, "pricing", "base_rate_USDC") is None


def test_fast_diff_matches_the_full_diff(repo: ConfigRepo, db_dsn: str):
    """With the applied commit as base and no hand edit, the in-memory diff equals the full one."""
    from syncd.sync.database_diff import diff_database
    from syncd.sync.pipeline import apply_prepared

    git_repo = open_repo(repo.path)
    base = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_prepared(conn, git_repo, base)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(DEPEGS, "low_price: 0.96", "low_price: 0.955")
    head = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        from syncd.sync.database_state import read_sync_state
        from syncd.sync.transaction import fast_diff

        quick = fast_diff(conn, read_sync_state(conn), (base.info.sha, base.state), head.state)
        full = diff_database(conn, head.state)
    assert quick is not None
    assert quick == full and len(full.params) == 1 and len(full.rows) == 1


def test_fast_diff_declines_after_a_hand_edit(repo: ConfigRepo, db_dsn: str):
    """A hand edit since the last sync makes apply read the database back, so the drift is put back."""
    from syncd.sync.pipeline import apply_prepared

    git_repo = open_repo(repo.path)
    base = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_prepared(conn, git_repo, base)
        conn.execute("update config_parameters set value = '0.2' where key = 'base_rate_GHO'")
        conn.commit()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    head = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        report = apply_prepared(conn, git_repo, head, base=base)
    assert {c.key for c in report.result.diff.params} == {"base_rate_USDC", "base_rate_GHO"}
    assert value(db_dsn, "pricing", "base_rate_GHO") == 0.065


def test_truncate_counts_as_drift(repo: ConfigRepo, db_dsn: str):
    """TRUNCATE bypasses row triggers but is still audited as drift, and apply restores the rows."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("truncate config_parameters")
    code, out = cli("status", "--dsn", db_dsn)
    assert "drift:           1 row changed by hand" in out
    apply_commit(repo.path, "HEAD", db_dsn)
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04


def test_drift_is_planned_and_put_back(repo: ConfigRepo, db_dsn: str):
    """A hand edit shows in plan, apply puts it back, and the audit row says it was a drift correction."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.09' where key = 'base_rate_USDC'")
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--detailed-exitcode")
    assert code == 2
    assert "pricing.base_rate_USDC: 0.09 -> 0.04" in out
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0 and "drift in the database was put back" in out
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
    rows = [r for r in audit(db_dsn) if r[1] == "base_rate_USDC"]
    assert rows[-2][6] is True and rows[-2][7] == "drift"
    assert rows[-1][3:6] == (0.09, 0.04, repo.head()) and rows[-1][7] == "drift correction"


def test_slower_writer_cannot_move_back(repo: ConfigRepo, db_dsn: str):
    """An apply prepared against an older applied commit is refused by the compare-and-set."""
    first = prepare(open_repo(repo.path), "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_state(conn, first.info, first.state, expected_applied=None)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    newer = prepare(open_repo(repo.path), "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_state(conn, newer.info, newer.state, expected_applied=first.info.sha)
        stale = apply_state(conn, first.info, first.state, expected_applied=first.info.sha)
    assert stale.outcome == "superseded"
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.05


def test_control_characters_in_keys_are_refused(db_dsn: str):
    """A parameter key with a control character cannot be inserted, even by hand."""
    with psycopg.connect(db_dsn) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into config_parameters (category, key, value, value_type) values"
                " ('pricing', e'bad\\x1fkey', '1.0', 'float')"
            )
