"""A PgBouncer for tests and benchmarks: transaction pooling, a small pool, trust auth.

As root it runs as the `postgres` user, like the PostgreSQL servers beside it (PgBouncer refuses
to run as root). `show("pools")` and `pool()` read its admin console.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

DATABASE = "tonsurance"
SERVICE_ROLE = "tonsurance_service"
SERVER_USER = "postgres"
POOL_SIZE = 4
START_TIMEOUT = 30.0


def as_server_user() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (nothing when not root)."""
    return {"user": SERVER_USER, "group": SERVER_USER} if os.geteuid() == 0 else {}


def server_folder(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    return folder


def pgbouncer_binary() -> str:
    """The pgbouncer program: on PATH, else where the Debian package puts it."""
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():
        raise FileNotFoundError("pgbouncer is not installed (Debian package `pgbouncer`)")
    return found


@dataclass
class PgBouncer:
    """A PgBouncer process in transaction pooling mode in front of one PostgreSQL server."""

    folder: Path
    port: int
    server_port: int
    pool_size: int = POOL_SIZE
    max_client_conn: int = 2000
    process: subprocess.Popen[bytes] | None = None

    @property
    def ini(self) -> Path:
        return self.folder / "pgbouncer.ini"

    @property
    def log(self) -> Path:
        return self.folder / "pgbouncer.log"

    def dsn(self, user: str = SERVICE_ROLE, dbname: str = DATABASE) -> str:
        return make_conninfo(host="127.0.0.1", port=str(self.port), user=user, dbname=dbname)

    def write_config(self) -> None:
        users = self.folder / "userlist.txt"
        users.write_text(f'"{SERVICE_ROLE}" ""\n"{SERVER_USER}" ""\n')
        self.ini.write_text(
            "[databases]\n"
            f"{DATABASE} = host=127.0.0.1 port={self.server_port} dbname={DATABASE}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {SERVER_USER}\n"
            f"stats_users = {SERVER_USER}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "min_pool_size = 0\n"
            "reserve_pool_size = 0\n"
            f"max_db_connections = {self.pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            "server_connect_timeout = 2\n"
            "server_login_retry = 1\n"
            f"logfile = {self.log}\n"
            f"pidfile = {self.folder / 'pgbouncer.pid'}\n"
        )
        if os.geteuid() == 0:
            for path in (self.ini, users):
                shutil.chown(path, SERVER_USER, SERVER_USER)

    def start(self) -> None:
        self.write_config()
        self.process = subprocess.Popen(
            [pgbouncer_binary(), str(self.ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.folder,
            **as_server_user(),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with self.admin() as conn:
                    conn.execute("show version")
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log.read_text() if self.log.exists() else ""
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {log[-500:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def admin(self) -> psycopg.Connection[Any]:
        """A connection to the admin console (simple query protocol, autocommit)."""
        return psycopg.connect(
            self.dsn(SERVER_USER, "pgbouncer"),
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
            connect_timeout=2,
        )

    def show(self, what: str) -> list[dict[str, Any]]:
        """The rows of `SHOW POOLS`, `SHOW SERVERS`, ... as dicts by column name."""
        with self.admin() as conn, conn.cursor() as cur:
            cur.execute(f"show {what}")
            names = [column.name for column in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def pool(self) -> dict[str, Any]:
        """This database's row of `SHOW POOLS` for the service role."""
        for row in self.show("pools"):
            if row["database"] == DATABASE and row["user"] == SERVICE_ROLE:
                return row
        return {}
