"""The console's reads: one function per page part, each inside the caller's read-only transaction.

Every query is bounded: lists are paged by a cursor (never OFFSET), the audit log is read
newest first through its primary key or per parameter through its (category, key) index, so a
page costs the same with 100 or 100,000 rows behind it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from syncd.console.database import Capabilities
from syncd.console.pages import (
    Change,
    ChangeKind,
    CommitView,
    DriftRow,
    FrontPage,
    Live,
    ParameterRow,
    ParametersPage,
    Provenance,
    Refusal,
)
from syncd.console.units import unit_of

PAGE_SIZE = 200
DRIFT_SHOWN = 20

_PROVENANCE = """
select author, verification, signer, signer_key, pull_request, override_reason, override_by
  from commit_provenance where commit_sha = %s
"""
_COUNTS = """
select (select count(*) from config_parameters), (select count(*) from historical_depegs),
       (select count(*) from stress_scenarios)
"""


def _one(conn: psycopg.Connection[Any], query: Any, params: Any = ()) -> Any:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


def provenance(conn: psycopg.Connection[Any], caps: Capabilities, sha: str) -> Provenance | None:
    if not caps.can("commit_provenance"):
        return None
    row = _one(conn, _PROVENANCE, (sha,))
    return Provenance(*row) if row else None


def commit_view(
    conn: psycopg.Connection[Any], caps: Capabilities, sha: str, when: dt.datetime | None
) -> CommitView:
    """The commit's author and message as the apply recorded them in the audit log."""
    author = message = None
    if caps.audit:
        row = _one(
            conn,
            sql.SQL(
                "select commit_author, commit_message from {} where commit_sha = %s"
                " and not is_drift order by id desc limit 1"
            ).format(sql.Identifier(caps.audit)),
            (sha,),
        )
        if row:
            author, message = row
    if message is None and caps.can("sync_runs"):
        row = _one(
            conn,
            "select message from sync_runs where commit = %s and outcome = 'applied'"
            " order by id desc limit 1",
            (sha,),
        )
        message = row[0] if row else None
    found = provenance(conn, caps, sha)
    if author is None and found is not None:
        author = found.author
    return CommitView(sha, author, message, when, found)


def last_refusal(
    conn: psycopg.Connection[Any], caps: Capabilities, state: dict[str, Any]
) -> Refusal | None:
    if caps.can("sync_runs"):
        row = _one(
            conn,
            "select commit, finished_at, message from sync_runs where outcome = 'refused'"
            " order by id desc limit 1",
        )
        return Refusal(row[0], row[1], row[2] or "") if row else None
    if state.get("attempt_outcome") == "refused":
        return Refusal(
            state["attempted_commit"], state.get("attempted_at"), state.get("attempt_error") or ""
        )
    return None


def drift(conn: psycopg.Connection[Any], caps: Capabilities) -> tuple[int, tuple[DriftRow, ...]]:
    """How many rows changed by hand since the last sync, and the newest of those changes."""
    if not caps.audit:
        return 0, ()
    since = sql.SQL(
        "from {} where is_drift"
        " and changed_at >= coalesce((select applied_at from sync_state), '-infinity')"
    ).format(sql.Identifier(caps.audit))
    count = _one(conn, sql.SQL("select count(distinct (table_name, category, key)) ") + since)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select table_name, category, key, action, changed_at ")
            + since
            + sql.SQL(" order by changed_at desc limit %s"),
            (DRIFT_SHOWN,),
        )
        rows = tuple(DriftRow(*row) for row in cur.fetchall())
    return int(count[0]) if count else 0, rows


def front(
    conn: psycopg.Connection[Any], caps: Capabilities, live: Live | None
) -> FrontPage:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from sync_state")
        state = dict(cur.fetchone() or {})
    applied_sha = state.get("applied_commit")
    applied = (
        commit_view(conn, caps, applied_sha, state.get("applied_at")) if applied_sha else None
    )
    drifted, drift_rows = drift(conn, caps)
    params, depegs, scenarios = _one(conn, _COUNTS) or (0, 0, 0)
    version = None
    if caps.can("config_version"):
        row = _one(conn, "select version from config_version")
        version = row[0] if row else None
    outcome = state.get("attempt_outcome")
    if live is not None:
        in_sync: bool | None = live.in_sync and not drifted
    elif applied_sha:
        in_sync = state.get("attempted_commit") == applied_sha and not drifted
    else:
        in_sync = None
    notes = []
    if not caps.audit:
        notes.append("This login may not read the audit log: history and drift are not shown.")
    return FrontPage(
        environment=state.get("environment") if caps.environment_column else None,
        applied=applied,
        applied_at=state.get("applied_at"),
        attempted=state.get("attempted_commit"),
        attempt_outcome=outcome,
        in_sync=in_sync,
        live=live,
        last_refused=last_refusal(conn, caps, state),
        drifted_rows=drifted,
        drift=drift_rows,
        parameters=params,
        historical_depegs=depegs,
        stress_scenarios=scenarios,
        version=version,
        notes=tuple(notes),
    )


def _parameter_row(row: tuple[Any, ...]) -> ParameterRow:
    category, key, value, value_type, description, commit, updated_at = row
    return ParameterRow(
        category, key, value, value_type, unit_of(description), description, commit, updated_at
    )


_PARAMETER_COLUMNS = "category, key, value, value_type, description, commit, updated_at"


def parameters(
    conn: psycopg.Connection[Any], query: str, after: tuple[str, str] | None
) -> ParametersPage:
    """A page of parameters in (category, key) order whose name, description or value contains
    `query` (case-insensitive); `after` is the last (category, key) of the previous page."""
    where = []
    params: list[Any] = []
    if query:
        where.append(
            "strpos(lower(category || '.' || key || ' ' || description || ' ' || value::text),"
            " lower(%s)) > 0"
        )
        params.append(query)
    condition = (" where " + " and ".join(where)) if where else ""
    total = _one(conn, "select count(*) from config_parameters" + condition, params)[0]
    if after is not None:
        where.append("(category, key) > (%s, %s)")
        params.extend(after)
    condition = (" where " + " and ".join(where)) if where else ""
    with conn.cursor() as cur:
        cur.execute(
            f"select {_PARAMETER_COLUMNS} from config_parameters{condition}"
            " order by category, key limit %s",
            [*params, PAGE_SIZE + 1],
        )
        rows = [_parameter_row(r) for r in cur.fetchall()]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    categories = tuple(dict.fromkeys(r.category for r in rows))
    cursor = f"{rows[-1].category}\t{rows[-1].key}" if more and rows else None
    return ParametersPage(query, tuple(rows), categories, total, cursor)


def parameter(
    conn: psycopg.Connection[Any], category: str, key: str
) -> ParameterRow | None:
    with conn.cursor() as cur:
        cur.execute(
            f"select {_PARAMETER_COLUMNS} from config_parameters where category = %s and key = %s",
            (category, key),
        )
        row = cur.fetchone()
    return _parameter_row(row) if row else None


def change_kind(is_drift: bool, reason: str | None) -> ChangeKind:
    if is_drift:
        return ChangeKind.HAND_EDIT
    if reason == "drift correction":
        return ChangeKind.DRIFT_CORRECTION
    return ChangeKind.COMMIT


def change_columns(caps: Capabilities) -> sql.Composable:
    signer = "signer" if caps.audit == "config_audit_trail" else "null::text"
    return sql.SQL(
        "id, changed_at, table_name, category, key, action, old_value, new_value, is_drift,"
        " reason, commit_sha, commit_author, commit_message, {}, db_role"
    ).format(sql.SQL(signer))


def to_change(row: tuple[Any, ...]) -> Change:
    (id_, when, table, category, key, action, old, new, is_drift, reason, sha, author,
     message, signer, role) = row
    subject = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return Change(
        id_, when, table, category, key, action, old, new, change_kind(is_drift, reason),
        sha, author, subject, signer, role,
    )


def applied_and_environment(
    conn: psycopg.Connection[Any], caps: Capabilities
) -> tuple[str | None, str | None]:
    """The applied commit and the environment the database serves (None when unknown)."""
    column = "environment" if caps.environment_column else "null::text"
    row = _one(conn, f"select applied_commit, {column} from sync_state")
    return (row[0], row[1]) if row else (None, None)
