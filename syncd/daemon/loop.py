"""`syncd run`: keep the database at the newest commit of a branch, whatever fails around it.

The loop runs in the main thread: fetch the branch into the local mirror, then reconcile (see
`syncd.daemon.cycle`), then sleep for the interval with jitter, or back off with jitter after a
fault. The ref watcher (local repositories), the webhook and signals only wake the loop up; the
HTTP threads only read the published state. On SIGTERM/SIGINT the transaction in flight gets
`stop_timeout` seconds to finish, then it is cancelled (PostgreSQL rolls it back) and the
process exits 0.
"""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from syncd.daemon.blocked import BlockedApplies, lock_timeout_statement, lock_wait_text
from syncd.daemon.console import daemon_console
from syncd.daemon.cycle import Reconciler, record_failure
from syncd.daemon.events import TOPICS, Announcer, Event, Outages
from syncd.daemon.httplimits import HttpLimits, HttpStats
from syncd.daemon.httpserver import HttpServer
from syncd.daemon.logs import event
from syncd.daemon.metrics import Metrics
from syncd.daemon.mirror import DEFAULT_FETCH_TIMEOUT, Mirror, default_state_dir, git_dir_of
from syncd.daemon.notify import Delivery, Message, Notifier
from syncd.daemon.refwatch import RefWatcher
from syncd.daemon.resources import (
    Resource,
    raise_descriptor_limit,
    resource_of_errno,
    resource_of_text,
)
from syncd.daemon.runstate import Faults, RunState
from syncd.daemon.webhook import SECRET_ENV, secret_from_env
from syncd.errors import GitUnavailable, ResourceExhausted
from syncd.sync.locks import Leadership
from syncd.sync.pipeline import ApplyGate
from tonsurance.config.environments import DEFAULT_ENVIRONMENT
from tonsurance.db import connect_primary, describe, no_tables, resolve_dsn
from tonsurance.redaction import scrub
from tonsurance.errors import Unavailable, UsageProblem

DEFAULT_LISTEN = "127.0.0.1:9187"
CONNECT_TIMEOUT = 5
SWITCH_INTERVAL = 0.0005
# /readyz trusts a fetch for three intervals, plus the time one fetch may take to time out.
FRESH_INTERVALS = 3
# A dead daemon host must not keep the leader lock for the kernel's default two hours: both ends
# probe an idle connection after 15 s and give up after three missed probes 5 s apart.
_SERVER_KEEPALIVES = (
    "select set_config('tcp_keepalives_idle', '15', false),"
    " set_config('tcp_keepalives_interval', '5', false),"
    " set_config('tcp_keepalives_count', '3', false)"
)


def _client_settings() -> dict[str, Any]:
    return {
        "application_name": "syncd",
        "keepalives": 1,
        "keepalives_idle": 15,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }


@dataclass
class RunOptions:
    repo: str
    branch: str = "main"
    dsn: str | None = None
    interval: float = 30.0
    listen: str | None = DEFAULT_LISTEN
    state_dir: Path | None = None
    self_heal: bool = True
    watch: bool = True
    fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    stop_timeout: float = 10.0
    once: bool = False
    notify: tuple[str, ...] = ()  # Apprise URLs
    notify_after: float = 60.0  # seconds a dependency must be down before a message says so
    gate: ApplyGate | None = None  # signatures and guardrails judged before each apply
    console: bool = True  # serve the read-only web console under /ui/
    console_dsn: str | None = None  # the console's database address; default `dsn`
    environment: str = DEFAULT_ENVIRONMENT


def _one_line(exc: BaseException) -> str:
    primary = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    return scrub(primary or str(exc)) or type(exc).__name__


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
        self.reconciler = Reconciler(
            self.mirror,
            self.state,
            self.meter,
            options.self_heal,
            self.stopping,
            Leadership(self._connect),
            announce,
            options.gate,
            options.environment,
        )
        self.wakeup = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._failed_cycles = 0
        self.descriptors = 0  # the soft RLIMIT_NOFILE after raising it, set by run()

    def _count_notification(self, delivery: Delivery) -> None:
        self.meter.notifications.labels(delivery.value).inc()

    def status(self) -> dict[str, Any]:
        return self.state.as_json()

    def ready(self) -> tuple[bool, str]:
        return self.state.ready()

    def metrics(self) -> bytes:
        self.meter.lag_seconds.set(self.state.lag_seconds())
        return self.meter.render()

    def wake(self, reason: str) -> None:
        self.wakeup.set()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = connect_primary(
            self.options.dsn, connect_timeout=CONNECT_TIMEOUT, **_client_settings()
        )
        conn.execute(_SERVER_KEEPALIVES)
        conn.execute(lock_timeout_statement(self.options.interval))
        conn.commit()
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        self.reconciler.lost_connection()
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def cycle(self) -> str:
        """Fetch and reconcile once: `done`, `again`, `busy`, `fault` or `stopped`."""
        try:
            return self._cycle()
        except ResourceExhausted as exc:
            self.faults.down(exc.resource, str(exc))
        except GitUnavailable as exc:
            self.faults.down("git", str(exc))
        except OSError as exc:
            where = exc.filename or self.mirror.path
            kind = resource_of_errno(exc.errno) or Resource.DISK
            self.faults.down(kind, f"{exc.strerror or exc} ({where})")
        except psycopg.errors.LockNotAvailable as exc:
            return self._blocked(exc)
        except (Unavailable, psycopg.OperationalError) as exc:
            if resource_of_text(str(exc)) is Resource.DESCRIPTORS:
                self._drop()
                self.faults.down(Resource.DESCRIPTORS, _one_line(exc))
                return "fault"
            return self._database_fault("database", _one_line(exc))
        except psycopg.errors.UndefinedTable as exc:
            return self._database_fault("apply", f"{_one_line(exc)}; {no_tables(self.options.dsn)}")
        except psycopg.Error as exc:
            return self._database_fault("apply", _one_line(exc))
        except Exception as exc:  # a bug must not stop the daemon: report it, back off, retry
            self._drop()
            self.mirror.suspect()
            ran_out = resource_of_text(str(exc))
            if ran_out is not None:
                self.faults.down(ran_out, _one_line(exc))
                return "fault"
            if "internal" not in self.state.faults:
                event(
                    "internal_error",
                    f"unexpected {type(exc).__name__}",
                    logging.ERROR,
                    exc_info=True,
                )
            self.faults.down(
                "internal", f"{type(exc).__name__}: {_one_line(exc)}", reason="apply_error"
            )
        return "fault"

    def _cycle(self) -> str:
        fetched = self.mirror.fetch()
        for name in ("git", *Resource):
            self.faults.up(name)
        self.state.saw_head(fetched.head)
        conn = self._connection()
        self.faults.up("database")
        result = self.reconciler.run(conn, fetched, self.mirror.fetch)
        self.blocked.cleared()
        self.faults.up("apply")
        self.faults.up("internal")
        now = time.time()
        with self.state.lock:
            self.state.last_success_at = now
        self.meter.last_success.set(now)
        return result

    def _blocked(self, exc: psycopg.Error) -> str:
        """An apply ran out of its lock wait: roll back, report, try again shortly."""
        error = lock_wait_text(exc)
        if self.stopping.is_set():
            return self._database_fault("apply", error)
        self.reconciler.current = None
        try:
            if self._conn is not None:
                self._conn.rollback()
        except psycopg.Error:
            self._drop()
        self.blocked.waited(error)
        return "busy"

    def _database_fault(self, kind: str, error: str) -> str:
        sha, self.reconciler.current = self.reconciler.current, None
        self._drop()
        if self.stopping.is_set():
            if sha:
                event(
                    "rolled_back",
                    f"the apply of {sha[:12]} was rolled back on shutdown: {error}",
                    logging.WARNING,
                    commit=sha,
                )
            return "stopped"
        self.faults.down(kind, error, reason="database" if kind == "database" else "apply_error")
        if kind == "apply" and sha:
            try:
                with connect_primary(self.options.dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
                    record_failure(conn, sha, error)
            except (Unavailable, psycopg.Error):
                pass
        return "fault"

    def _delay(self, result: str) -> float:
        interval = self.options.interval
        if result == "again":
            self._failed_cycles = 0
            return 0.0
        if result == "fault":
            self._failed_cycles += 1
            cap = min(max(interval * 2, 1.0), 60.0)
            base = min(1.0, interval)
            backoff: float = min(cap, base * 2.0 ** (self._failed_cycles - 1))
            return backoff * random.uniform(0.5, 1.0)
        self._failed_cycles = 0
        if result == "busy":
            return min(1.0, interval) * random.uniform(0.5, 1.0)
        return interval * random.uniform(0.9, 1.1)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        again = self.stopping.is_set()
        self.stopping.set()
        self.wakeup.set()
        if again:
            grace = 0.0
        elif self.reconciler.in_flight is None:
            grace = self.options.stop_timeout
            event("stopping", f"{name} received; stopping")
        else:
            grace = self.options.stop_timeout
            event(
                "stopping",
                f"{name} received; the apply in flight has {grace:g} s to finish before it"
                " is rolled back",
            )
        timer = threading.Timer(grace, self._cancel_in_flight)
        timer.daemon = True
        timer.start()

    def _cancel_in_flight(self) -> None:
        conn = self.reconciler.in_flight
        if conn is not None:
            try:
                conn.cancel_safe(timeout=CONNECT_TIMEOUT)
            except psycopg.Error:
                pass

    def _announce(
        self, http: HttpServer | None, watcher: RefWatcher | None, secret: bytes | None
    ) -> None:
        opts = self.options
        event(
            "started",
            f"following {opts.branch} of {self.mirror.display_url} every {opts.interval:g} s"
            f" into {describe(resolve_dsn(opts.dsn))} as the {opts.environment} environment",
            repo=self.mirror.display_url,
            branch=opts.branch,
            environment=opts.environment,
            interval=opts.interval,
            listen=http.address if http else None,
            max_connections=http.limits.max_connections if http else None,
            descriptors=self.descriptors,
            watch=watcher is not None,
            self_heal=opts.self_heal,
            state_dir=str(self.mirror.path.parent.parent),
        )
        if http and secret is None:
            event(
                "webhook_off",
                f"webhook disabled: {SECRET_ENV} is not set; POST /hooks/git answers 404",
                logging.WARNING,
            )
        if not opts.self_heal:
            event("self_heal_off", "--no-self-heal: drift is reported, not put back")
        if self.notifier is not None:
            names = ", ".join(target.name for target in self.notifier.targets)
            event(
                "notify_on",
                f"notifications go to {names}; a dependency is reported after"
                f" {opts.notify_after:g} s down",
                targets=[target.name for target in self.notifier.targets],
            )

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
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        watcher = None
        try:
            watcher = self._start_watcher()
            self._announce(http, watcher, secret)
            result = "done"
            while not self.stopping.is_set():
                self.wakeup.clear()
                result = self.cycle()
                if self.options.once or result == "stopped":
                    break
                self.wakeup.wait(self._delay(result))
        finally:
            self.stopping.set()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if http:
                http.stop()
            if console is not None:
                console.reader.close()
            self._drop()
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
