"""A read-scaling topology for tests and benchmarks: primary, hot standby, PgBouncer.

`running_topology()` starts, each in its own temporary folder on a free port of 127.0.0.1:

- a primary PostgreSQL, migrated by syncd and holding the shipped configuration applied from a
  real git repository, with a login role `tonsurance_service` in `tonsurance_reader` (the way
  services connect);
- a streaming hot standby of it, made with `pg_basebackup -R`;
- a PgBouncer in transaction pooling mode with a small pool, in front of the standby.

PostgreSQL and PgBouncer both refuse to run as root, so as root both run as the `postgres`
user.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from syncd.errors import Unavailable
from syncd.local.server import FAST_SETTINGS, PrivateServer, free_port, postgres_bindir
from syncd.sync.migrate import migrate
from syncd.sync.pipeline import apply_commit
from tests.pgbouncer import (
    DATABASE,
    POOL_SIZE,
    SERVER_USER,
    SERVICE_ROLE,
    PgBouncer,
    server_folder,
)
from tests.support import ConfigRepo, make_config_repo

PRICING = "config/pricing.yaml"


@dataclass
class Topology:
    """The running parts and the addresses a test or benchmark needs."""

    primary: PrivateServer
    standby: PrivateServer
    bouncer: PgBouncer
    repo: ConfigRepo

    @staticmethod
    def _dsn(port: int, user: str, **extra: str) -> str:
        return make_conninfo(host="127.0.0.1", port=str(port), user=user, dbname=DATABASE, **extra)

    @property
    def primary_dsn(self) -> str:
        """The writer's address: the primary, as the superuser."""
        return self._dsn(self.primary.port, SERVER_USER)

    @property
    def standby_admin_dsn(self) -> str:
        return self._dsn(self.standby.port, SERVER_USER)

    @property
    def standby_service_dsn(self) -> str:
        """A service's address on the standby itself."""
        return self._dsn(self.standby.port, SERVICE_ROLE)

    @property
    def bouncer_service_dsn(self) -> str:
        """A service's address through PgBouncer (which forwards to the standby)."""
        return self.bouncer.dsn()

    def multi_host_service_dsn(self, **extra: str) -> str:
        """The standby first, the primary second, preferring a standby (libpq chooses)."""
        params = {
            "host": "127.0.0.1,127.0.0.1",
            "port": f"{self.standby.port},{self.primary.port}",
            "user": SERVICE_ROLE,
            "dbname": DATABASE,
            "target_session_attrs": "prefer-standby",
            **extra,
        }
        return make_conninfo(**params)

    def apply(self, rev: str = "HEAD") -> str:
        """`syncd apply` of `rev` on the primary; return the outcome."""
        return apply_commit(self.repo.path, rev, self.primary_dsn).outcome

    def set_base_rate(self, asset: str, rate: float) -> str:
        """Commit a new base rate for `asset` and apply it on the primary; return the commit."""
        path = self.repo.file(PRICING)
        line = re.compile(rf"^(  {re.escape(asset)}: )\S+$", re.MULTILINE)
        text, found = line.subn(rf"\g<1>{rate!r}", path.read_text(), count=1)
        if not found:
            raise AssertionError(f"no base rate for {asset} in {PRICING}")
        path.write_text(text)
        sha = self.repo.commit(f"{asset} base rate {rate}", push=False)
        outcome = self.apply(sha)
        if outcome != "applied":
            raise AssertionError(f"apply of {sha[:12]} ended {outcome}")
        return sha

    def wait_for_replay(self, timeout: float = 30.0) -> None:
        """Return once the standby has replayed everything the primary has written so far and
        shows the primary's applied commit (a WAL position alone is not enough: a commit can
        reach the primary's WAL after the position was read)."""
        with psycopg.connect(self.primary_dsn, autocommit=True) as conn:
            target = _one(conn, "select pg_current_wal_lsn()")
            applied = _one(conn, "select applied_commit from sync_state")
        deadline = time.monotonic() + timeout
        query = (
            "select pg_last_wal_replay_lsn() >= %s::pg_lsn"
            " and (select applied_commit from sync_state) is not distinct from %s"
        )
        with psycopg.connect(self.standby_admin_dsn, autocommit=True) as conn:
            while True:
                if _one(conn, query, (target, applied)):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")
                time.sleep(0.02)


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """The single value a query returns."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise AssertionError(f"no row from {query}")
    return row[0]


def _init_primary(stack: ExitStack, settings: dict[str, str]) -> PrivateServer:
    folder = server_folder("tonsurance-primary-")
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    primary = PrivateServer(folder, postgres_bindir(), free_port(), FAST_SETTINGS)
    primary.initialize(sync=False)
    with open(primary.datadir / "postgresql.conf", "a") as conf:
        conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())
    primary.start()
    stack.callback(_stop_quietly, primary)
    return primary


def _prepare_database(primary: PrivateServer) -> None:
    """Create the database, migrate it, and add the login role services use."""
    admin = make_conninfo(host="127.0.0.1", port=str(primary.port), user=SERVER_USER)
    with psycopg.connect(admin, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    migrate(make_conninfo(admin, dbname=DATABASE))
    with psycopg.connect(admin, dbname=DATABASE, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login in role tonsurance_reader").format(
                sql.Identifier(SERVICE_ROLE)
            )
        )


def _start_standby(stack: ExitStack, primary: PrivateServer) -> PrivateServer:
    """A hot standby streaming from `primary`; its postgresql.conf is the primary's copy."""
    folder = server_folder("tonsurance-standby-")
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    standby = PrivateServer(folder, primary.bindir, free_port(), FAST_SETTINGS)
    address = ("-h", "127.0.0.1", "-p", str(primary.port), "-U", SERVER_USER)
    standby.run(
        "pg_basebackup", "-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast",
        "--no-sync", *address,
    )  # fmt: skip
    standby.start()
    stack.callback(_stop_quietly, standby)
    return standby


def _stop_quietly(server: PrivateServer) -> None:
    if server.running():
        try:
            server.stop("immediate")
        except Unavailable:
            pass


@contextmanager
def running_topology(
    *,
    pool_size: int = POOL_SIZE,
    max_client_conn: int = 2000,
    primary_settings: dict[str, str] | None = None,
) -> Iterator[Topology]:
    """Start primary, standby and PgBouncer (see the module docstring); stop them all after."""
    with ExitStack() as stack:
        primary = _init_primary(stack, primary_settings or {})
        _prepare_database(primary)
        work = Path(tempfile.mkdtemp(prefix="tonsurance-topology-repo-"))
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        repo = make_config_repo(work / "repo")
        standby = _start_standby(stack, primary)
        bouncer = PgBouncer(
            server_folder("tonsurance-pgbouncer-"),
            free_port(),
            standby.port,
            pool_size=pool_size,
            max_client_conn=max_client_conn,
        )
        stack.callback(shutil.rmtree, bouncer.folder, ignore_errors=True)
        bouncer.start()
        stack.callback(bouncer.stop)
        topology = Topology(primary, standby, bouncer, repo)
        topology.apply()
        topology.wait_for_replay()
        yield topology
