"""The daemon's own connection to the database: opened on demand, dropped after a fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from syncd.daemon.blocked import lock_timeout_statement
from tonsurance.db import connect_primary

CONNECT_TIMEOUT = 5
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


class DatabaseLink:
    """One connection, reopened when closed or broken; `on_drop` runs whenever it is let go."""

    def __init__(self, dsn: str | None, interval: float, on_drop: Callable[[], None]) -> None:
        self.dsn = dsn
        self.interval = interval
        self.on_drop = on_drop
        self.conn: psycopg.Connection[Any] | None = None

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection with keepalives and the daemon's lock timeout set."""
        conn = connect_primary(self.dsn, connect_timeout=CONNECT_TIMEOUT, **_client_settings())
        conn.execute(_SERVER_KEEPALIVES)
        conn.execute(lock_timeout_statement(self.interval))
        conn.commit()
        return conn

    def connection(self) -> psycopg.Connection[Any]:
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.drop()
            self.conn = self.connect()
        return self.conn

    def drop(self) -> None:
        self.on_drop()
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
            self.conn = None
