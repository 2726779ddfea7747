"""Apply the numbered SQL files of `migrations/` to a database, each once, in order.

A ledger table (schema_migrations) records each applied file with the sha256 of its content.
Every file runs in its own transaction under a lock on the ledger table, and the ledger is read
again once the lock is held, so two runs at once apply each file exactly once. An applied
file that was edited, renamed or renumbered is refused (Flyway's validate): a new change needs a
new file. A pending file with transaction control in it is refused before anything runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

from syncd.errors import MigrationRefused, Unavailable
from syncd.sync.migration_sql import transaction_control_problem
from tonsurance.db import connect_primary

LOCK_ID = 0x746F6E736D6967  # "tonsmig": serializes the creation of the ledger
FILE_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")

LEDGER_DDL = """
create table if not exists schema_migrations (
    version    int         primary key,
    name       text        not null,
    checksum   text        not null,
    applied_at timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.version:03d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrateResult:
    """What one run did: the files it applied, and how many were applied already."""

    applied: tuple[str, ...]
    already_applied: int

    @property
    def message(self) -> str:
        if not self.applied:
            return (
                f"database is up to date: {self.already_applied} migrations applied, none pending"
            )
        return f"applied {len(self.applied)} migration(s): {', '.join(self.applied)}"


def migrations_dir() -> Path:
    """The repository's migrations/ folder, or the copy shipped inside the installed wheel."""
    in_repo = Path(__file__).resolve().parents[2] / "migrations"
    if in_repo.is_dir():
        return in_repo
    return Path(str(resources.files("tonsurance") / "_data" / "migrations"))


def checksum(text: str) -> str:
    """sha256 of the file's text with line endings normalized, so a CRLF checkout is no change."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files of `directory`, sorted by version; a misnamed .sql file is an error."""
    folder = directory or migrations_dir()
    if not folder.is_dir():
        raise MigrationRefused(f"migrations folder {folder} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationRefused(
                f"{path}: migration files are named NNN_lowercase_name.sql; rename this file"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationRefused(
                f"{path}: version {version} is also used by {found[version].filename}"
            )
        text = path.read_text(encoding="utf-8")
        found[version] = Migration(version, match.group(2), text, checksum(text))
    return [found[v] for v in sorted(found)]


def _locked_ledger(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, str]]:
    """Take the migration lock for this transaction and read the ledger: version -> (name, sum).

    The lock is the ledger table itself, which only the migrating role may lock (the service and
    writer roles have no right to, so neither can stall a migration); an advisory lock guards
    only the creation of the ledger in a database that has none yet.
    """
    exists = conn.execute("select to_regclass('schema_migrations') is not null").fetchone()
    if not (exists and exists[0]):
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_ID,))
        conn.execute(LEDGER_DDL)
    conn.execute("lock table schema_migrations in share row exclusive mode")
    rows = conn.execute("select version, name, checksum from schema_migrations").fetchall()
    return {version: (name, digest) for version, name, digest in rows}


def _check_ledger(ledger: dict[int, tuple[str, str]], files: list[Migration]) -> None:
    """Refuse when an applied migration is missing on disk, renamed, renumbered or edited.

    Like Flyway's validate: every version in the ledger must be a file of the same name and the
    same checksum. A file moved to another number shows up as a rename at both numbers.
    """
    by_version = {m.version: m for m in files}
    for version, (name, digest) in sorted(ledger.items()):
        mig = by_version.get(version)
        applied_as = f"{version:03d}_{name}.sql"
        if mig is None:
            raise MigrationRefused(
                f"the database has migration {applied_as} applied, which this syncd "
                "does not have; use the syncd version that matches the database"
            )
        if mig.name != name:
            raise MigrationRefused(
                f"{mig.filename} was applied as {applied_as}: an applied migration was renamed"
                " or renumbered; restore its name and number, and put any change in a new"
                " migration"
            )
        if mig.checksum != digest:
            raise MigrationRefused(
                f"{mig.filename} was changed after it was applied (checksum {digest[:12]} in the "
                f"database, {mig.checksum[:12]} on disk); restore the file and put the change in "
                "a new migration"
            )


def migrate(dsn: str | None, directory: Path | None = None) -> MigrateResult:
    """Apply every pending migration of `directory` (default: the shipped ones) to the database."""
    files = load_migrations(directory)
    applied: list[str] = []
    with connect_primary(dsn, autocommit=True) as conn:
        with conn.transaction():
            ledger = _locked_ledger(conn)
            _check_ledger(ledger, files)
        _check_pending(ledger, files, directory or migrations_dir())
        for mig in files:
            if mig.version not in ledger and _apply(conn, mig, files):
                applied.append(mig.filename)
    return MigrateResult(tuple(applied), len(files) - len(applied))


def _check_pending(
    ledger: dict[int, tuple[str, str]], files: list[Migration], folder: Path
) -> None:
    """Refuse, before any of them runs, a pending migration that would end its own transaction."""
    for mig in files:
        if mig.version not in ledger:
            problem = transaction_control_problem(folder / mig.filename, mig.sql)
            if problem:
                raise MigrationRefused(problem)


def _apply(conn: psycopg.Connection[Any], mig: Migration, files: list[Migration]) -> bool:
    """Apply one migration in its own transaction unless another run did; True if this one did."""
    try:
        with conn.transaction():
            ledger = _locked_ledger(conn)
            _check_ledger(ledger, files)
            if mig.version in ledger:
                return False
            conn.execute(mig.sql.encode())
            conn.execute(
                "insert into schema_migrations (version, name, checksum) values (%s, %s, %s)",
                (mig.version, mig.name, mig.checksum),
            )
    except psycopg.OperationalError as exc:
        raise Unavailable(
            f"the database connection failed while applying {mig.filename}, which was rolled "
            f"back ({' '.join(str(exc).split())}); run syncd migrate again"
        ) from None
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        raise MigrationRefused(f"{mig.filename} failed: {detail}") from None
    return True
