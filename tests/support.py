"""Helpers the tests and benchmarks share: throwaway databases and clusters, real git repositories.

`fresh_database()` makes a new, uniquely named database on a running server (ADMIN_DSN, which
TONSURANCE_TEST_ADMIN_DSN overrides) and drops it afterwards. `throwaway_cluster()` runs a whole
private server, for tests that stop and start the database. `make_config_repo()` makes a bare
`origin` and a working clone holding the shipped configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from syncd.cli.main import main as syncd_main
from syncd.local.server import FAST_SETTINGS, PrivateServer, free_port, postgres_bindir
from tonsurance.db import connect

ADMIN_DSN = os.environ.get(
    "TONSURANCE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DATABASE_PREFIX = "tonsurance_test_"

__all__ = ["free_port", "postgres_bindir"]


def database_name(dsn: str) -> str:
    """The database a DSN points at."""
    return str(conninfo_to_dict(dsn).get("dbname") or "")


def create_database(admin_dsn: str | None = None, template: str | None = None) -> str:
    """Create a uniquely named database (a copy of `template` if given) and return its DSN."""
    admin = admin_dsn or ADMIN_DSN
    name = f"{DATABASE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    statement = sql.SQL("create database {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" template {}").format(sql.Identifier(template))
    with connect(admin, autocommit=True) as conn:
        conn.execute(statement)
    return make_conninfo(admin, dbname=name)


def drop_database(dsn: str, admin_dsn: str | None = None) -> None:
    """Drop the database of `dsn`, disconnecting whoever is still connected to it."""
    name = database_name(dsn)
    statement = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
    with connect(admin_dsn or ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)


@contextmanager
def fresh_database(admin_dsn: str | None = None, template: str | None = None) -> Iterator[str]:
    """Yield the DSN of a new empty database (or a copy of `template`), dropped afterwards."""
    dsn = create_database(admin_dsn, template)
    try:
        yield dsn
    finally:
        drop_database(dsn, admin_dsn)


ThrowawayCluster = PrivateServer


@contextmanager
def throwaway_cluster() -> Iterator[PrivateServer]:
    """Yield a started private cluster (trust auth, user postgres); always removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tonsurance-pg-"))
    try:
        cluster = PrivateServer(folder, postgres_bindir(), free_port(), FAST_SETTINGS)
        cluster.initialize(sync=False)
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running():
                cluster.stop("immediate")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


GIT_IDENTITY = ("-c", "user.name=Test Analyst", "-c", "user.email=analyst@tonsurance.test")


def git(cwd: Path, *args: str, env_extra: dict[str, str] | None = None) -> str:
    """Run git in `cwd` with a fixed identity (and `env_extra` in its environment); return stdout."""
    env = {**os.environ, **env_extra} if env_extra else None
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


@dataclass
class ConfigRepo:
    """A working clone holding the shipped config/ and schemas/, with a bare `origin` beside it."""

    path: Path
    remote: Path

    def file(self, rel: str) -> Path:
        return self.path / rel

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def replace(self, rel: str, old: str, new: str) -> None:
        """Replace the first `old` in a file; fail loudly when it is not there."""
        text = (self.path / rel).read_text()
        if old not in text:
            raise AssertionError(f"{old!r} not found in {rel}")
        (self.path / rel).write_text(text.replace(old, new, 1))

    def commit(self, message: str, *, push: bool = True) -> str:
        """Commit everything in the working tree (and push it); return the new sha."""
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        if push:
            self.push()
        return self.head()

    def change(
        self, rel: str, old: str, new: str, message: str | None = None, *, push: bool = True
    ) -> str:
        self.replace(rel, old, new)
        return self.commit(message or f"{rel}: {old.strip()} -> {new.strip()}", push=push)

    def revert(self, sha: str, *, push: bool = True) -> str:
        git(self.path, "revert", "--no-edit", sha)
        if push:
            self.push()
        return self.head()

    def push(self, *, force: bool = False) -> None:
        git(self.path, "push", "-q", *(["--force"] if force else []), "origin", "HEAD:main")

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")


def make_config_repo(parent: Path) -> ConfigRepo:
    """A bare remote `parent/origin.git` and a clone `parent/work` with one commit of the shipped config."""
    from tonsurance.config.layout import CONFIG_DIR, SCHEMA_DIR, default_root

    parent.mkdir(parents=True, exist_ok=True)
    remote = parent / "origin.git"
    work = parent / "work"
    git(parent, "init", "-q", "--bare", "-b", "main", str(remote))
    git(parent, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "-b", "main")
    root = default_root()
    for folder in (CONFIG_DIR, SCHEMA_DIR):
        shutil.copytree(root / folder, work / folder)
    repo = ConfigRepo(work, remote)
    repo.commit("Initial configuration")
    return repo


# -- reading what a test database holds -----------------------------------------------------


def syncd_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(syncd_main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def value(dsn: str, category: str, key: str) -> Any:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select value from config_parameters where category = %s and key = %s", (category, key)
        ).fetchone()
    return row[0] if row else None


def audit(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select category, key, action, old_value, new_value, commit_sha, is_drift, reason"
            " from config_audit_log order by id"
        ).fetchall()


def table_dump(dsn: str) -> list[tuple[Any, ...]]:
    """Every configuration row, without the columns that record when and by which commit."""
    with psycopg.connect(dsn) as conn:
        params = conn.execute(
            "select category, key, value, value_type, description from config_parameters order by 1, 2"
        ).fetchall()
        depegs = conn.execute(
            "select to_jsonb(d) - 'commit' - 'updated_at' from historical_depegs d order by id"
        ).fetchall()
        scenarios = conn.execute(
            "select to_jsonb(s) - 'commit' - 'updated_at' from stress_scenarios s order by id"
        ).fetchall()
    return params + depegs + scenarios


def applied_commit(dsn: str) -> str | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    return row[0] if row else None


@contextmanager
def login_role(dsn: str, group: str, password: str | None = None) -> Iterator[str]:
    """Yield the DSN of a new login role in `group` (roles are per cluster), dropped afterwards."""
    name = f"{DATABASE_PREFIX}role_{uuid.uuid4().hex[:10]}"
    create = sql.SQL("create role {} login in role {}").format(
        sql.Identifier(name), sql.Identifier(group)
    )
    if password is not None:
        create += sql.SQL(" password {}").format(sql.Literal(password))
    with connect(dsn, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield make_conninfo(dsn, user=name)
    finally:
        with connect(dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL(
                    "select pg_terminate_backend(pid) from pg_stat_activity where usename = {}"
                ).format(sql.Literal(name))
            )
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def stop_gpg_agents(folder: Path) -> None:
    """Stop the gpg-agent of every GnuPG home below `folder` (gpg starts one per home)."""
    for keybox in folder.rglob("pubring.kbx"):
        subprocess.run(
            ["gpgconf", "--homedir", str(keybox.parent), "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )
