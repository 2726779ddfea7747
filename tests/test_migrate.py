"""The migration runner and `syncd migrate`, against the real PostgreSQL."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner

from syncd.cli.main import ErrorBoundary, main
from syncd.errors import MigrationRefused, PlanRefused, Unavailable
from syncd.sync.migrate import (
    LOCK_ID,
    MigrateResult,
    checksum,
    load_migrations,
    migrate,
    migrations_dir,
)
from tests.support import login_role

EXPECTED_TABLES = {
    "config_parameters",
    "config_audit_log",
    "historical_depegs",
    "stress_scenarios",
    "stress_test_results",
    "sync_state",
    "sync_runs",
    "schema_migrations",
}


def ledger(dsn: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select version, name, checksum from schema_migrations order by 1")
        return [(v, n, c) for v, n, c in rows.fetchall()]


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'")
        return {name for (name,) in rows.fetchall()}


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped migrations that a test may change."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), folder)
    return folder


def test_migrate_from_empty(empty_db_dsn: str) -> None:
    """Migrating an empty database applies every file in order and records its checksum."""
    files = load_migrations()
    result = migrate(empty_db_dsn)
    assert result.applied == tuple(m.filename for m in files)
    assert EXPECTED_TABLES <= tables(empty_db_dsn)
    assert ledger(empty_db_dsn) == [(m.version, m.name, m.checksum) for m in files]
    with psycopg.connect(empty_db_dsn) as conn:
        assert conn.execute("select count(*) from sync_state").fetchone() == (1,)


def test_migrate_again_is_a_noop(db_dsn: str) -> None:
    """Migrating an up-to-date database applies nothing, says so, and leaves the ledger alone."""
    before = ledger(db_dsn)
    result = migrate(db_dsn)
    assert result == MigrateResult((), len(before))
    assert "up to date" in result.message
    assert ledger(db_dsn) == before


def test_concurrent_migrates_apply_each_file_once(empty_db_dsn: str, migrations_copy: Path) -> None:
    """Four migrate runs started together apply each file exactly once between them."""
    (migrations_copy / "000_hold_the_lock.sql").write_text("select pg_sleep(0.2);\n")
    start = threading.Barrier(4)
    results: list[MigrateResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(migrate(empty_db_dsn, migrations_copy))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    applied = [name for result in results for name in result.applied]
    assert sorted(applied) == [m.filename for m in load_migrations(migrations_copy)]
    assert len(ledger(empty_db_dsn)) == len(applied)


def test_tampered_migration_is_refused(empty_db_dsn: str, migrations_copy: Path) -> None:
    """A migration changed after it was applied is refused by name, and nothing new is applied."""
    migrate(empty_db_dsn, migrations_copy)
    target = migrations_copy / "002_historical_depegs.sql"
    target.write_text(target.read_text() + "\n-- an innocent-looking edit\n")
    (migrations_copy / "900_more.sql").write_text("create table more_stuff (id int);\n")
    with pytest.raises(MigrationRefused, match="002_historical_depegs.sql was changed"):
        migrate(empty_db_dsn, migrations_copy)
    assert "more_stuff" not in tables(empty_db_dsn)


def test_line_endings_do_not_count_as_a_change(empty_db_dsn: str, migrations_copy: Path) -> None:
    """A migration checked out with CRLF line endings has the same checksum as with LF."""
    migrate(empty_db_dsn, migrations_copy)
    target = migrations_copy / "001_config_parameters.sql"
    target.write_bytes(target.read_bytes().replace(b"\n", b"\r\n"))
    assert checksum(target.read_text()) == load_migrations()[0].checksum
    assert migrate(empty_db_dsn, migrations_copy).applied == ()


def test_applied_migration_missing_on_disk_is_refused(
    empty_db_dsn: str, migrations_copy: Path
) -> None:
    """A database with a migration this code does not know is refused, naming the migration."""
    (migrations_copy / "900_newer.sql").write_text("select 1;\n")
    migrate(empty_db_dsn, migrations_copy)
    (migrations_copy / "900_newer.sql").unlink()
    with pytest.raises(MigrationRefused, match="900_newer.sql"):
        migrate(empty_db_dsn, migrations_copy)


def test_failing_migration_changes_nothing(empty_db_dsn: str, migrations_copy: Path) -> None:
    """A migration that fails is rolled back whole, named in the error, and left unrecorded."""
    (migrations_copy / "900_broken.sql").write_text(
        "create table half_done (id int);\nselect 1 / 0;\n"
    )
    with pytest.raises(MigrationRefused, match="900_broken.sql failed: division by zero"):
        migrate(empty_db_dsn, migrations_copy)
    assert "half_done" not in tables(empty_db_dsn)
    assert 900 not in {v for v, _, _ in ledger(empty_db_dsn)}
    assert "config_parameters" in tables(empty_db_dsn)


def test_connection_lost_mid_migration_is_unavailable(
    empty_db_dsn: str, migrations_copy: Path
) -> None:
    """A connection lost inside a migration rolls it back and raises Unavailable (exit 3)."""
    (migrations_copy / "900_cut.sql").write_text(
        "create table half_done (id int);\nselect pg_terminate_backend(pg_backend_pid());\n"
    )
    with pytest.raises(Unavailable, match="while applying 900_cut.sql") as info:
        migrate(empty_db_dsn, migrations_copy)
    assert info.value.exit_code == 3
    assert "half_done" not in tables(empty_db_dsn)
    assert "config_parameters" in tables(empty_db_dsn)


def test_misnamed_migration_file_is_refused(migrations_copy: Path) -> None:
    """A .sql file that does not follow NNN_name.sql is refused before anything runs."""
    (migrations_copy / "6-extra.sql").write_text("select 1;\n")
    with pytest.raises(MigrationRefused, match="6-extra.sql"):
        load_migrations(migrations_copy)


def test_cli_migrate_reports_what_it_did(empty_db_dsn: str) -> None:
    """`syncd migrate` lists the files it applied, then says the database is up to date."""
    runner = CliRunner()
    first = runner.invoke(main, ["migrate", "--dsn", empty_db_dsn], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "001_config_parameters.sql" in first.stdout
    second = runner.invoke(main, ["migrate", "--dsn", empty_db_dsn], catch_exceptions=False)
    assert second.exit_code == 0
    assert "up to date" in second.stdout


def test_cli_migrate_reads_tonsurance_dsn(
    empty_db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --dsn, `syncd migrate` uses the TONSURANCE_DSN environment variable."""
    monkeypatch.setenv("TONSURANCE_DSN", empty_db_dsn)
    result = CliRunner().invoke(main, ["migrate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "config_parameters" in tables(empty_db_dsn)


def test_cli_unreachable_database_is_one_line_and_exit_3() -> None:
    """An unreachable database gives exit code 3 and one error line that hides the password."""
    result = CliRunner().invoke(
        main, ["migrate", "--dsn", "postgresql://u:secret@127.0.0.1:1/x"], catch_exceptions=False
    )
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("syncd: error: cannot connect to PostgreSQL at postgresql://u:***@")
    assert "secret" not in result.output
    assert result.stdout == ""


def boom_group() -> click.Group:
    """A throwaway group with the syncd error boundary and failing subcommands."""

    @click.group(cls=ErrorBoundary)
    @click.option("--debug", is_flag=True)
    def group(debug: bool) -> None:
        pass

    @group.command()
    def crash() -> None:
        raise RuntimeError("wires crossed\nsecond line")

    @group.command()
    def refuse() -> None:
        raise PlanRefused("not without --allow-empty")

    return group


def test_error_boundary_turns_errors_into_one_line() -> None:
    """A known error prints its message and exit code; an unexpected one prints one line, exit 1."""
    runner = CliRunner()
    refused = runner.invoke(boom_group(), ["refuse"])
    assert (refused.exit_code, refused.stderr) == (1, "syncd: error: not without --allow-empty\n")
    crashed = runner.invoke(boom_group(), ["crash"])
    assert crashed.exit_code == 1
    assert crashed.stderr == "syncd: error: unexpected RuntimeError: wires crossed second line\n"
    debug = runner.invoke(boom_group(), ["--debug", "crash"])
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr


def test_renamed_applied_migration_is_refused(empty_db_dsn: str, migrations_copy: Path) -> None:
    """An applied migration under a new name is refused before any pending one runs."""
    migrate(empty_db_dsn, migrations_copy)
    (migrations_copy / "002_historical_depegs.sql").rename(migrations_copy / "002_depeg_events.sql")
    (migrations_copy / "900_more.sql").write_text("create table more_stuff (id int);\n")
    with pytest.raises(MigrationRefused, match="was applied as 002_historical_depegs.sql"):
        migrate(empty_db_dsn, migrations_copy)
    assert "more_stuff" not in tables(empty_db_dsn)


def test_reordered_applied_migrations_are_refused(empty_db_dsn: str, migrations_copy: Path) -> None:
    """Two applied migrations that swapped numbers are refused, naming the first one moved."""
    migrate(empty_db_dsn, migrations_copy)
    first, second = (
        migrations_copy / "003_stress_scenarios.sql",
        migrations_copy / "004_sync_state.sql",
    )
    first.rename(migrations_copy / "004_stress_scenarios.sql")
    second.rename(migrations_copy / "003_sync_state.sql")
    with pytest.raises(MigrationRefused) as info:
        migrate(empty_db_dsn, migrations_copy)
    assert str(info.value).startswith("003_sync_state.sql was applied as 003_stress_scenarios.sql")


@pytest.mark.parametrize(
    ("body", "place", "words"),
    [
        ("create table half (id int);\ncommit;\ncreate table rest (id int);\n", "2:1", "commit"),
        ("begin;\ncreate table half (id int);\n", "1:1", "begin"),
        ("create table half (id int);\n  SAVEPOINT s;\n", "2:3", "SAVEPOINT s"),
        ("create table half (id int);\n-- done\nEND;\n", "3:1", "END"),
        ("create table half (id int); rollback;", "1:29", "rollback"),
        ("start transaction isolation level serializable;\n", "1:1", "start transaction isolation"),
    ],
)
def test_transaction_control_in_a_migration_is_refused_before_it_runs(
    empty_db_dsn: str, migrations_copy: Path, body: str, place: str, words: str
) -> None:
    """A pending migration with transaction control is refused at its line, and no pending file runs."""
    (migrations_copy / "900_first.sql").write_text("create table first_stuff (id int);\n")
    (migrations_copy / "901_control.sql").write_text(body)
    with pytest.raises(MigrationRefused) as info:
        migrate(empty_db_dsn, migrations_copy)
    message = str(info.value)
    assert message.startswith(f"{migrations_copy / '901_control.sql'}:{place}: {words!r}")
    assert "transaction control" in message
    assert not {"first_stuff", "half", "config_parameters"} & tables(empty_db_dsn)


def test_transaction_words_inside_bodies_strings_and_comments_are_not_control(
    empty_db_dsn: str, migrations_copy: Path
) -> None:
    """COMMIT or BEGIN in dollar-quoted bodies, strings, comments and BEGIN ATOMIC bodies is accepted."""
    (migrations_copy / "900_bodies.sql").write_text(
        "-- commit;\n/* rollback; /* nested */ end; */\n"
        "create table words (said text);\n"
        "insert into words values ('commit; begin; end;'), ($q$rollback;$q$);\n"
        "create function words_count() returns bigint language plpgsql as $fn$\n"
        "begin\n  return (select count(*) from words);\nend\n$fn$;\n"
        "create function words_first() returns text language sql\n"
        "begin atomic\n  select case when true then 'begin' end;\nend;\n"
        'do $$ begin perform 1; end $$;\nselect "end" from (select 1 as "end") e;\n'
    )
    assert migrate(empty_db_dsn, migrations_copy).applied[-1] == "900_bodies.sql"
    with psycopg.connect(empty_db_dsn) as conn:
        assert conn.execute("select words_count(), words_first()").fetchone() == (2, "begin")


def test_cli_refuses_transaction_control_in_one_line(
    empty_db_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`syncd migrate` on the shipped files with one COMMIT added prints one error line, exit 1."""
    from syncd.sync import migrate as migrate_module

    folder = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), folder)
    (folder / "900_control.sql").write_text("create table half (id int);\ncommit;\n")
    monkeypatch.setattr(migrate_module, "migrations_dir", lambda: folder)
    result = CliRunner().invoke(main, ["migrate", "--dsn", empty_db_dsn])
    assert result.exit_code == 1
    expected = (
        f"syncd: error: {folder / '900_control.sql'}:2:1: 'commit' is transaction control;"
        " syncd runs each migration in one transaction of its own, so remove it"
    )
    assert result.output.splitlines() == [expected]
    assert "half" not in tables(empty_db_dsn)


def test_service_role_cannot_stall_a_migration(
    db_dsn: str, migrations_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service-role session holding the old advisory key and reading tables cannot stop a migration."""
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=5s")  # a stalled migration fails, not hangs
    (migrations_copy / "900_more.sql").write_text("create table more_stuff (id int);\n")
    with (
        login_role(db_dsn, "tonsurance_reader") as reader_dsn,
        psycopg.connect(reader_dsn) as reader,
    ):
        reader.execute("select pg_advisory_lock(%s)", (LOCK_ID,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("lock table schema_migrations in access share mode")
        reader.rollback()
        reader.execute("select pg_advisory_lock(%s)", (LOCK_ID,))
        reader.execute("select * from config_parameters limit 1")
        assert migrate(db_dsn, migrations_copy).applied == ("900_more.sql",)
    assert "more_stuff" in tables(db_dsn)
