"""The two locks of syncd, which only the writer role can take (migration 011).

Both are table locks in EXCLUSIVE mode on a view that only `tonsurance_writer` may update: the
service role cannot take them (advisory locks, by contrast, are open to every role) and its
queries cannot conflict with them. The apply lock lives as long as one apply's transaction; the
leader lock as long as an open transaction on a connection kept for it (see `Leadership`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

APPLY_LOCK = "sync_apply_lock"
LEADER_LOCK = "sync_leader_lock"
STATEMENT_TIMEOUT_MS = 10_000

_LOCK = {
    (APPLY_LOCK, True): "lock table sync_apply_lock in exclusive mode",
    (APPLY_LOCK, False): "lock table sync_apply_lock in exclusive mode nowait",
    (LEADER_LOCK, False): "lock table sync_leader_lock in exclusive mode nowait",
}


def take_apply_lock(conn: psycopg.Connection[Any], wait: bool) -> bool:
    """Take the apply lock for the current transaction; False when `wait` is off and it is held.

    A wait is bounded by the session's `lock_timeout`; running out raises LockNotAvailable.
    """
    if wait:
        conn.execute(_LOCK[(APPLY_LOCK, True)])
        return True
    try:
        with conn.transaction():  # a savepoint: a refused NOWAIT leaves the transaction usable
            conn.execute(_LOCK[(APPLY_LOCK, False)])
    except psycopg.errors.LockNotAvailable:
        return False
    return True


class Leadership:
    """The leader lock, held in an open transaction on a connection of its own.

    The transaction takes no snapshot and no transaction id, so it holds back no vacuum; it only
    keeps the lock until this object lets go or the connection dies (the process, the host or
    the network), and then another daemon takes it.
    """

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self.held = False

    def hold(self) -> bool:
        """Whether this process holds the leader lock, taking it when it is free."""
        if self.held and self._alive():
            return True
        self.held = False
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.release()
            conn = self._connect()
            conn.autocommit = False
            # The lock lives in an idle open transaction, which such a timeout would end; its
            # statements (a NOWAIT lock, a liveness check) are instant unless the server hangs.
            conn.execute("set idle_in_transaction_session_timeout = 0")
            conn.execute(f"set statement_timeout = '{STATEMENT_TIMEOUT_MS}ms'")
            conn.commit()
            self._conn = conn
        try:
            self._conn.execute(_LOCK[(LEADER_LOCK, False)])
        except psycopg.errors.LockNotAvailable:
            self._conn.rollback()
            return False
        except psycopg.Error:
            self.release()  # the next try starts on a fresh connection
            raise
        self.held = True
        return True

    def _alive(self) -> bool:
        assert self._conn is not None
        try:
            self._conn.execute("select 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Let go of the lock (closing the connection rolls its transaction back)."""
        self.held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None
