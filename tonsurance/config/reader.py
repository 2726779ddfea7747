"""The loader's database reads: a version check, then a full read only when the version moved.

In LISTEN mode the reader keeps one connection between reads; a read that fails on that kept
connection because it died meanwhile (a restarted server, a terminated backend) is made once more
on a fresh one at once. In poll mode every read opens its own connection and closes it, so a
loader holds no connection between polls. Every read is bounded in time (see `deadline`), and
every driver error becomes an Unavailable that names the address without its password.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from tonsurance.config.dbread import (
    DatabaseConfig,
    VersionCheck,
    check_version,
    open_reader,
    read_config,
)
from tonsurance.config.deadline import WATCHDOG, ReadTimeout
from tonsurance.config.stats import Durations
from tonsurance.db import describe, resolve_dsn
from tonsurance.redaction import scrub
from tonsurance.errors import Unavailable

T = TypeVar("T")
READ_KINDS = ("version", "full")


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What one read found: the version check, and the configuration when the version moved."""

    check: VersionCheck
    found: DatabaseConfig | None


class DatabaseReader:
    """Reads the configuration for one loader, on a kept connection or one per read."""

    def __init__(self, dsn: str | None, *, keep_connection: bool, timeout: float) -> None:
        self.dsn = dsn
        self.keep_connection = keep_connection
        self.timeout = timeout
        self.durations = Durations(READ_KINDS)
        self._conn: psycopg.Connection[Any] | None = None

    def read(self, known_version: int | None, *, fresh: bool = False) -> ReadResult:
        """Check the version; read everything when it is not `known_version`.

        `fresh` drops a kept connection first. A kept connection that fails with a connection
        error is dropped and the read made once more on a fresh one. Raises Unavailable
        (ReadTimeout past the timeout), or InvalidConfig for rows that make no configuration.
        """
        if fresh:
            self.drop()
        reused = self._conn is not None and not self._conn.closed
        try:
            try:
                return self._read(known_version)
            except psycopg.OperationalError:
                if not reused:
                    raise
            return self._read(known_version)
        except psycopg.Error as exc:
            unmigrated = isinstance(exc, psycopg.errors.UndefinedTable)
            raise Unavailable(
                self._where(scrub(str(exc)))
                + ("; run `syncd migrate` against it first" if unmigrated else "")
            ) from None
        except ReadTimeout as exc:
            raise ReadTimeout(self._where(str(exc))) from None

    def drop(self) -> None:
        """Close the kept connection, if any."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _read(self, known_version: int | None) -> ReadResult:
        conn = self._connection()
        try:
            check = self._timed(conn, "version", check_version)
            found = None
            if check.version != known_version:
                found = self._timed(conn, "full", read_config)
            return ReadResult(check, found)
        except psycopg.Error:
            self.drop()
            conn.close()
            raise
        finally:
            if not self.keep_connection:
                conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.drop()
        conn = open_reader(self.dsn, self.timeout)
        if self.keep_connection:
            self._conn = conn
        return conn

    def _timed(
        self, conn: psycopg.Connection[Any], kind: str, read: Callable[[psycopg.Connection[Any]], T]
    ) -> T:
        started = time.perf_counter()
        with WATCHDOG.bound(conn, self.timeout):
            result = read(conn)
        self.durations.observe(kind, time.perf_counter() - started)
        return result

    def _where(self, problem: str) -> str:
        return f"cannot read the configuration from {describe(resolve_dsn(self.dsn))}: {problem}"
