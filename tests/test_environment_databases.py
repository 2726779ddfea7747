"""One branch, one database per environment: each records the environment it serves at its first
apply and refuses another environment's configuration, changing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from tests import support
from tests.support import ConfigRepo, applied_commit, table_dump, value
from tests.support import syncd_cli as cli

STAGING_PRICING = "config/environments/staging/pricing.yaml"


@pytest.fixture
def second_db_dsn(postgres_server: str, migrated_template: str) -> Iterator[str]:
    """A second migrated database on the same server, for a second environment."""
    with support.fresh_database(postgres_server, template=migrated_template) as dsn:
        yield dsn


def sync_state(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select * from sync_state").fetchone()
    assert row is not None
    return tuple(row)


def staging_rate(repo: ConfigRepo) -> float:
    """The USDC rate the staging overlay sets (read back from the file the test wrote)."""
    return float(yaml.safe_load(repo.file(STAGING_PRICING).read_text())["base_rates"]["USDC"])


def with_staging_rate(repo: ConfigRepo) -> str:
    repo.write(STAGING_PRICING, "base_rates:\n  USDC: 0.045  # tried in staging first\n")
    return repo.commit("Try a higher USDC rate in staging")


def run_once(
    repo: ConfigRepo, dsn: str, environment: str, state: Path
) -> subprocess.CompletedProcess:
    """One cycle of a daemon following the branch `main` of the repository's remote."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "syncd.cli.main",
            "run",
            "--once",
            "--repo",
            str(repo.remote),
            "--dsn",
            dsn,
            "--state-dir",
            str(state),
            "--environment",
            environment,
            "--listen",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_staging_and_production_databases_from_one_branch(
    repo: ConfigRepo, db_dsn: str, second_db_dsn: str, tmp_path: Path
) -> None:
    """A staging and a production daemon following the same branch give each database its own
    values, and status names the environment each one serves."""
    head = with_staging_rate(repo)
    for dsn, name in ((db_dsn, "staging"), (second_db_dsn, "production")):
        done = run_once(repo, dsn, name, tmp_path / name)
        assert done.returncode == 0, done.stderr
        assert f"as the {name} environment" in done.stderr
        assert applied_commit(dsn) == head
    assert value(db_dsn, "pricing", "base_rate_USDC") == staging_rate(repo)
    base = yaml.safe_load(repo.file("config/pricing.yaml").read_text())["base_rates"]["USDC"]
    assert value(second_db_dsn, "pricing", "base_rate_USDC") == base
    for dsn, name in ((db_dsn, "staging"), (second_db_dsn, "production")):
        code, out = cli("status", "--dsn", dsn, "--format", "json", "--environment", name)
        assert code == 0 and json.loads(out)["environment"] == name


def test_an_apply_of_another_environment_is_refused_and_changes_nothing(
    repo: ConfigRepo, db_dsn: str
) -> None:
    """A production database refuses staging's configuration with one line; no row moves, and
    the sync record (applied and attempted commit) stays as it was."""
    code, out = cli(
        "apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "production"
    )
    assert code == 0, out
    with_staging_rate(repo)
    rows, state = table_dump(db_dsn), sync_state(db_dsn)
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "staging")
    assert code == 1
    assert out.strip().splitlines() == [
        (
            f"syncd: error: {repo.head()[:12]} not applied: this database serves the environment"
            " 'production'; refusing to apply the 'staging' configuration (run with --environment"
            " production, or point --dsn at staging's database)"
        )
    ]
    assert table_dump(db_dsn) == rows and sync_state(db_dsn) == state
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "staging")
    assert code == 1 and "serves the environment 'production'" in out


def test_a_daemon_of_another_environment_applies_nothing(
    repo: ConfigRepo, db_dsn: str, tmp_path: Path
) -> None:
    """`syncd run --once --environment staging` on a production database exits 1, says why, and
    writes nothing, even when the database already holds the branch head."""
    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "production")
    with_staging_rate(repo)
    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "production")
    rows, state = table_dump(db_dsn), sync_state(db_dsn)
    done = run_once(repo, db_dsn, "staging", tmp_path / "state")
    assert done.returncode == 1, done.stderr
    assert (
        "wrong_environment" in done.stderr and "serves the environment 'production'" in done.stderr
    )
    assert table_dump(db_dsn) == rows and sync_state(db_dsn) == state


def test_bad_environment_names_are_usage_errors(repo: ConfigRepo, db_dsn: str) -> None:
    """An odd environment name is one line and exit 2; an undeclared one is refused with exit 1."""
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "Prod!")
    assert code == 2 and out.strip().splitlines() == [
        (
            "syncd: error: environment name 'Prod!' is not allowed: use a lower-case letter, then"
            " lower-case letters, digits or '-', at most 32 characters"
        )
    ]
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "qa")
    assert code == 1 and "environment 'qa' is not declared" in out
    assert applied_commit(db_dsn) is None


def test_quote_refuses_a_database_of_another_environment(repo: ConfigRepo, db_dsn: str) -> None:
    """`tonsurance quote --environment staging` on a production database is one line, exit 1."""
    from click.testing import CliRunner

    from tonsurance.cli.main import main as tonsurance_main

    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "production")
    run = CliRunner().invoke(
        tonsurance_main, ["quote", "USDC", "100000", "--dsn", db_dsn, "--environment", "staging"]
    )
    assert run.exit_code == 1
    assert run.output.strip().splitlines() == [
        (
            "tonsurance: error: the database serves the environment 'production', not 'staging';"
            " pass --environment production or another --dsn"
        )
    ]
    ok = CliRunner().invoke(
        tonsurance_main, ["quote", "USDC", "100000", "--dsn", db_dsn, "--environment", "production"]
    )
    assert ok.exit_code == 0, ok.output


def test_history_follows_the_environment(repo: ConfigRepo, db_dsn: str) -> None:
    """`syncd history --environment staging` lists the overlay commit that moved staging's value;
    for production the same value has no such entry."""
    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "staging")
    trial = with_staging_rate(repo)
    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "staging")
    name = "pricing.base_rate_USDC"
    code, staging = cli(
        "history", name, "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "staging"
    )
    assert code == 0, staging
    assert trial[:12] in staging and f"-> {staging_rate(repo)}" in staging
    code, production = cli(
        "history", name, "--repo", str(repo.path), "--dsn", db_dsn, "--environment", "production"
    )
    assert code == 0, production
    assert trial[:12] not in production
