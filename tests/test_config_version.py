"""The configuration version (migration 010): every committed write moves it, nobody can set it."""

from __future__ import annotations

import psycopg
import pytest

READER = "tonsurance_reader"
WRITER = "tonsurance_writer"


def version(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select version from config_version").fetchone()
    assert row is not None
    return int(row[0])


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


WRITES = [
    "insert into config_parameters values ('pricing', 'base_rate_USDT', '0.06', 'float')",
    "update config_parameters set value = '0.05'",
    "update config_parameters set value = value where false",
    "delete from config_parameters",
    "truncate config_parameters",
    "update historical_depegs set duration_hours = 50",
    "delete from historical_depegs",
    "truncate historical_depegs",
    "update stress_scenarios set annual_probability = 0.03",
    (
        "insert into stress_scenarios (id, name, severity, annual_probability, btc_change,"
        " price_impacts) values ('x', 'X', 'low', 0.01, 0.0, '{}')"
    ),
    "truncate stress_scenarios",
    "update sync_state set applied_commit = 'abc123'",
]


def test_every_write_moves_the_version_by_one(seeded: str) -> None:
    """Each kind of write to the configuration, committed, moves the version by exactly one
    (statements on emptied tables included: the version moves per writing statement)."""
    for statement in WRITES:
        before = version(seeded)
        with psycopg.connect(seeded) as conn:
            conn.execute(statement)  # type: ignore[arg-type]
        assert version(seeded) == before + 1, statement


def test_one_transaction_moves_it_once_and_a_rollback_not_at_all(seeded: str) -> None:
    """Many statements in one transaction move the version once; a rolled-back write not at
    all; writing only syncd's attempt columns, which change no value, leaves it alone."""
    before = version(seeded)
    with psycopg.connect(seeded) as conn, conn.transaction():
        conn.execute("update config_parameters set value = '0.05'")
        conn.execute("update historical_depegs set duration_hours = 50")
        conn.execute("update sync_state set applied_commit = 'abc'")
        conn.execute("update config_parameters set value = '0.06'")
    assert version(seeded) == before + 1
    with psycopg.connect(seeded) as conn:
        conn.execute("update config_parameters set value = '0.07'")
        conn.rollback()
        conn.execute("update sync_state set attempted_commit = 'def', applied_commit = 'abc'")
    assert version(seeded) == before + 1


def test_the_bump_notifies_the_new_version(seeded: str) -> None:
    """A committed write sends one NOTIFY on the loaders' channel carrying the new version."""
    with psycopg.connect(seeded, autocommit=True) as listener:
        listener.execute("listen tonsurance_config")
        with psycopg.connect(seeded) as conn, conn.transaction():
            conn.execute("update config_parameters set value = '0.05'")
            conn.execute("update stress_scenarios set annual_probability = 0.03")
        payloads = [n.payload for n in listener.notifies(timeout=2.0, stop_after=1)]
    assert payloads == [f"version {version(seeded)}"]


@pytest.mark.parametrize("role", [READER, WRITER])
def test_no_role_can_set_the_version(seeded: str, role: str) -> None:
    """Neither the service role nor syncd's role can write the version; both can read it."""
    with psycopg.connect(seeded) as conn:
        conn.execute(f"set role {role}")  # type: ignore[arg-type]
        row = conn.execute("select version from config_version").fetchone()
        assert row is not None and row[0] >= 1
        for statement in (
            "update config_version set version = 1",
            "delete from config_version",
            "insert into config_version values (true, 1)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]
            conn.rollback()
            conn.execute(f"set role {role}")  # type: ignore[arg-type]


def test_a_writer_role_edit_moves_the_version(seeded: str) -> None:
    """A hand edit by syncd's role (which may write the tables but not the version) still
    moves the version, through the trigger that runs as the table owner."""
    before = version(seeded)
    with psycopg.connect(seeded) as conn:
        conn.execute(f"set role {WRITER}")  # type: ignore[arg-type]
        conn.execute("update config_parameters set value = '0.08'")
    assert version(seeded) == before + 1


def test_writers_take_turns_on_the_version(seeded: str) -> None:
    """An open transaction that wrote one configuration table holds the version until it ends,
    so a write to another table waits for it (here: runs out of its lock_timeout), and goes
    through once it has ended; the version moves once for each."""
    before = version(seeded)
    with psycopg.connect(seeded) as first, psycopg.connect(seeded) as second:
        first.execute("update historical_depegs set duration_hours = 49")
        second.execute("set lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            second.execute("update config_parameters set value = '0.05'")
        second.rollback()
        first.commit()
        second.execute("update config_parameters set value = '0.05'")
        second.commit()
    assert version(seeded) == before + 2
