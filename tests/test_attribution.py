"""Only syncd's own apply transaction attributes a change to a commit; a hand edit stays drift."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from syncd.sync.pipeline import apply_commit
from syncd.sync.status import read_status
from tests.support import ConfigRepo, login_role, make_config_repo, syncd_cli

USDC = "category = 'pricing' and key = 'base_rate_USDC'"
# Every session setting the audit trigger used to read, set the way syncd used to set them.
FORGED_SETTINGS = (
    "select set_config('tonsurance.commit_sha', %s, false),"
    " set_config('tonsurance.commit_author', 'Test Analyst <analyst@tonsurance.test>', false),"
    " set_config('tonsurance.commit_message', 'Initial configuration', false),"
    " set_config('tonsurance.change_reason', 'commit', false)"
)


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def test_hand_edit_with_forged_commit_settings_is_drift(repo: ConfigRepo, db_dsn: str) -> None:
    """A writer session that sets the commit settings and edits a value is audited and reported as drift."""
    sha = repo.head()
    with login_role(db_dsn, "tonsurance_writer") as writer_dsn:
        assert apply_commit(repo.path, sha, writer_dsn).outcome == "applied"
        with psycopg.connect(writer_dsn) as attacker:
            attacker.execute(FORGED_SETTINGS, (sha,))
            attacker.execute(f"update config_parameters set value = '0.05' where {USDC}")
        with psycopg.connect(db_dsn) as conn:
            row = conn.execute(
                "select commit_sha, is_drift, reason from config_audit_log"
                f" where {USDC} and new_value = '0.05'"
            ).fetchone()
        assert row == (None, True, "drift")
        status = read_status(writer_dsn)
        assert status.drift and status.drifted_rows == 1
        code, out = syncd_cli("status", "--dsn", writer_dsn)
        assert code == 0 and "drift:           1 row changed by hand" in out
        assert apply_commit(repo.path, sha, writer_dsn).result.drift


def test_apply_ledger_cannot_be_rewritten_or_lied_to(repo: ConfigRepo, db_dsn: str) -> None:
    """A writer cannot change or delete an apply's record, nor register another transaction or identity."""
    with login_role(db_dsn, "tonsurance_writer") as writer_dsn:
        apply_commit(repo.path, repo.head(), writer_dsn)
        with psycopg.connect(writer_dsn) as attacker:
            for statement in (
                "update sync_apply_transactions set commit_sha = 'x'",
                "delete from sync_apply_transactions",
                "truncate sync_apply_transactions",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    attacker.execute(statement)  # type: ignore[arg-type]
                attacker.rollback()
            # A row claiming another transaction and another identity is stamped with its own.
            attacker.execute(
                "insert into sync_apply_transactions (txid, commit_sha, reason, session_role,"
                " backend_pid, recorded_at) values ('1', %s, 'commit', 'syncd', 1, now())",
                (repo.head(),),
            )
            attacker.execute(f"update config_parameters set value = '0.05' where {USDC}")
            stamped = attacker.execute(
                "select txid = pg_current_xact_id(), session_role = session_user,"
                " backend_pid = pg_backend_pid() from sync_apply_transactions"
                " order by recorded_at desc limit 1"
            ).fetchone()
        assert stamped == (True, True, True)
        with psycopg.connect(db_dsn) as conn:
            sessions = {
                r[0] for r in conn.execute("select session_role from sync_apply_transactions")
            }
        assert len(sessions) == 1 and "syncd" not in sessions


def test_service_role_cannot_read_or_write_the_apply_ledger(repo: ConfigRepo, db_dsn: str) -> None:
    """The service role has no access to the apply ledger."""
    apply_commit(repo.path, repo.head(), db_dsn)
    with login_role(db_dsn, "tonsurance_reader") as reader_dsn:
        with psycopg.connect(reader_dsn) as reader:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("select * from sync_apply_transactions")
