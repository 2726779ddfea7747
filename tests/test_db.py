"""Connection handling (tonsurance.db) and the database helpers of tests.support."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from tests import support as testing
from tonsurance.db import connect, redact, resolve_dsn
from tonsurance.errors import Unavailable, UsageProblem


def test_resolve_dsn_prefers_flag_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The --dsn value wins, then TONSURANCE_DSN, then "" so libpq's PG* variables apply."""
    monkeypatch.delenv("TONSURANCE_DSN", raising=False)
    assert resolve_dsn(None) == ""
    monkeypatch.setenv("TONSURANCE_DSN", "postgresql://env/db")
    assert resolve_dsn(None) == "postgresql://env/db"
    assert resolve_dsn("postgresql://flag/db") == "postgresql://flag/db"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:secret@db.example:5432/x", "postgresql://u:***@db.example:5432/x"),
        (
            "postgres://u:s%40cret@h/x?password=secret&sslmode=require",
            "postgres://u:***@h/x?password=***&sslmode=require",
        ),
        ("host=h user=u password=secret dbname=x", "host=h user=u password=*** dbname=x"),
        ("host=h password = 'se cret\\'s' user=u", "host=h password = *** user=u"),
        ("postgresql://u@h/x", "postgresql://u@h/x"),
    ],
)
def test_redact_hides_passwords(dsn: str, shown: str) -> None:
    """Passwords are replaced by *** in URL, URL-query and key=value addresses."""
    assert redact(dsn) == shown


@pytest.mark.parametrize(
    "dsn", ["postgresql://u:secret@127.0.0.1:1/x", "host=127.0.0.1 port=1 password=secret"]
)
def test_unreachable_server_is_unavailable_without_the_password(dsn: str) -> None:
    """A refused connection raises Unavailable: one line, the redacted address, what to check."""
    with pytest.raises(Unavailable) as info:
        connect(dsn)
    message = str(info.value)
    assert "secret" not in message and "\n" not in message
    assert "127.0.0.1" in message and "***" in message
    assert "TONSURANCE_DSN" in message


@pytest.mark.slow
def test_wrong_password_is_unavailable_without_the_password() -> None:
    """A server that rejects the login names the address but never the password tried."""
    with testing.throwaway_cluster() as cluster:
        hba = cluster.datadir / "pg_hba.conf"
        hba.write_text("host all app 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        with psycopg.connect(cluster.dsn, autocommit=True) as conn:
            conn.execute("create role app login password 'right-one'")
        cluster.stop()
        cluster.start()
        dsn = f"postgresql://app:wrong-one@127.0.0.1:{cluster.port}/postgres"
        with pytest.raises(Unavailable, match="password authentication failed") as info:
            connect(dsn)
        assert "wrong-one" not in str(info.value)


def test_malformed_address_is_a_usage_problem_without_its_text() -> None:
    """An address that libpq cannot parse is a usage error that does not echo the address."""
    with pytest.raises(UsageProblem) as info:
        connect("host=h password=se cret")
    assert "cret" not in str(info.value)
    assert info.value.exit_code == 2


def test_connect_uses_the_environment_when_no_dsn(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connect(None) reaches the database named by TONSURANCE_DSN."""
    monkeypatch.setenv("TONSURANCE_DSN", db_dsn)
    with connect(None) as conn:
        assert conn.execute("select current_database()").fetchone() == (
            testing.database_name(db_dsn),
        )


def test_fresh_database_is_dropped_afterwards(postgres_server: str) -> None:
    """fresh_database yields a new empty database and drops it even while someone is connected."""
    with testing.fresh_database() as dsn:
        name = testing.database_name(dsn)
        assert name.startswith(testing.DATABASE_PREFIX)
        lingering = psycopg.connect(dsn)
    lingering.close()
    with psycopg.connect(postgres_server) as conn:
        rows = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchall()
    assert rows == []


@pytest.mark.slow
def test_throwaway_cluster_stops_starts_and_goes_away() -> None:
    """A throwaway cluster can be stopped (connections are Unavailable) and started again."""
    with testing.throwaway_cluster() as cluster:
        with connect(cluster.dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        cluster.stop()
        with pytest.raises(Unavailable):
            connect(cluster.dsn)
        cluster.start()
        with connect(cluster.dsn) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        folder = cluster.folder
    assert not folder.exists()


def test_tonsurance_imports_no_daemon_dependencies() -> None:
    """Importing what a service uses (db, config loader, pricing) loads no syncd, gitpython or
    watchfiles, at import time or lazily."""
    code = (
        "import sys, tonsurance.db, tonsurance.config, tonsurance.pricing, tonsurance.risk;"
        "bad = [m for m in ('syncd', 'git', 'watchfiles') if m in sys.modules];"
        "sys.exit(str(bad) if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
