"""Read-only access for the console: a small connection pool whose every transaction is read-only.

Each request runs in a transaction begun READ ONLY with a local statement timeout, so nothing
the console does can write, whatever role the address logs in as. Nothing is set per session
and no statement is prepared, so the address may be a transaction-pooling PgBouncer in front of
a standby as well as the primary. What the role may read is found once a minute
(`Capabilities`): a tonsurance_reader login sees the audit log through config_audit_trail when
that view exists, and pages say what they cannot show rather than fail.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from tonsurance.db import describe, resolve_dsn
from tonsurance.errors import Unavailable, UsageProblem

T = TypeVar("T")

STATEMENT_TIMEOUT_MS = 5000
IDLE_SECONDS = 120.0  # a connection unused this long is closed
CAPABILITIES_TTL = 60.0  # seconds; a migration or a GRANT shows within this
# Per transaction, so nothing outlives it on a pooled server connection; hours and days in UTC.
_LOCAL_SETTINGS = (
    f"set local statement_timeout = {STATEMENT_TIMEOUT_MS}; set local timezone = 'UTC'"
)
_RELATIONS = (
    "config_audit_log",
    "config_audit_trail",
    "commit_provenance",
    "sync_runs",
    "stress_test_results",
    "config_version",
)
_CAPABILITIES = """
select r, to_regclass(r) is not null and has_table_privilege(to_regclass(r), 'select')
  from unnest(%s::text[]) r
"""
_ENVIRONMENT_COLUMN = """
select exists (select from information_schema.columns
                where table_name = 'sync_state' and column_name = 'environment'
                  and table_schema = current_schema())
"""


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """Which relations this login may read, and where the audit log is read from."""

    readable: frozenset[str]
    environment_column: bool

    @property
    def audit(self) -> str | None:
        """The relation holding audit rows: the table, else the reader's view, else None."""
        for name in ("config_audit_log", "config_audit_trail"):
            if name in self.readable:
                return name
        return None

    def can(self, relation: str) -> bool:
        return relation in self.readable


def read_capabilities(conn: psycopg.Connection[Any]) -> Capabilities:
    with conn.cursor() as cur:
        cur.execute(_CAPABILITIES, (list(_RELATIONS),))
        readable = frozenset(name for name, ok in cur.fetchall() if ok)
        cur.execute(_ENVIRONMENT_COLUMN)
        row = cur.fetchone()
    return Capabilities(readable, bool(row and row[0]))


class Reader:
    """Runs read functions on pooled connections, each in a read-only transaction."""

    def __init__(self, dsn: str | None, *, max_size: int = 4, timeout: float = 5.0) -> None:
        self.address = resolve_dsn(dsn)
        try:
            conninfo_to_dict(self.address)
        except psycopg.Error:
            raise UsageProblem(
                "the console's database address is neither a key=value connection string nor a"
                " postgresql:// URL; check --dsn (or --console-dsn), TONSURANCE_DSN"
            ) from None
        self.timeout = timeout
        self.pool = ConnectionPool(
            self.address,
            min_size=0,  # no connection held until someone opens a page
            max_size=max_size,
            max_idle=IDLE_SECONDS,
            open=False,
            timeout=timeout,
            kwargs={
                "application_name": "syncd-console",
                "connect_timeout": max(1, int(timeout)),
                "prepare_threshold": None,
            },
            configure=self._configure,
            check=ConnectionPool.check_connection,
            name="syncd-console",
        )
        self._caps: Capabilities | None = None
        self._caps_at = 0.0

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.read_only = True
        conn.autocommit = False

    def open(self) -> None:
        """Start connecting in the background; a database that is down is retried by the pool."""
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    def run(self, read: Callable[[psycopg.Connection[Any], Capabilities], T]) -> T:
        """`read(conn, capabilities)` in one read-only transaction; Unavailable when the database
        cannot be reached (the message names the redacted address, never a password)."""
        try:
            with self.pool.connection(timeout=self.timeout) as conn, conn.transaction():
                caps = self._caps
                if caps is None or time.monotonic() - self._caps_at > CAPABILITIES_TTL:
                    caps = self._caps = read_capabilities(conn)
                    self._caps_at = time.monotonic()
                return read(conn, caps)
        except PoolTimeout:
            raise Unavailable(
                f"the database at {describe(self.address)} did not answer within {self.timeout:g} s"
            ) from None
        except psycopg.OperationalError as exc:
            primary = exc.diag.message_primary or type(exc).__name__
            raise Unavailable(
                f"the database at {describe(self.address)} failed: {' '.join(primary.split())}"
            ) from None
