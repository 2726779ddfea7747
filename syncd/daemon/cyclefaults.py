"""What one failed cycle means: which fault it is, what is dropped, and what the loop does next.

Every exception a cycle raises ends here, is named (`database`, `git`, `disk`, `descriptors`,
`apply`, `internal`, or a lock wait that only blocks the apply) and turns into the cycle's
result: `fault` (back off), `busy` (retry shortly) or `stopped` (a shutdown rolled it back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from syncd.daemon.blocked import BlockedApplies, lock_wait_text
from syncd.daemon.cycle import Reconciler, record_failure
from syncd.daemon.dblink import CONNECT_TIMEOUT, DatabaseLink
from syncd.daemon.faultkind import FaultKind
from syncd.daemon.logs import event
from syncd.daemon.mirror import Mirror
from syncd.daemon.resources import Resource, resource_of_errno, resource_of_text
from syncd.daemon.runstate import Faults, RunState
from syncd.errors import GitUnavailable, ResourceExhausted
from tonsurance.db import connect_primary, no_tables
from tonsurance.errors import Unavailable
from tonsurance.redaction import scrub


def one_line(exc: BaseException) -> str:
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    return scrub(primary or str(exc)) or type(exc).__name__


class CycleGuard:
    """Runs one cycle and turns whatever it raises into a named fault and the loop's next step."""

    def __init__(
        self,
        link: DatabaseLink,
        mirror: Mirror,
        state: RunState,
        faults: Faults,
        blocked: BlockedApplies,
        reconciler: Reconciler,
        stopping: threading.Event,
    ) -> None:
        self.link = link
        self.mirror = mirror
        self.state = state
        self.faults = faults
        self.blocked = blocked
        self.reconciler = reconciler
        self.stopping = stopping

    def run(self, cycle: Callable[[], str]) -> str:
        """`cycle()`'s result, or `fault`, `busy` or `stopped` when it raised."""
        try:
            return cycle()
        except ResourceExhausted as exc:
            self.faults.down(FaultKind(exc.resource), str(exc))
        except GitUnavailable as exc:
            self.faults.down(FaultKind.GIT, str(exc))
        except OSError as exc:
            where = exc.filename or self.mirror.path
            kind = resource_of_errno(exc.errno) or Resource.DISK
            self.faults.down(kind, f"{exc.strerror or exc} ({where})")
        except psycopg.errors.LockNotAvailable as exc:
            return self._blocked(exc)
        except (Unavailable, psycopg.OperationalError) as exc:
            if resource_of_text(str(exc)) is Resource.DESCRIPTORS:
                self.link.drop()
                self.faults.down(Resource.DESCRIPTORS, one_line(exc))
                return "fault"
            return self._database_fault(FaultKind.DATABASE, one_line(exc))
        except psycopg.errors.UndefinedTable as exc:
            return self._database_fault(
                FaultKind.APPLY, f"{one_line(exc)}; {no_tables(self.link.dsn)}"
            )
        except psycopg.Error as exc:
            return self._database_fault(FaultKind.APPLY, one_line(exc))
        except Exception as exc:  # a bug must not stop the daemon: report it, back off, retry
            self.link.drop()
            self.mirror.suspect()
            ran_out = resource_of_text(str(exc))
            if ran_out is not None:
                self.faults.down(ran_out, one_line(exc))
                return "fault"
            if FaultKind.INTERNAL not in self.state.faults:
                event(
                    "internal_error",
                    f"unexpected {type(exc).__name__}",
                    logging.ERROR,
                    exc_info=True,
                )
            self.faults.down(
                FaultKind.INTERNAL, f"{type(exc).__name__}: {one_line(exc)}", reason="apply_error"
            )
        return "fault"

    def _blocked(self, exc: psycopg.Error) -> str:
        """An apply ran out of its lock wait: roll back, report, try again shortly."""
        error = lock_wait_text(exc)
        if self.stopping.is_set():
            return self._database_fault(FaultKind.APPLY, error)
        self.reconciler.current = None
        try:
            if self.link.conn is not None:
                self.link.conn.rollback()
        except psycopg.Error:
            self.link.drop()
        self.blocked.waited(error)
        return "busy"

    def _database_fault(self, kind: FaultKind, error: str) -> str:
        sha, self.reconciler.current = self.reconciler.current, None
        self.link.drop()
        if self.stopping.is_set():
            if sha:
                event(
                    "rolled_back",
                    f"the apply of {sha[:12]} was rolled back on shutdown: {error}",
                    logging.WARNING,
                    commit=sha,
                )
            return "stopped"
        reason = "database" if kind is FaultKind.DATABASE else "apply_error"
        self.faults.down(kind, error, reason=reason)
        if kind is FaultKind.APPLY and sha:
            try:
                with connect_primary(self.link.dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
                    record_failure(conn, sha, error)
            except (Unavailable, psycopg.Error):
                pass
        return "fault"
