"""Write a diff into the database, inside the caller's transaction, touching only changed rows.

Small diffs go row by row; large ones are streamed with COPY (straight into the table for new
parameters, through a temporary table for changed ones), so a full sync of 100k parameters
costs little more than loading them.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from syncd.sync.diff import Diff
from tonsurance.config.state import TABLE_COLUMNS, Parameter

BULK_THRESHOLD = 1000

_INSERT_PARAM = """
insert into config_parameters (category, key, value, value_type, description, commit, updated_at)
values (%s, %s, %s, %s, %s, %s, now())
"""
_UPDATE_PARAM = """
update config_parameters
   set value = %s, value_type = %s, description = %s, commit = %s, updated_at = now()
 where category = %s and key = %s
"""


def _copy_rows(
    cur: psycopg.Cursor[Any], table: str, params: list[Parameter], sha: str | None
) -> None:
    columns = "category, key, value, value_type, description" + (", commit" if sha else "")
    with cur.copy(f"copy {table} ({columns}) from stdin") as copy:
        for p in params:
            row: tuple[Any, ...] = (
                p.category,
                p.key,
                json.dumps(p.value),
                p.value_type,
                p.description,
            )
            copy.write_row(row + (sha,) if sha else row)


def _insert(cur: psycopg.Cursor[Any], params: list[Parameter], sha: str) -> None:
    if len(params) >= BULK_THRESHOLD:
        _copy_rows(cur, "config_parameters", params, sha)
    elif params:
        cur.executemany(
            _INSERT_PARAM,
            [(p.category, p.key, Jsonb(p.value), p.value_type, p.description, sha) for p in params],
        )


def _update(cur: psycopg.Cursor[Any], params: list[Parameter], sha: str) -> None:
    if len(params) >= BULK_THRESHOLD:
        cur.execute(
            "create temp table incoming_parameters (category text, key text, value jsonb,"
            " value_type text, description text) on commit drop"
        )
        _copy_rows(cur, "incoming_parameters", params, None)
        cur.execute(
            "update config_parameters p set value = i.value, value_type = i.value_type,"
            " description = i.description, commit = %s, updated_at = now()"
            " from incoming_parameters i where p.category = i.category and p.key = i.key",
            (sha,),
        )
    elif params:
        cur.executemany(
            _UPDATE_PARAM,
            [(Jsonb(p.value), p.value_type, p.description, sha, p.category, p.key) for p in params],
        )


def _write_params(cur: psycopg.Cursor[Any], diff: Diff, sha: str) -> None:
    removals = [c for c in diff.params if c.action == "remove"]
    if removals:
        cur.execute(
            "delete from config_parameters c using unnest(%s::text[], %s::text[]) as gone(category, key)"
            " where c.category = gone.category and c.key = gone.key",
            ([c.category for c in removals], [c.key for c in removals]),
        )
    _update(cur, [c.new for c in diff.params if c.action == "change" and c.new is not None], sha)
    _insert(cur, [c.new for c in diff.params if c.action == "add" and c.new is not None], sha)


def _adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, (dict, list)) else value


def _write_rows(cur: psycopg.Cursor[Any], diff: Diff, sha: str) -> None:
    for table, columns in TABLE_COLUMNS.items():
        changes = [r for r in diff.rows if r.table == table]
        upserts = [r.new for r in changes if r.new is not None]
        removals = [r.id for r in changes if r.action == "remove"]
        if removals:
            cur.execute(f"delete from {table} where id = any(%s)", (removals,))
        if upserts:
            names = ", ".join(columns)
            marks = ", ".join(["%s"] * len(columns))
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
            cur.executemany(
                f"insert into {table} ({names}, commit, updated_at) values ({marks}, %s, now())"
                f" on conflict (id) do update set {updates}, commit = excluded.commit, updated_at = now()",
                [tuple(_adapt(row[c]) for c in columns) + (sha,) for row in upserts],
            )


def write_diff(conn: psycopg.Connection[Any], diff: Diff, sha: str) -> None:
    """Apply `diff` in the current transaction, stamping changed rows with `sha`."""
    with conn.cursor() as cur:
        _write_params(cur, diff, sha)
        _write_rows(cur, diff, sha)
