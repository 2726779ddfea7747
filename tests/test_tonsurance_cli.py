"""The `tonsurance` command, driven through click's runner and once as the installed script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from click.testing import CliRunner

from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, free_port, make_config_repo
from tonsurance.cli.main import main
from tonsurance.config import ConfigLoader, Snapshot
from tonsurance.config.filedefaults import load_file_defaults
from tonsurance.db import no_tables
from tonsurance.pricing import calculate_premium

PRICING = "config/pricing.yaml"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def premium_cents(output: str) -> int:
    """The premium line of a quote, in cents."""
    match = re.search(r"^premium\s+([\d,]+)\.(\d\d) USD$", output, re.MULTILINE)
    assert match, output
    return int(match.group(1).replace(",", "")) * 100 + int(match.group(2))


def database_snapshot(dsn: str) -> Snapshot:
    """The snapshot a loader reads from the database, its connection closed afterwards."""
    loader = ConfigLoader(dsn, listen=False).start(background=False)
    loader.stop()
    assert loader.snapshot.source == "database"
    return loader.snapshot


def dead_dsn() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=2"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def test_quote_matches_pricing_on_the_database_snapshot(db_dsn: str, repo: ConfigRepo) -> None:
    """The quoted premium is what tonsurance.pricing computes on the database's snapshot."""
    sha = repo.change(PRICING, "USDC: 0.04", "USDC: 0.0525")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out, err = run("quote", "USDC", "100000", "--days", "90", "--dsn", db_dsn)
    assert code == 0, err
    snap = database_snapshot(db_dsn)
    expected = calculate_premium(snap, "USDC", 100000.0, 90).premium_cents
    assert premium_cents(out) == expected
    assert (
        expected
        != calculate_premium(load_file_defaults().snapshot, "USDC", 100000.0, 90).premium_cents
    )
    assert f"commit {sha}" in out
    assert "base rate          0.052500" in out
    assert err == ""


def test_quote_lasts_the_configured_base_duration_by_default(db_dsn: str, repo: ConfigRepo) -> None:
    """Without --days a quote covers the configuration's duration_base_days, not a fixed 90."""
    repo.change(PRICING, "duration_base_days: 90", "duration_base_days: 60")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out, err = run("quote", "USDC", "100000", "--dsn", db_dsn)
    assert code == 0, err
    assert "of coverage for 60 days" in out and "(sqrt(60 / 60))" in out
    expected = calculate_premium(database_snapshot(db_dsn), "USDC", 100000.0, 60).premium_cents
    assert premium_cents(out) == expected


def test_quote_options_reach_the_formula(db_dsn: str, repo: ConfigRepo) -> None:
    """--trigger and --utilization change the premium exactly as calculate_premium does."""
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out, _ = run(
        "quote",
        "DAI",
        "2500000",
        "--days",
        "180",
        "--trigger",
        "0.95",
        "--utilization",
        "0.8",
        "--dsn",
        db_dsn,
    )
    assert code == 0
    snap = database_snapshot(db_dsn)
    quote = calculate_premium(snap, "DAI", 2_500_000.0, 180, 0.95, utilization=0.8)
    assert premium_cents(out) == quote.premium_cents
    assert quote.utilization_multiplier == 1.25 and quote.trigger_factor < 1
    assert "utilization mult.  1.250000" in out


def test_quote_without_database_uses_file_defaults() -> None:
    """Without a database the quote uses the file defaults, says so on stderr, and exits 0."""
    code, out, err = run("quote", "USDC", "100000", "--dsn", dead_dsn())
    assert code == 0
    expected = calculate_premium(load_file_defaults().snapshot, "USDC", 100000.0, 90).premium_cents
    assert premium_cents(out) == expected
    assert "configuration: file defaults in" in out
    assert err.startswith(
        "tonsurance: warning: using the file defaults; cannot connect to PostgreSQL"
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quote", "USDC", "0"], "coverage must be a positive amount"),
        (["quote", "USDC", "inf"], "coverage must be a finite number"),
        (["quote", "USDC", "1000", "--trigger", "1.5"], "trigger price must be in (0, 1]"),
        (["quote", "USDC", "1000", "--utilization", "nan"], "utilization must be a finite number"),
    ],
)
def test_bad_quote_input_is_a_usage_error(args: list[str], message: str) -> None:
    """A quote input outside its range is one error line and exit code 2."""
    code, out, err = run(*args, "--dsn", dead_dsn())
    assert code == 2
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("tonsurance: error: ") and message in last


def test_click_usage_errors_exit_2() -> None:
    """A missing argument or a days count below one is a usage error."""
    assert run("quote", "USDC")[0] == 2
    assert run("quote", "USDC", "1000", "--days", "0")[0] == 2


def undefined_table(dsn: str) -> psycopg.errors.UndefinedTable:
    """The driver's own error for a query on a table that the database does not have."""
    with psycopg.connect(dsn) as conn:
        try:
            conn.execute("select applied_commit from sync_state")
        except psycopg.errors.UndefinedTable as exc:
            return exc
    raise AssertionError("sync_state exists in an unmigrated database")


def failing_with(exc: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    def load(dsn: str | None, environment: str | None = None) -> NoReturn:
        raise exc

    monkeypatch.setattr("tonsurance.cli.main.load_snapshot", load)


def test_missing_tables_say_to_run_migrate(
    empty_db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver error for a missing table is one line telling to run `syncd migrate`, exit 3."""
    failing_with(undefined_table(empty_db_dsn), monkeypatch)
    code, out, err = run("quote", "USDC", "1000", "--dsn", empty_db_dsn)
    assert code == 3 and out == ""
    assert err == f"tonsurance: error: {no_tables(empty_db_dsn)}\n"
    assert "syncd migrate" in err


@pytest.mark.parametrize(
    ("error", "code", "start"),
    [
        (psycopg.OperationalError, 3, "tonsurance: error: lost the database connection: "),
        (RuntimeError, 1, "tonsurance: error: unexpected RuntimeError: "),
    ],
)
def test_error_lines_never_show_a_password(
    error: type[Exception], code: int, start: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password inside an error's message is shown as *** on the one error line."""
    message = "failed for host=db user=app\n password=hunter2 sslmode=require"
    failing_with(error(message), monkeypatch)
    exit_code, _, err = run("quote", "USDC", "1000")
    assert exit_code == code
    assert err == f"{start}failed for host=db user=app password=*** sslmode=require\n"


def test_unmigrated_database_falls_back_with_the_migrate_hint(empty_db_dsn: str) -> None:
    """A quote against a database without the tables uses the file defaults and says to run
    `syncd migrate`."""
    code, out, err = run("quote", "USDC", "100000", "--dsn", empty_db_dsn)
    assert code == 0
    assert "configuration: file defaults in" in out
    assert err.startswith("tonsurance: warning: using the file defaults; cannot read")
    assert err.rstrip().endswith("run `syncd migrate` against it first")


def test_malformed_dsn_is_a_usage_error() -> None:
    """A malformed database address is a usage error, not a silent fallback to files."""
    code, _, err = run("quote", "USDC", "1000", "--dsn", "postgresql://[bad")
    assert code == 2
    assert "neither a key=value connection string nor a postgresql:// URL" in err


def test_installed_script_quotes(db_dsn: str, repo: ConfigRepo) -> None:
    """The `tonsurance` entry point installed in the environment prints the same premium."""
    apply_commit(repo.path, "HEAD", db_dsn)
    script = Path(sys.executable).parent / "tonsurance"
    done = subprocess.run(
        [str(script), "quote", "USDT", "50000", "--days", "30", "--dsn", db_dsn],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    snap = database_snapshot(db_dsn)
    assert premium_cents(done.stdout) == calculate_premium(snap, "USDT", 50000.0, 30).premium_cents


def test_quote_takes_risk_scores_and_loss_ratio():
    """--risk-score and --loss-ratio reach the premium formula: the cents equal calculate_premium's with them."""
    from click.testing import CliRunner

    from tonsurance.cli.main import main as tonsurance_main
    from tonsurance.config.layout import default_root
    from tonsurance.config.snapshot import snapshot_from_state
    from tonsurance.config.sources import read_directory
    from tonsurance.config.validation import validate_sources
    from tonsurance.pricing import calculate_premium

    state = validate_sources(read_directory(default_root())).state
    assert state is not None
    expected = calculate_premium(
        snapshot_from_state(state),
        "USDT",
        500_000,
        90,
        risk_scores={"reserve_quality": 0.5, "regulatory_clarity": 1.0},
        loss_ratio=0.6,
    )
    plain = calculate_premium(snapshot_from_state(state), "USDT", 500_000, 90)
    assert expected.premium_cents != plain.premium_cents
    result = CliRunner().invoke(
        tonsurance_main,
        [
            "quote",
            "USDT",
            "500000",
            "--days",
            "90",
            "--risk-score",
            "reserve_quality=0.5",
            "--risk-score",
            "regulatory_clarity=1",
            "--loss-ratio",
            "0.6",
            "--dsn",
            "postgresql://nobody@127.0.0.1:1/x",
        ],
    )
    assert result.exit_code == 0, result.output
    dollars = f"{expected.premium_cents // 100:,}.{expected.premium_cents % 100:02d} USD"
    assert f"premium              {dollars}" in result.output


def test_malformed_risk_score_is_a_usage_error():
    """A --risk-score without FACTOR=SCORE is one line and exit 2."""
    from click.testing import CliRunner

    from tonsurance.cli.main import main as tonsurance_main

    result = CliRunner().invoke(
        tonsurance_main, ["quote", "USDC", "1000", "--risk-score", "reserve_quality"]
    )
    assert result.exit_code == 2
    assert "expected FACTOR=SCORE" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["USDC", "1000", "--utilization", "1.5"], "--utilization must be between 0 and 1, got 1.5"),
        (["USDC", "-5"], "coverage must be a positive amount of USD, got -5"),
        (["USDC", "0"], "coverage must be a positive amount of USD, got 0"),
        (["USDC", "1000", "--days", "0"], "--days must be 1 or more, got 0"),
        (["USDC", "1000", "--trigger", "-0.5"], "trigger price must be in (0, 1], got -0.5"),
        (["USDC", "1000", "--loss-ratio", "-1"], "--loss-ratio must be 0 or more, got -1"),
        (
            ["USDC", "1000", "--risk-score", "reserve_quality=2"],
            "--risk-score 'reserve_quality=2': the score must be between 0 and 1",
        ),
    ],
)
def test_out_of_range_inputs_are_one_line_usage_errors(args: list[str], message: str) -> None:
    """Each input outside the range its help names is refused in one line, exit 2, before any
    database is read; a negative amount reads as an amount, not as an unknown option."""
    code, out, err = run("quote", *args, "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2 and out == ""
    assert err == f"tonsurance: error: {message}\n"


def test_an_asset_in_the_wrong_case_is_refused_with_the_right_spelling() -> None:
    """`usdc` is not priced at the default rate: it is refused with the symbol's spelling."""
    code, out, err = run("quote", "usdc", "1000", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == (
        "tonsurance: error: no asset 'usdc': asset symbols are case-sensitive; did you mean USDC?"
    )
