"""Write a diff into the database, inside the caller's transaction, touching only changed rows."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tonsurance.config.state import TABLE_COLUMNS

from syncd.diff import Diff, ParamChange

BULK_THRESHOLD = 2000

_UPSERT_PARAM = """
insert into config_parameters (category, key, value, value_type, description, commit, updated_at)
values (%s, %s, %s, %s, %s, %s, now())
on conflict (category, key) do update
   set value = excluded.value, value_type = excluded.value_type,
       description = excluded.description, commit = excluded.commit, updated_at = now()
"""


def _param_tuple(change: ParamChange, sha: str) -> tuple[Any, ...]:
    new = change.new
    assert new is not None
    return (new.category, new.key, Jsonb(new.value), new.value_type, new.description, sha)


def _bulk_upsert(cur: psycopg.Cursor[Any], changes: list[ParamChange], sha: str) -> None:
    cur.execute(
        "create temp table incoming_parameters (category text, key text, value jsonb,"
        " value_type text, description text) on commit drop"
    )
    with cur.copy(
        "copy incoming_parameters (category, key, value, value_type, description) from stdin"
    ) as copy:
        for change in changes:
            new = change.new
            assert new is not None
            copy.write_row((new.category, new.key, json.dumps(new.value), new.value_type, new.description))
    cur.execute(
        """
        insert into config_parameters (category, key, value, value_type, description, commit, updated_at)
        select category, key, value, value_type, description, %s, now() from incoming_parameters
        on conflict (category, key) do update
           set value = excluded.value, value_type = excluded.value_type,
               description = excluded.description, commit = excluded.commit, updated_at = now()
        """,
        (sha,),
    )


def _write_params(cur: psycopg.Cursor[Any], diff: Diff, sha: str) -> None:
    upserts = [c for c in diff.params if c.action != "remove"]
    removals = [c for c in diff.params if c.action == "remove"]
    if len(upserts) >= BULK_THRESHOLD:
        _bulk_upsert(cur, upserts, sha)
    elif upserts:
        cur.executemany(_UPSERT_PARAM, [_param_tuple(c, sha) for c in upserts])
    if removals:
        cur.execute(
            "delete from config_parameters c using unnest(%s::text[], %s::text[]) as gone(category, key)"
            " where c.category = gone.category and c.key = gone.key",
            ([c.category for c in removals], [c.key for c in removals]),
        )


def _adapt(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, (dict, list)) else value


def _write_rows(cur: psycopg.Cursor[Any], diff: Diff, sha: str) -> None:
    for table, columns in TABLE_COLUMNS.items():
        changes = [r for r in diff.rows if r.table == table]
        upserts = [r.new for r in changes if r.new is not None]
        removals = [r.id for r in changes if r.action == "remove"]
        if upserts:
            names = ", ".join(columns)
            marks = ", ".join(["%s"] * len(columns))
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
            cur.executemany(
                f"insert into {table} ({names}, commit, updated_at) values ({marks}, %s, now())"
                f" on conflict (id) do update set {updates}, commit = excluded.commit, updated_at = now()",
                [tuple(_adapt(row[c]) for c in columns) + (sha,) for row in upserts],
            )
        if removals:
            cur.execute(f"delete from {table} where id = any(%s)", (removals,))


def write_diff(conn: psycopg.Connection[Any], diff: Diff, sha: str) -> None:
    """Apply `diff` in the current transaction, stamping changed rows with `sha`."""
    with conn.cursor() as cur:
        _write_params(cur, diff, sha)
        _write_rows(cur, diff, sha)
