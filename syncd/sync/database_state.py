"""What the database holds now, read into the same normal form as a commit's desired state."""

from __future__ import annotations

from typing import Any

import psycopg

from tonsurance.config.normal import normal_row, normal_value
from tonsurance.config.state import FLOAT_COLUMNS, TABLE_COLUMNS, ConfigState, Parameter


def read_state(conn: psycopg.Connection[Any]) -> ConfigState:
    """All parameters and table rows, read inside the caller's transaction."""
    parameters: dict[tuple[str, str], Parameter] = {}
    with conn.cursor() as cur:
        cur.execute("select category, key, value, value_type, description from config_parameters")
        for category, key, value, value_type, description in cur:
            parameters[(category, key)] = Parameter(
                category, key, normal_value(value, value_type), value_type, description
            )
    return ConfigState(parameters, read_tables(conn))


def read_tables(conn: psycopg.Connection[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """The rows of the configuration tables, by table and id, in normal form."""
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    with conn.cursor() as cur:
        for table, columns in TABLE_COLUMNS.items():
            cur.execute(f"select {', '.join(columns)} from {table}")
            floats = FLOAT_COLUMNS[table]
            tables[table] = {row[0]: normal_row(dict(zip(columns, row)), floats) for row in cur}
    return tables


def read_sync_state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The one-row record of the applied and the last attempted commit (empty dict if none)."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from sync_state")
        row = cur.fetchone()
    return dict(row) if row else {}


_DRIFTED_SINCE_SYNC = """
select count(distinct (table_name, category, key))
  from config_audit_log
 where is_drift and changed_at >= coalesce((select applied_at from sync_state), '-infinity')
"""


def drifted_since_sync(conn: psycopg.Connection[Any]) -> int:
    """How many rows were changed without a commit (by hand) since syncd last synced.

    `sync_state.applied_at` is renewed by every apply that leaves the database equal to the
    applied commit, drift corrections included, so older hand edits no longer count.
    """
    with conn.cursor() as cur:
        cur.execute(_DRIFTED_SINCE_SYNC)
        row = cur.fetchone()
    return int(row[0]) if row else 0
