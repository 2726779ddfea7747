"""Shared fixtures: every database test gets its own fresh database on the real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from syncd.sync.migrate import migrate
from tests import support as testing
from tests.support import ConfigRepo, make_config_repo
from tests.topology import Topology, running_topology
from tonsurance.db import redact


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin DSN of the test server; fails loudly (never skips) when it is not reachable."""
    try:
        with psycopg.connect(testing.ADMIN_DSN, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {redact(testing.ADMIN_DSN)} "
            f"({' '.join(str(exc).split())}); start it or set TONSURANCE_TEST_ADMIN_DSN",
            pytrace=False,
        )
    return testing.ADMIN_DSN


@pytest.fixture
def empty_db_dsn(postgres_server: str) -> Iterator[str]:
    """DSN of a fresh database with nothing in it, dropped after the test."""
    with testing.fresh_database(postgres_server) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def migrated_template(postgres_server: str) -> Iterator[str]:
    """Name of a database migrated once per session, copied for each test that needs one."""
    with testing.fresh_database(postgres_server) as dsn:
        migrate(dsn)
        yield testing.database_name(dsn)


@pytest.fixture
def db_dsn(postgres_server: str, migrated_template: str) -> Iterator[str]:
    """DSN of a fresh database with every migration applied, dropped after the test."""
    with testing.fresh_database(postgres_server, template=migrated_template) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def topology() -> Iterator[Topology]:
    """A primary, its streaming hot standby and a PgBouncer in front of the standby (slow)."""
    with running_topology() as running:
        yield running


DATABASE_FIXTURES = {"postgres_server", "empty_db_dsn", "migrated_template", "db_dsn", "topology"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a database fixture `db`, so `pytest -m "not db"` runs the rest."""
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    """A working clone of a bare `origin`, holding one commit of the shipped configuration."""
    return make_config_repo(tmp_path / "repo")
