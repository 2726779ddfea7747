"""Read the configuration that syncd applied: a cheap version check, and the whole snapshot.

The version check is one statement in autocommit: the configuration version (moved by every
committed write to the configuration, see migration 010), whether the server is a standby, and
its replay lag. The whole read runs in one REPEATABLE READ, READ ONLY transaction: PostgreSQL
takes its snapshot at the first query, so the version, the applied commit and all rows come from
the same moment and a reader never sees half of an apply.

Connections keep no session state and prepare nothing on the server (`prepare_threshold=None`),
so the same statements work on a primary, on a hot standby and through PgBouncer in transaction
pooling mode.
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

APPLICATION_NAME = "tonsurance-config"
VERSION_SQL = (
    "select version, pg_is_in_recovery(),"
    " case when pg_is_in_recovery()"
    " then extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end"
    " from config_version"
)
HEAD_SQL = "select v.version, s.applied_commit from config_version v cross join sync_state s"
PARAMETERS_SQL = "select category, key, value, value_type from config_parameters"


@dataclass(frozen=True, slots=True)
class VersionCheck:
    """What one version check found: the version, and how far behind a standby is."""

    version: int
    standby: bool
    replay_lag_s: float | None


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """A snapshot read from the database, with each parameter's declared value type."""

    snapshot: Snapshot
    types: dict[ParamKey, str]


class NothingApplied(Unavailable):
    """The database is reachable but syncd has not applied any commit to it yet."""


def open_reader(dsn: str | None, timeout: float) -> psycopg.Connection[Any]:
    """An autocommit connection whose transactions are REPEATABLE READ and READ ONLY.

    `timeout` bounds the connection attempt to each server (libpq's connect_timeout, whole
    seconds, at least 2) unless the address sets its own.
    """
    conn = connect(
        dsn,
        autocommit=True,
        prepare_threshold=None,
        fallback_application_name=APPLICATION_NAME,
        default_connect_timeout=max(2, round(timeout)),
    )
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def check_version(conn: psycopg.Connection[Any]) -> VersionCheck:
    """The configuration version, in one statement outside any transaction."""
    row = conn.execute(VERSION_SQL).fetchone()
    if row is None:
        raise NothingApplied("the database has no configuration version row; run syncd migrate")
    version, standby, lag = row
    return VersionCheck(int(version), bool(standby), None if lag is None else float(lag))


def _table_rows(cur: psycopg.Cursor[Any], table: str) -> list[dict[str, Any]]:
    columns = TABLE_COLUMNS[table]
    cur.execute(f"select {', '.join(columns)} from {table} order by id")
    floats = FLOAT_COLUMNS[table]
    return [normal_row(dict(zip(columns, row, strict=True)), floats) for row in cur]


def read_config(conn: psycopg.Connection[Any]) -> DatabaseConfig:
    """The applied configuration with its version, read in one consistent snapshot.

    Raises NothingApplied when no commit was ever applied, and InvalidConfig when the rows do
    not make a complete configuration.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(HEAD_SQL)
        row = cur.fetchone()
        version, commit = (int(row[0]), row[1]) if row else (None, None)
        if commit is None:
            raise NothingApplied("the database holds no applied configuration yet; run syncd apply")
        cur.execute(PARAMETERS_SQL)
        values: dict[ParamKey, Any] = {}
        types: dict[ParamKey, str] = {}
        for category, key, value, value_type in cur:
            values[(category, key)] = normal_value(value, value_type)
            types[(category, key)] = value_type
        depegs = _table_rows(cur, "historical_depegs")
        scenarios = _table_rows(cur, "stress_scenarios")
    snapshot = build_snapshot(
        values, depegs, scenarios, commit=commit, source="database", version=version
    )
    return DatabaseConfig(snapshot, types)
