"""The "no tables" and "cannot connect" errors name the database reached and the step that fixes it."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support import database_name, syncd_cli


def test_missing_tables_name_the_database_and_migrate(empty_db_dsn: str) -> None:
    """An address without the schema names its database and says to run syncd migrate with it."""
    code, out = syncd_cli("status", "--dsn", empty_db_dsn)
    assert code == 3
    name = database_name(empty_db_dsn)
    assert out.startswith(f'syncd: error: database "{name}" on ')
    assert "has no tonsurance tables yet; create them with `syncd migrate`" in out
    assert len(out.strip().splitlines()) == 1


def test_libpq_defaults_are_named_and_the_dsn_variable_suggested(
    empty_db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no --dsn and no TONSURANCE_DSN, the error names the database libpq chose from PG*
    variables and says to point TONSURANCE_DSN at the tonsurance database."""
    params = conninfo_to_dict(empty_db_dsn)
    monkeypatch.delenv("TONSURANCE_DSN", raising=False)
    monkeypatch.setenv("PGHOST", str(params.get("host", "127.0.0.1")))
    monkeypatch.setenv("PGPORT", str(params.get("port", "5432")))
    monkeypatch.setenv("PGUSER", str(params.get("user", "postgres")))
    monkeypatch.setenv("PGDATABASE", database_name(empty_db_dsn))
    code, out = syncd_cli("history", "pricing.base_rate_USDC", "--repo", ".")
    assert code == 3
    assert f'database "{database_name(empty_db_dsn)}" on {params.get("host")}' in out
    assert "no --dsn or TONSURANCE_DSN was given" in out
    assert "export TONSURANCE_DSN=" in out


def test_a_missing_database_says_so_and_how_to_create_it(empty_db_dsn: str) -> None:
    """A database that does not exist is named as missing, with the createdb command, not as a
    server to start; the password stays hidden."""
    params = conninfo_to_dict(empty_db_dsn)
    missing = make_conninfo(empty_db_dsn, dbname="no_such_database_here", password="hunter2")
    code, out = syncd_cli("status", "--dsn", missing)
    assert code == 3
    assert 'database "no_such_database_here"' in out and "does not exist" in out
    assert f"createdb -h {params['host']}" in out and out.rstrip().endswith("`syncd migrate`")
    assert "hunter2" not in out and "server is running" not in out


def test_no_server_names_the_address_tried() -> None:
    """An address where no server listens names the database, host and port it tried."""
    code, out = syncd_cli("status", "--dsn", "postgresql://someone@127.0.0.1:1/tonsurance")
    assert code == 3
    assert 'no server accepted database "tonsurance" on 127.0.0.1:1 as user someone' in out
