"""One sync cycle against the database: take the leader role, move to the head, put drift back.

Only the daemon holding the leader lock (`syncd.sync.locks.Leadership`, a lock only the writer
role can take, held on a connection of its own) applies; the others stay on standby and take over
when that connection goes away. Each apply still runs under the engine's apply lock and
compare-and-set, so two writers can never both apply. Checking for drift and putting it back
after the apply is `syncd.daemon.drift`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from syncd.daemon.drift import DriftKeeper, short
from syncd.daemon.events import CommitApplied, Event, HeadRefused, changes_of
from syncd.daemon.logs import event
from syncd.daemon.metrics import CHANGE_ACTIONS, Metrics
from syncd.daemon.mirror import FetchResult, Mirror
from syncd.daemon.runstate import RunState
from syncd.sync.database_state import read_sync_state
from syncd.sync.diff import Diff
from syncd.sync.locks import Leadership
from syncd.sync.outcomes import Lineage, Outcome, Refusal
from syncd.sync.pipeline import ApplyGate, PreparedCommit, apply_prepared, lineage, prepare
from syncd.sync.transaction import wrong_environment
from tonsurance.config.environments import DEFAULT_ENVIRONMENT

_CACHE_SIZE = 4


def _changes(outcome: Any) -> int:
    return len(outcome.diff.params) + len(outcome.diff.rows)


class Reconciler(DriftKeeper):
    """Decides and performs what one cycle does, given an open connection and the fetched head."""

    def __init__(
        self,
        mirror: Mirror,
        state: RunState,
        metrics: Metrics,
        self_heal: bool,
        stopping: threading.Event,
        leadership: Leadership,
        announce: Callable[[Event], None] | None = None,
        gate: ApplyGate | None = None,
        environment: str = DEFAULT_ENVIRONMENT,
    ) -> None:
        self.environment = environment
        self.mirror = mirror
        self.leadership = leadership
        self.announce = announce or (lambda event: None)
        self.gate = gate
        self.stopping = stopping
        self.state = state
        self.metrics = metrics
        self.self_heal = self_heal
        self.active = False
        self.in_flight: psycopg.Connection[Any] | None = None
        self.current: str | None = None  # the commit being applied, until its apply returns
        self.last_refused: str | None = None
        # the commit after a refused head is announced even when it changes nothing
        self._after_refusal = False
        self._logged_role: str | None = None
        self._prepared: dict[str, PreparedCommit] = {}
        self._drift_seen: tuple[str, ...] = ()
        self._blind_to: str | None = None
        self._wrong_logged: str | None = None

    def lost_connection(self) -> None:
        """Let go of the leader lock after a fault; the role is decided again on reconnect."""
        self.leadership.release()
        self.active = False

    def prepared(self, sha: str) -> PreparedCommit:
        found = self._prepared.get(sha)
        if found is None:
            found = prepare(self.mirror.repo, sha, self.environment)
            if len(self._prepared) >= _CACHE_SIZE:
                self._prepared.pop(next(iter(self._prepared)))
            self._prepared[sha] = found
        return found

    def _take_role(self) -> bool:
        self.active = self.leadership.hold()
        role = "active" if self.active else "standby"
        self.metrics.active.set(1 if self.active else 0)
        with self.state.lock:
            self.state.role = role
        if role != self._logged_role:
            self._logged_role = role
            text = (
                "this daemon holds the leader lock and applies commits"
                if self.active
                else "another syncd holds the leader lock; this one watches and takes over"
            )
            event(role, text)
        return self.active

    def _publish(self, sync: dict[str, Any], head: str) -> None:
        with self.state.lock:
            self.state.applied = sync.get("applied_commit")
            self.state.attempt = {
                "commit": sync.get("attempted_commit"),
                "outcome": sync.get("attempt_outcome"),
                "at": sync["attempted_at"].isoformat() if sync.get("attempted_at") else None,
                "error": sync.get("attempt_error"),
            }
            self.state.head_refused = (
                head == sync.get("attempted_commit") and sync.get("attempt_outcome") == "refused"
            )
        self.metrics.head_refused.set(1 if self.state.head_refused else 0)

    def _publish_lag(self, applied: str | None, head: str) -> None:
        commits = 0 if applied == head else self.mirror.commits_between(applied, head)
        with self.state.lock:
            self.state.lag_commits = commits
        self.metrics.lag_commits.set(commits if commits is not None else float("nan"))
        self.metrics.lag_seconds.set(self.state.lag_seconds())

    def _read(self, conn: psycopg.Connection[Any], head: str) -> dict[str, Any]:
        sync = read_sync_state(conn)
        conn.commit()
        self._publish(sync, head)
        return sync

    def run(
        self,
        conn: psycopg.Connection[Any],
        fetched: FetchResult,
        refetch: Callable[[], FetchResult],
    ) -> str:
        """One cycle: `done`, `again` (run the next cycle at once) or `busy` (retry soon)."""
        head = fetched.head
        sync = self._read(conn, head)
        applied = sync.get("applied_commit")
        if self._serves_another(sync.get("environment"), head):
            return "done"
        if not self._take_role():
            self._publish_lag(applied, head)
            return "done"
        if fetched.forced:
            event(
                "branch_rewritten",
                f"branch {self.mirror.branch} was rewritten: {short(fetched.previous)}"
                f" -> {short(head)} is not a fast-forward",
                logging.WARNING,
                previous=fetched.previous,
                head=head,
            )
        refused = head == self.last_refused or (
            head == sync.get("attempted_commit") and sync.get("attempt_outcome") == "refused"
        )
        result = "done"
        if self.stopping.is_set():
            return result
        if head != applied and not refused:
            relation = lineage(self.mirror.repo, applied, head)
            if relation is Lineage.BACKWARD and not fetched.forced and refetch().head != head:
                return "again"
            self._after_refusal = sync.get("attempt_outcome") == "refused"
            result = self._apply(conn, head, relation, applied)
            sync = self._read(conn, head)
            applied = sync.get("applied_commit")
        if applied and result == "done" and not self.stopping.is_set():
            self._check_drift(conn, applied)
        self._publish_lag(applied, head)
        return result

    def _serves_another(self, served: str | None, head: str) -> bool:
        """The database serves another environment: apply nothing, say so once, stay unready."""
        with self.state.lock:
            self.state.database_environment = served
        if not served or served == self.environment:
            self._wrong_logged = None
            return False
        if self._wrong_logged != served:
            self._wrong_logged = served
            event(
                "wrong_environment",
                f"refusing to apply {short(head)}: {wrong_environment(served, self.environment)}",
                logging.ERROR,
                environment=self.environment,
                database_environment=served,
            )
        with self.state.lock:
            self.state.head_refused = True
        self.metrics.head_refused.set(1)
        return True

    def _apply(
        self, conn: psycopg.Connection[Any], sha: str, relation: str, applied: str | None
    ) -> str:
        prepared = self.prepared(sha)
        if relation in (Lineage.BACKWARD, Lineage.REWRITTEN) and prepared.validation.ok:
            event(
                "branch_rewritten",
                f"moving the database from {short(applied)} to {short(sha)}, which does"
                " not descend from it: the branch history was rewritten",
                logging.WARNING,
                applied=applied,
                head=sha,
                lineage=relation,
            )
        started = time.monotonic()
        self.in_flight, self.current = conn, sha
        try:
            report = apply_prepared(
                conn,
                self.mirror.repo,
                prepared,
                wait_for_lock=False,
                base=self._prepared.get(applied) if applied else None,
                gate=self.gate,
            )
        finally:
            self.in_flight = None
        self.current = None
        took = time.monotonic() - started
        result = report.result
        self.metrics.applies.labels(result.outcome).inc()
        if result.outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
            self.metrics.duration.observe(took)
            if report.lineage in (Lineage.BACKWARD, Lineage.REWRITTEN):
                self.metrics.rewrites.inc()
            count = _changes(result)
            what = (
                f"{count} change{'s' if count != 1 else ''}"
                if result.outcome is Outcome.APPLIED
                else "the database already holds its configuration, nothing written"
            )
            event(
                str(result.outcome),
                f'{result.outcome} {short(sha)} "{prepared.info.summary}": {what}'
                f" in {took * 1000:.0f} ms",
                commit=sha,
                previous=applied,
                changes=_changes(result),
                lineage=report.lineage,
                duration_ms=round(took * 1000, 1),
            )
            if result.outcome is Outcome.APPLIED or self._after_refusal:
                self._announce_applied(sha, prepared, result.diff)
            return "done"
        if result.outcome is Outcome.REFUSED:
            self.last_refused = sha
            self.metrics.failures.labels(result.refusal or Refusal.INVALID).inc()
            event(
                "refused",
                f'refused {short(sha)} "{prepared.info.summary}": {result.reason};'
                f" {short(applied)} stays applied until a newer commit arrives",
                logging.ERROR,
                commit=sha,
                reason=result.reason,
            )
            info = prepared.info
            self.announce(HeadRefused(sha, info.author, info.summary, result.reason, applied))
            return "done"
        if result.outcome is Outcome.SUPERSEDED:
            return "again"
        event(
            "busy",
            f"{short(sha)} not applied yet: {result.reason}; retrying shortly",
            logging.DEBUG,
        )
        return "busy"

    def _announce_applied(self, sha: str, prepared: PreparedCommit, diff: Diff) -> None:
        added, changed, removed, changes = changes_of(diff)
        info = prepared.info
        for action, count in zip(CHANGE_ACTIONS, (added, changed, removed), strict=True):
            self.metrics.changes.labels(action).inc(count)
        if info.summary.startswith('Revert "'):
            self.metrics.reverts.inc()
        self.announce(
            CommitApplied(sha, info.author, info.summary, added, changed, removed, changes)
        )


def record_failure(conn: psycopg.Connection[Any], sha: str, error: str) -> None:
    """Record an apply that failed on the database side, so `syncd status` shows it."""
    with conn.transaction():
        conn.execute(
            "update sync_state set attempted_commit = %s, attempted_at = now(),"
            " attempt_outcome = 'failed', attempt_error = %s",
            (sha, error[:2000]),
        )
