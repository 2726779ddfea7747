"""The service (reader) and syncd (writer) roles get exactly the rights the migrations grant."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from syncd.sync.migrate import migrate
from tests import support as testing

READER = "tonsurance_reader"
WRITER = "tonsurance_writer"


def as_role(dsn: str, role: str, query: str) -> list[tuple[Any, ...]]:
    """Run one statement as `role` (via SET ROLE) in its own transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f"set role {role}")  # type: ignore[arg-type]
        cur = conn.execute(query)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


@pytest.fixture
def seeded(db_dsn: str) -> str:
    """A migrated database holding one parameter, one depeg event and one scenario."""
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            "insert into config_parameters values ('pricing', 'base_rate_USDC', '0.04', 'float')"
        )
        conn.execute(
            "insert into historical_depegs values"
            " ('usdc-svb-2023', 'USDC', 0.88, '2023-03-10', 48, 'SVB', 'public record', true)"
        )
        conn.execute(
            "insert into stress_scenarios (id, name, severity, annual_probability, btc_change,"
            " price_impacts) values"
            " ('banking_crisis', 'Banking', 'high', 0.02, 0.27, '{\"USDC\": -0.12}')"
        )
    return db_dsn


def test_reader_can_read_parameters_and_call_read_functions(seeded: str) -> None:
    """The service role can SELECT the config tables and views and run the read-only functions."""
    assert as_role(seeded, READER, "select value from config_parameters") == [(0.04,)]
    assert as_role(seeded, READER, "select count(*) from historical_depegs") == [(1,)]
    assert as_role(seeded, READER, "select count(*) from stress_scenarios") == [(1,)]
    assert as_role(seeded, READER, "select event_count from depeg_frequency_by_asset") == [(1,)]
    assert as_role(seeded, READER, "select applied_commit from sync_state") == [(None,)]
    severity = as_role(seeded, READER, "select calculate_expected_severity('USDC')")
    assert severity[0][0] == pytest.approx(0.12)


@pytest.mark.parametrize(
    "statement",
    [
        "insert into config_parameters values ('pricing', 'base_rate_USDT', '0.06', 'float')",
        "update config_parameters set value = '0.05'",
        "delete from config_parameters",
        "update historical_depegs set low_price = 0.5",
        "delete from stress_scenarios",
        "update sync_state set applied_commit = 'x'",
        "select * from config_audit_log",
        (
            "insert into config_audit_log (table_name, category, key, action, is_drift)"
            " values ('x', 'x', 'x', 'INSERT', true)"
        ),
        "select run_stress_test('banking_crisis', '{}', 'reader')",
        "create table sneaky (id int)",
    ],
)
def test_reader_cannot_write(seeded: str, statement: str) -> None:
    """The service role is refused every write, the audit log and the stress-test writers."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(seeded, READER, statement)
    assert as_role(seeded, READER, "select value from config_parameters") == [(0.04,)]


def test_writer_changes_are_audited_under_its_role(seeded: str) -> None:
    """The syncd role can change parameters, and the audit row names it as the database role."""
    as_role(seeded, WRITER, "update config_parameters set value = '0.05'")
    as_role(seeded, WRITER, "update sync_state set applied_commit = 'abc'")
    rows = as_role(seeded, WRITER, "select db_role, new_value from config_audit_log order by id")
    assert rows[-1] == (WRITER, 0.05)
    stress = "select solvent from run_stress_test('banking_crisis', '{}', 'w')"
    assert as_role(seeded, WRITER, stress) == [(True,)]


@pytest.mark.parametrize(
    "statement", ["update config_audit_log set is_drift = false", "delete from config_audit_log"]
)
def test_writer_cannot_rewrite_the_audit_log(seeded: str, statement: str) -> None:
    """Even the syncd role can only add to the audit log, never change or delete its rows."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(seeded, WRITER, statement)


def test_roles_cannot_log_in(db_dsn: str) -> None:
    """Both roles are group roles: operators grant them to their own login roles."""
    with psycopg.connect(db_dsn) as conn:
        rows = conn.execute(
            "select rolname, rolcanlogin from pg_roles where rolname = any(%s) order by 1",
            ([READER, WRITER],),
        ).fetchall()
    assert rows == [(READER, False), (WRITER, False)]


@pytest.mark.slow
def test_migrating_many_databases_at_once_creates_the_roles_once() -> None:
    """On a new cluster, migrations racing in several databases all succeed and share the roles."""
    with testing.throwaway_cluster() as cluster:
        dsns = [testing.create_database(cluster.dsn) for _ in range(4)]
        start = threading.Barrier(len(dsns))
        errors: list[BaseException] = []

        def run(dsn: str) -> None:
            start.wait()
            try:
                migrate(dsn)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(dsn,)) for dsn in dsns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for dsn in dsns:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_role(dsn, READER, "delete from config_parameters")
