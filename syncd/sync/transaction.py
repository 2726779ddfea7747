"""Make the database equal to one commit's configuration, in one transaction.

Order inside the transaction: the apply lock (one writer at a time), compare-and-set on the
recorded applied commit (a slower writer never moves the database back), read what the database
holds, diff, record this transaction as the commit's apply (the only thing the audit trigger
attributes changes by), write only the changed rows, record the applied commit, NOTIFY
(delivered by PostgreSQL on commit).
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field
from typing import Any

import psycopg

from syncd.sync.database_diff import diff_database
from syncd.sync.database_state import drifted_since_sync, read_sync_state, read_tables
from syncd.sync.diff import Diff, diff_params, diff_rows
from syncd.sync.gitsource import CommitInfo
from syncd.sync.locks import take_apply_lock
from syncd.sync.outcomes import Outcome, Refusal
from syncd.sync.provenance import Provenance, record_provenance
from syncd.sync.rowwriter import write_diff
from tonsurance.config.problems import Problem
from tonsurance.config.state import ConfigState
from tonsurance.db import NOTIFY_CHANNEL

UNCHECKED: Any = object()
# The database refusing the commit's own data: the same commit fails the same way on every try,
# so it is a refusal, recorded once, not a fault to retry.
DATABASE_REFUSES = (
    psycopg.errors.CheckViolation,
    psycopg.errors.NotNullViolation,
    psycopg.DataError,
)


def database_refusal(exc: psycopg.Error) -> str:
    """One line saying which constraint refused the data, without the row's values."""
    diag = exc.diag
    text = diag.message_primary or str(exc).splitlines()[0]
    named = diag.constraint_name
    suffix = f" ({named})" if named and named not in text else ""
    return f"the database refused the commit's data: {' '.join(text.split())}{suffix}"


@dataclass
class ApplyResult:
    """What one apply did (its outcome) and the change it made or would make."""

    outcome: Outcome
    commit: str
    diff: Diff = field(default_factory=Diff)
    drift: bool = False
    previous: str | None = None
    reason: str = ""
    problems: list[Problem] = field(default_factory=list)
    refusal: Refusal | None = None


def applier_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class _DryRun(Exception):
    pass


def wrong_environment(served: str, wanted: str) -> str:
    """The one line refusing an apply of `wanted`'s configuration to `served`'s database."""
    return (
        f"this database serves the environment {served!r}; refusing to apply the {wanted!r}"
        f" configuration (run with --environment {served}, or point --dsn at {wanted}'s database)"
    )


def _record_attempt(
    conn: psycopg.Connection[Any],
    info: CommitInfo,
    outcome: str,
    error: str,
    changes: int,
    *,
    applied: bool,
    reapply: bool = False,
    environment: str | None = None,
) -> None:
    """Record the attempt in sync_state and sync_runs.

    A re-apply of the applied commit (nothing to do, or drift put back) is a run but not a new
    attempt: the last attempted commit, say a refused head, stays visible in `syncd status`.
    """
    who = applier_name()
    with conn.cursor() as cur:
        if not reapply:
            cur.execute(
                """
                insert into sync_state (id, attempted_commit, attempted_at, attempt_outcome, attempt_error)
                values (true, %(sha)s, now(), %(outcome)s, %(error)s)
                on conflict (id) do update
                   set attempted_commit = excluded.attempted_commit, attempted_at = now(),
                       attempt_outcome = excluded.attempt_outcome, attempt_error = excluded.attempt_error
                """,
                {"sha": info.sha, "outcome": outcome, "error": error or None},
            )
        if applied:
            cur.execute(
                "update sync_state set applied_commit = %s, applied_at = now(), applied_by = %s,"
                " environment = coalesce(environment, %s)",
                (info.sha, who, environment),
            )
        cur.execute(
            "insert into sync_runs (commit, started_at, finished_at, outcome, changes, message, host)"
            " values (%s, now(), clock_timestamp(), %s, %s, %s, %s)",
            (
                info.sha,
                outcome,
                changes,
                error or ("drift correction" if reapply and changes else info.summary),
                who,
            ),
        )


def _attest_apply(conn: psycopg.Connection[Any], info: CommitInfo, reason: str) -> None:
    """Record this transaction as the apply of `info`: the audit triggers attribute its changes
    to the commit only because this row exists (migration 012); session settings count for nothing.
    """
    with conn.cursor() as cur:
        cur.execute(
            "insert into sync_apply_transactions (commit_sha, commit_author, commit_message, reason)"
            " values (%s, %s, %s, %s)",
            (info.sha, info.author, info.message, reason),
        )


def fast_diff(
    conn: psycopg.Connection[Any],
    sync: dict[str, Any],
    base: tuple[str, ConfigState] | None,
    state: ConfigState,
) -> Diff | None:
    """The diff against `base` when the database provably still holds it, else None.

    Provably: `base` is the recorded applied commit, and no change without a commit (drift,
    including TRUNCATE) was audited since that apply. Table rows are few and always read back.
    """
    if base is None or not sync.get("applied_commit") or base[0] != sync["applied_commit"]:
        return None
    if drifted_since_sync(conn):
        return None
    return Diff(
        diff_params(base[1].parameters, state.parameters),
        diff_rows(read_tables(conn), state.tables),
    )


def record_refusal(conn: psycopg.Connection[Any], info: CommitInfo, reason: str) -> None:
    """Record an attempt that changed nothing and why, in its own transaction."""
    with conn.transaction():
        _record_attempt(conn, info, Outcome.REFUSED, reason, 0, applied=False)


def apply_state(
    conn: psycopg.Connection[Any],
    info: CommitInfo,
    state: ConfigState,
    *,
    allow_empty: bool = False,
    dry_run: bool = False,
    expected_applied: Any = UNCHECKED,
    wait_for_lock: bool = True,
    base: tuple[str, ConfigState] | None = None,
    provenance: Provenance | None = None,
    environment: str | None = None,
) -> ApplyResult:
    """Reconcile the database to `state` (already validated) for commit `info`.

    `provenance`, who the commit comes from as far as it was proven, is recorded beside the
    audit rows when the commit becomes the applied one. `environment` names whose
    configuration `state` is: the first apply records it, and a database that serves another
    environment refuses the apply and changes nothing.

    `base` is (sha, state) of a commit the caller knows; when it is the applied commit and the
    audit log shows no hand edit since the last sync, the diff is computed against it in memory
    instead of reading every row back (see `fast_diff`).
    """
    result = ApplyResult(Outcome.APPLIED, info.sha)
    try:
        with conn.transaction():
            if not take_apply_lock(conn, wait_for_lock):
                return ApplyResult(
                    Outcome.STANDBY, info.sha, reason="another syncd holds the apply lock"
                )
            sync = read_sync_state(conn)
            result.previous = sync.get("applied_commit")
            served = sync.get("environment")
            if environment is not None and served is not None and served != environment:
                return ApplyResult(
                    Outcome.REFUSED,
                    info.sha,
                    previous=result.previous,
                    reason=wrong_environment(served, environment),
                )
            if expected_applied is not UNCHECKED and result.previous != expected_applied:
                return ApplyResult(
                    Outcome.SUPERSEDED,
                    info.sha,
                    previous=result.previous,
                    reason=f"the applied commit moved to {result.previous} while this apply was prepared",
                )
            result.diff = fast_diff(conn, sync, base, state) or diff_database(conn, state)
            result.drift = result.previous == info.sha and not result.diff.empty
            if dry_run:
                result.outcome = Outcome.DRY_RUN
                raise _DryRun
            if state.is_empty() and not allow_empty:
                result.outcome = Outcome.REFUSED
                result.reason = "the commit would remove every parameter and row; pass --allow-empty to allow it"
            elif result.diff.empty:
                result.outcome = Outcome.UNCHANGED
            else:
                _attest_apply(conn, info, "drift correction" if result.drift else "commit")
                write_diff(conn, result.diff, info.sha)
            changed = result.outcome is Outcome.APPLIED
            _record_attempt(
                conn,
                info,
                result.outcome,
                result.reason,
                len(result.diff.params) + len(result.diff.rows) if changed else 0,
                applied=result.outcome is not Outcome.REFUSED,
                reapply=result.previous == info.sha and result.outcome is not Outcome.REFUSED,
                environment=environment,
            )
            if provenance is not None and result.outcome is not Outcome.REFUSED:
                if result.previous != info.sha:
                    record_provenance(conn, provenance)
            if changed or (result.outcome is Outcome.UNCHANGED and result.previous != info.sha):
                with conn.cursor() as cur:
                    cur.execute("select pg_notify(%s, %s)", (NOTIFY_CHANNEL, info.sha))
    except _DryRun:
        pass
    except DATABASE_REFUSES as exc:
        reason = database_refusal(exc)
        record_refusal(conn, info, reason)
        return ApplyResult(Outcome.REFUSED, info.sha, previous=result.previous, reason=reason)
    return result
