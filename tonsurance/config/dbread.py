"""Read the configuration that syncd applied, as one consistent snapshot.

Every query of a reload runs in one REPEATABLE READ, READ ONLY transaction: PostgreSQL takes its
snapshot at the first query, so the applied commit and all rows come from the same moment and a
reader never sees half of an apply. The applied commit is read first; when it equals the commit
already loaded, the transaction ends there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from tonsurance.config.model import ParamKey, Snapshot
from tonsurance.config.normal import normal_row, normal_value
from tonsurance.config.snapshot import build_snapshot
from tonsurance.config.state import FLOAT_COLUMNS, TABLE_COLUMNS
from tonsurance.db import connect
from tonsurance.errors import Unavailable

APPLIED_COMMIT_SQL = "select applied_commit from sync_state"
PARAMETERS_SQL = "select category, key, value, value_type from config_parameters"


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """A snapshot read from the database, with each parameter's declared value type."""

    snapshot: Snapshot
    types: dict[ParamKey, str]


class NothingApplied(Unavailable):
    """The database is reachable but syncd has not applied any commit to it yet."""


def open_reader(dsn: str | None) -> psycopg.Connection[Any]:
    """A connection whose transactions are REPEATABLE READ and READ ONLY."""
    conn = connect(dsn, autocommit=False)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _table_rows(cur: psycopg.Cursor[Any], table: str) -> list[dict[str, Any]]:
    columns = TABLE_COLUMNS[table]
    cur.execute(f"select {', '.join(columns)} from {table} order by id")
    floats = FLOAT_COLUMNS[table]
    return [normal_row(dict(zip(columns, row, strict=True)), floats) for row in cur]


def read_config(conn: psycopg.Connection[Any], known_commit: str | None) -> DatabaseConfig | None:
    """The applied configuration, or None when its commit is `known_commit` (nothing to do).

    Raises NothingApplied when no commit was ever applied, and InvalidConfig when the rows do
    not make a complete configuration.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(APPLIED_COMMIT_SQL)
        row = cur.fetchone()
        commit = row[0] if row else None
        if commit is None:
            raise NothingApplied("the database holds no applied configuration yet; run syncd apply")
        if commit == known_commit:
            return None
        cur.execute(PARAMETERS_SQL)
        values: dict[ParamKey, Any] = {}
        types: dict[ParamKey, str] = {}
        for category, key, value, value_type in cur:
            values[(category, key)] = normal_value(value, value_type)
            types[(category, key)] = value_type
        depegs = _table_rows(cur, "historical_depegs")
        scenarios = _table_rows(cur, "stress_scenarios")
    snapshot = build_snapshot(values, depegs, scenarios, commit=commit, source="database")
    return DatabaseConfig(snapshot, types)
