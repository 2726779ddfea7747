"""Drift: rows changed in the database outside git, found after each cycle and put back.

A dry-run apply of the applied commit lists what differs. With self-heal on, the commit is applied
again (one transaction, under the same locks as any apply); with it off, the drift is reported
once per change of the differing rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg

from syncd.daemon.events import Drift, Event
from syncd.daemon.logs import event
from syncd.daemon.metrics import Metrics
from syncd.daemon.mirror import Mirror
from syncd.daemon.runstate import RunState
from syncd.sync.outcomes import Outcome
from syncd.sync.pipeline import PreparedCommit, apply_prepared


def short(sha: str | None) -> str:
    return sha[:12] if sha else "(none)"


class DriftKeeper:
    """The drift check and correction of `syncd.daemon.cycle.Reconciler`, which sets these."""

    mirror: Mirror
    state: RunState
    metrics: Metrics
    self_heal: bool
    announce: Callable[[Event], None]
    in_flight: psycopg.Connection[Any] | None
    current: str | None
    _drift_seen: tuple[str, ...]
    _blind_to: str | None

    def prepared(self, sha: str) -> PreparedCommit:
        raise NotImplementedError

    def _check_drift(self, conn: psycopg.Connection[Any], applied: str) -> None:
        if not self.mirror.has_commit(applied):
            if self._blind_to != applied:
                self._blind_to = applied
                event(
                    "drift_unchecked",
                    f"cannot check drift: the applied commit {short(applied)} is not"
                    f" in the history of {self.mirror.branch}",
                    logging.WARNING,
                    applied=applied,
                )
            return
        prepared = self.prepared(applied)
        if not prepared.validation.ok:
            return
        check = apply_prepared(conn, self.mirror.repo, prepared, dry_run=True, wait_for_lock=False)
        if check.outcome is not Outcome.DRY_RUN:
            return
        diff = check.result.diff
        names = tuple(
            sorted([c.name for c in diff.params] + [f"{r.table}.{r.id}" for r in diff.rows])
        )
        with self.state.lock:
            self.state.drift_rows, self.state.drift_checked_at = list(names), time.time()
        self.metrics.drift_rows.set(len(names))
        if not names:
            if self._drift_seen and not self.self_heal:
                event("drift_gone", "the database matches the applied commit again")
            self._drift_seen = ()
            return
        if not self.self_heal:
            if names != self._drift_seen:
                event(
                    "drift",
                    f"{len(names)} rows differ from the applied commit {short(applied)}:"
                    f" {', '.join(names[:10])}; left as they are (--no-self-heal)",
                    logging.WARNING,
                    rows=len(names),
                    keys=list(names[:50]),
                )
                self.announce(Drift(applied, len(names), names[:50], corrected=False))
            self._drift_seen = names
            return
        self._correct(conn, prepared, names)

    def _correct(
        self, conn: psycopg.Connection[Any], prepared: PreparedCommit, names: tuple[str, ...]
    ) -> None:
        started = time.monotonic()
        self.in_flight, self.current = conn, prepared.info.sha
        try:
            fixed = apply_prepared(conn, self.mirror.repo, prepared, wait_for_lock=False)
        finally:
            self.in_flight = None
        self.current = None
        if fixed.outcome is not Outcome.APPLIED:
            return
        took = time.monotonic() - started
        self.metrics.duration.observe(took)
        self.metrics.drift_corrections.inc()
        self.metrics.drift_rows.set(0)
        with self.state.lock:
            self.state.drift_rows, self.state.drift_corrected_at = [], time.time()
        event(
            "drift_corrected",
            f"put back {len(names)} rows changed outside git to the applied commit"
            f" {short(prepared.info.sha)}: {', '.join(names[:10])}",
            logging.WARNING,
            rows=len(names),
            keys=list(names[:50]),
            commit=prepared.info.sha,
        )
        self.announce(Drift(prepared.info.sha, len(names), names[:50], corrected=True))
