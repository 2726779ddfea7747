"""`syncd run`: keep the database at the newest commit of a branch, whatever fails around it.

The loop runs in the main thread: fetch the branch into the local mirror, then reconcile (see
`syncd.daemon.cycle`), then sleep for the interval with jitter, or back off with jitter after a
fault (`syncd.daemon.backoff`; what a failed cycle means is `syncd.daemon.cyclefaults`). The
ref watcher (local repositories), the webhook and signals only wake the loop up; the
HTTP threads only read the published state. On SIGTERM/SIGINT the transaction in flight gets
`stop_timeout` seconds to finish, then it is cancelled (PostgreSQL rolls it back,
`syncd.daemon.stopsignals`) and the process exits 0.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from syncd.daemon.backoff import Backoff
from syncd.daemon.blocked import BlockedApplies
from syncd.daemon.console import daemon_console
from syncd.daemon.cycle import Reconciler
from syncd.daemon.cyclefaults import CycleGuard
from syncd.daemon.dblink import DatabaseLink
from syncd.daemon.events import TOPICS, Announcer, Event, Outages
from syncd.daemon.faultkind import FaultKind
from syncd.daemon.httplimits import HttpLimits, HttpStats
from syncd.daemon.httpserver import HttpServer
from syncd.daemon.logs import event
from syncd.daemon.metrics import Metrics
from syncd.daemon.mirror import Mirror, default_state_dir, git_dir_of
from syncd.daemon.notify import Delivery, Message, Notifier
from syncd.daemon.options import DEFAULT_LISTEN, RunOptions
from syncd.daemon.refwatch import RefWatcher
from syncd.daemon.resources import Resource, raise_descriptor_limit
from syncd.daemon.runstate import Faults, RunState
from syncd.daemon.startlog import log_start
from syncd.daemon.stopsignals import StopSignals
from syncd.daemon.webhook import secret_from_env
from syncd.sync.locks import Leadership
from tonsurance.db import resolve_dsn
from tonsurance.errors import UsageProblem

__all__ = ["DEFAULT_LISTEN", "Daemon", "RunOptions", "run_daemon"]

SWITCH_INTERVAL = 0.0005
# /readyz trusts a fetch for three intervals, plus the time one fetch may take to time out.
FRESH_INTERVALS = 3
NOTIFY_FLUSH_SECONDS = 5.0


class Daemon:
    def __init__(
        self, options: RunOptions, render: Callable[[Event], Message] | None = None
    ) -> None:
        """`render` words the notifications; it is needed when `options.notify` names URLs."""
        self.options = options
        try:
            conninfo_to_dict(resolve_dsn(options.dsn))
        except psycopg.Error:
            raise UsageProblem(
                "the database address is neither a key=value connection string nor a postgresql://"
                " URL; check --dsn or TONSURANCE_DSN"
            ) from None
        self.mirror = Mirror(
            options.repo,
            options.branch,
            options.state_dir or default_state_dir(),
            options.fetch_timeout,
        )
        self.meter = Metrics(options.branch, options.environment)
        self.notifier: Notifier | None = None
        announce: Callable[[Event], None] | None = None
        outages = None
        if options.notify:
            if render is None:
                raise ValueError("notifications need a function that words them")
            self.notifier = Notifier(
                options.notify, on_result=self._count_notification, topics=TOPICS
            )
            announce = Announcer(self.notifier, render).publish
            outages = Outages(announce, options.notify_after)
        self.state = RunState(
            self.mirror.display_url,
            options.branch,
            options.self_heal,
            options.environment,
            fresh_within=FRESH_INTERVALS * options.interval + options.fetch_timeout,
        )
        self.blocked = BlockedApplies(self.state, self.meter, options.interval)
        self.faults = Faults(self.state, self.meter, outages)
        self.stopping = threading.Event()
        self.link = DatabaseLink(options.dsn, options.interval, self._lost_connection)
        self.reconciler = Reconciler(
            self.mirror,
            self.state,
            self.meter,
            options.self_heal,
            self.stopping,
            Leadership(self.link.connect),
            announce,
            options.gate,
            options.environment,
        )
        self.guard = CycleGuard(
            self.link,
            self.mirror,
            self.state,
            self.faults,
            self.blocked,
            self.reconciler,
            self.stopping,
        )
        self.wakeup = threading.Event()
        self.backoff = Backoff(options.interval)
        self.signals = StopSignals(
            self.stopping, self.wakeup, lambda: self.reconciler.in_flight, options.stop_timeout
        )
        self.descriptors = 0  # the soft RLIMIT_NOFILE after raising it, set by run()

    def _count_notification(self, delivery: Delivery) -> None:
        self.meter.notifications.labels(delivery.value).inc()

    def _lost_connection(self) -> None:
        self.reconciler.lost_connection()

    def status(self) -> dict[str, Any]:
        return self.state.as_json()

    def ready(self) -> tuple[bool, str]:
        return self.state.ready()

    def metrics(self) -> bytes:
        self.meter.lag_seconds.set(self.state.lag_seconds())
        return self.meter.render()

    def wake(self, reason: str) -> None:
        self.wakeup.set()

    def cycle(self) -> str:
        """Fetch and reconcile once: `done`, `again`, `busy`, `fault` or `stopped`."""
        return self.guard.run(self._cycle)

    def _cycle(self) -> str:
        fetched = self.mirror.fetch()
        for kind in (FaultKind.GIT, *Resource):
            self.faults.up(kind)
        self.state.saw_head(fetched.head)
        conn = self.link.connection()
        self.faults.up(FaultKind.DATABASE)
        result = self.reconciler.run(conn, fetched, self.mirror.fetch)
        self.blocked.cleared()
        self.faults.up(FaultKind.APPLY)
        self.faults.up(FaultKind.INTERNAL)
        now = time.time()
        with self.state.lock:
            self.state.last_success_at = now
        self.meter.last_success.set(now)
        return result

    def _start_watcher(self) -> RefWatcher | None:
        if not self.options.watch or self.options.once or self.mirror.local is None:
            return None
        git_dir = git_dir_of(self.mirror.local)
        if git_dir is None:
            return None
        watcher = RefWatcher(
            git_dir, self.options.branch, lambda: self.wake("watch"), self.stopping
        )
        watcher.start()
        watcher.ready.wait(2.0)
        return watcher

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or one cycle with `once`); the exit code."""
        self.descriptors = raise_descriptor_limit()
        # The HTTP thread gives up the GIL at every socket call; while the sync loop validates a
        # commit (pure Python), it would wait the default 5 ms for it each time.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.mirror.open()
        if self.notifier is not None:
            self.notifier.start()
        secret = secret_from_env()
        http = None
        console = None
        if self.options.listen and not self.options.once:
            try:
                if self.options.console:
                    console = daemon_console(
                        self.options.console_dsn or self.options.dsn, self.state, self.mirror
                    )
                http = HttpServer(
                    self.options.listen,
                    self,
                    secret,
                    HttpLimits.for_descriptors(self.descriptors),
                    HttpStats(self.meter.registry),
                    console,
                )
            except BaseException:
                if console is not None:
                    console.reader.close()
                self.mirror.close()
                if self.notifier is not None:
                    self.notifier.close(0)
                raise
            http.start()
        try:
            with self.signals.installed():
                watcher = self._start_watcher()
                log_start(
                    self.options,
                    self.mirror,
                    self.descriptors,
                    self.notifier,
                    http,
                    watcher,
                    secret,
                )
                result = "done"
                while not self.stopping.is_set():
                    self.wakeup.clear()
                    result = self.cycle()
                    if self.options.once or result == "stopped":
                        break
                    self.wakeup.wait(self.backoff.delay(result))
        finally:
            self.stopping.set()
            if http:
                http.stop()
            if console is not None:
                console.reader.close()
            self.link.drop()
            self.mirror.close()
            if self.notifier is not None:
                self.notifier.close(NOTIFY_FLUSH_SECONDS)
        event("stopped", "syncd stopped")
        if self.options.once:
            return self._once_exit_code(result)
        return 0

    def _once_exit_code(self, result: str) -> int:
        """3 when a dependency failed, 1 when the apply failed or the head was refused, else 0."""
        if result == "fault":
            return 3 if self.faults.unavailable() else 1
        if self.blocked.blocked:
            return 3
        return 1 if self.state.head_refused else 0


def run_daemon(options: RunOptions, render: Callable[[Event], Message] | None = None) -> int:
    return Daemon(options, render).run()
