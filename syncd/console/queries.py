"""The front page's reads, and the audit-row form the other pages share, each inside the
caller's read-only transaction.

Every query is bounded: lists are paged by a cursor (never OFFSET), the audit log is read
newest first through its primary key or per parameter through its (category, key) index, so a
page costs nearly the same with 100 or 100,000 rows behind it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import psycopg
from psycopg import sql

from syncd.console.database import Capabilities
from syncd.console.pages import (
    Change,
    ChangeKind,
    CommitView,
    DriftRow,
    FrontPage,
    Live,
    Provenance,
    Refusal,
)

DRIFT_SHOWN = 20

_PROVENANCE = """
select author, verification, signer, signer_key, pull_request, override_reason, override_by
  from commit_provenance where commit_sha = %s
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
    conn: psycopg.Connection[Any],
    caps: Capabilities,
    sha: str,
    when: dt.datetime | None,
    known: dict[str, CommitView] | None = None,
) -> CommitView:
    """The commit's author and message as the apply recorded them in the audit log (None for a
    commit that changed no row, unless the login may read sync_runs).

    What a commit says never changes, so the view is kept in `known` by sha: the search of the
    audit log for an old commit's rows is paid once, not on every front page."""
    if known is not None and sha in known:
        return dataclasses.replace(known[sha], when=when)
    found_view = _commit_view(conn, caps, sha, when)
    if known is not None:
        if len(known) >= 64:
            known.clear()
        known[sha] = found_view
    return found_view


def _commit_view(
    conn: psycopg.Connection[Any], caps: Capabilities, sha: str, when: dt.datetime | None
) -> CommitView:
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


def _drift_since(caps: Capabilities) -> sql.Composable:
    assert caps.audit is not None
    return sql.SQL(
        "from {} where is_drift"
        " and changed_at >= coalesce((select applied_at from sync_state), '-infinity')"
    ).format(sql.Identifier(caps.audit))


def drift_rows(conn: psycopg.Connection[Any], caps: Capabilities) -> tuple[DriftRow, ...]:
    """The newest changes made by hand since the last sync."""
    if not caps.audit:
        return ()
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select table_name, category, key, action, changed_at ")
            + _drift_since(caps)
            + sql.SQL(" order by changed_at desc limit %s"),
            (DRIFT_SHOWN,),
        )
        return tuple(DriftRow(*row) for row in cur.fetchall())


def _summary(caps: Capabilities) -> sql.Composable:
    """One statement for the front page's figures: the sync record, row counts, the version and
    how many rows drifted since the last sync (each part only where this login may read it)."""
    drifted: sql.Composable = sql.SQL("0")
    if caps.audit:
        drifted = (
            sql.SQL("(select count(distinct (table_name, category, key)) ")
            + _drift_since(caps)
            + sql.SQL(")")
        )
    version = "(select version from config_version)" if caps.can("config_version") else "null"
    environment = "s.environment" if caps.environment_column else "null::text"
    return sql.SQL(
        "select s.applied_commit, s.applied_at, s.attempted_commit, s.attempted_at,"
        " s.attempt_outcome, s.attempt_error, {environment},"
        " (select count(*) from config_parameters), (select count(*) from historical_depegs),"
        " (select count(*) from stress_scenarios), {version}, {drifted}"
        " from (select 1) one left join sync_state s on true"
    ).format(environment=sql.SQL(environment), version=sql.SQL(version), drifted=drifted)


_SUMMARY_FIELDS = (
    "applied_commit",
    "applied_at",
    "attempted_commit",
    "attempted_at",
    "attempt_outcome",
    "attempt_error",
    "environment",
    "parameters",
    "historical_depegs",
    "stress_scenarios",
    "version",
    "drifted",
)


def front(
    conn: psycopg.Connection[Any],
    caps: Capabilities,
    live: Live | None,
    known: dict[str, CommitView] | None = None,
) -> FrontPage:
    state = dict(zip(_SUMMARY_FIELDS, _one(conn, _summary(caps)), strict=True))
    applied_sha = state.get("applied_commit")
    applied = (
        commit_view(conn, caps, applied_sha, state.get("applied_at"), known)
        if applied_sha
        else None
    )
    drifted = int(state["drifted"] or 0)
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
        environment=state["environment"],
        applied=applied,
        applied_at=state.get("applied_at"),
        attempted=state.get("attempted_commit"),
        attempt_outcome=outcome,
        in_sync=in_sync,
        live=live,
        last_refused=last_refusal(conn, caps, state),
        drifted_rows=drifted,
        drift=drift_rows(conn, caps) if drifted else (),
        parameters=state["parameters"],
        historical_depegs=state["historical_depegs"],
        stress_scenarios=state["stress_scenarios"],
        version=state["version"],
        notes=tuple(notes),
    )


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
    (
        id_,
        when,
        table,
        category,
        key,
        action,
        old,
        new,
        is_drift,
        reason,
        sha,
        author,
        message,
        signer,
        role,
    ) = row
    subject = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return Change(
        id_,
        when,
        table,
        category,
        key,
        action,
        old,
        new,
        change_kind(is_drift, reason),
        sha,
        author,
        subject,
        signer,
        role,
    )


def applied_and_environment(
    conn: psycopg.Connection[Any], caps: Capabilities
) -> tuple[str | None, str | None]:
    """The applied commit and the environment the database serves (None when unknown)."""
    column = "environment" if caps.environment_column else "null::text"
    row = _one(conn, f"select applied_commit, {column} from sync_state")
    return (row[0], row[1]) if row else (None, None)
