"""The sync pipeline (syncd.sync.pipeline) through `syncd apply` and `syncd plan`: read a commit, validate, plan, apply."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from syncd.cli.main import main
from syncd.sync.pipeline import apply_commit
from tests.support import ConfigRepo, applied_commit, audit, table_dump, value
from tests.support import syncd_cli as cli
from tonsurance.db import no_tables

PRICING = "config/pricing.yaml"
DEPEGS = "config/historical_depegs.yaml"


def test_first_apply_fills_every_row(repo: ConfigRepo, db_dsn: str):
    """Applying HEAD to an empty database inserts every parameter and row with the commit's sha
    (production: the base without changes)."""
    report = apply_commit(repo.path, "HEAD", db_dsn, environment="production")
    assert report.outcome == "applied"
    assert report.lineage == "first"
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
    assert value(db_dsn, "risk", "monte_carlo_simulations") == 10000
    assert applied_commit(db_dsn) == repo.head()
    rows = audit(db_dsn)
    assert rows and all(r[5] == repo.head() and not r[6] for r in rows)


def test_same_commit_twice_writes_nothing(repo: ConfigRepo, db_dsn: str):
    """Applying the same commit again changes nothing and writes no audit row."""
    apply_commit(repo.path, "HEAD", db_dsn)
    before = audit(db_dsn)
    report = apply_commit(repo.path, "HEAD", db_dsn)
    assert report.outcome == "unchanged"
    assert audit(db_dsn) == before


def test_revert_restores_exactly(repo: ConfigRepo, db_dsn: str):
    """git revert of a change, applied, restores the previous values and the audit log shows both commits."""
    apply_commit(repo.path, "HEAD", db_dsn)
    original = table_dump(db_dsn)
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    apply_commit(repo.path, "HEAD", db_dsn)
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.045
    revert = repo.revert(change)
    apply_commit(repo.path, "HEAD", db_dsn)
    assert table_dump(db_dsn) == original
    usdc = [r for r in audit(db_dsn) if r[1] == "base_rate_USDC" and r[2] == "UPDATE"]
    assert [(r[3], r[4], r[5]) for r in usdc] == [(0.04, 0.045, change), (0.045, 0.04, revert)]


def test_skipping_commits_gives_the_same_database(repo: ConfigRepo, db_dsn: str, tmp_path: Path):
    """Applying A then D gives the same database as applying A, B, C, D in turn."""
    from syncd.sync.migrate import migrate
    from tests.support import fresh_database

    a = repo.head()
    b = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    c = repo.change(PRICING, "USDT: 0.06", "USDT: 0.065")
    d = repo.change(PRICING, "USDC: 0.05", "USDC: 0.042")
    with fresh_database() as stepwise:
        migrate(stepwise)
        for sha in (a, b, c, d):
            apply_commit(repo.path, sha, stepwise)
        apply_commit(repo.path, a, db_dsn)
        apply_commit(repo.path, d, db_dsn)
        assert table_dump(db_dsn) == table_dump(stepwise)


def test_force_push_is_followed_and_reported(repo: ConfigRepo, db_dsn: str):
    """After history is rewritten the database follows the new commit, and apply says it does not descend."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    cli("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    from tests.support import git

    git(repo.path, "reset", "-q", "--hard", base)
    rewritten = repo.change(PRICING, "USDT: 0.06", "USDT: 0.07", push=False)
    repo.push(force=True)
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    assert "does not descend from the applied commit" in out
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
    assert value(db_dsn, "pricing", "base_rate_USDT") == 0.07
    assert applied_commit(db_dsn) == rewritten


def test_invalid_commit_changes_nothing_and_is_recorded(repo: ConfigRepo, db_dsn: str):
    """A commit that fails validation changes nothing; the attempt and its reason are recorded."""
    good = repo.head()
    apply_commit(repo.path, "HEAD", db_dsn)
    before = table_dump(db_dsn)
    bad = repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 1
    assert "base_rates.USDC: -0.04 is less than the minimum of 0" in out
    assert table_dump(db_dsn) == before
    with psycopg.connect(db_dsn) as conn:
        state = conn.execute(
            "select applied_commit, attempted_commit, attempt_outcome, attempt_error from sync_state"
        ).fetchone()
    assert state[:3] == (good, bad, "refused")
    assert "base_rates.USDC" in state[3]


def test_emptying_commit_is_refused(repo: ConfigRepo, db_dsn: str):
    """A commit that empties every file is refused, even with --allow-empty, because the schemas require content."""
    apply_commit(repo.path, "HEAD", db_dsn)
    before = table_dump(db_dsn)
    for name in ("pricing", "risk", "tranche"):
        repo.write(f"config/{name}.yaml", "{}\n")
    for name, key in (("historical_depegs", "events"), ("stress_scenarios", "scenarios")):
        repo.write(f"config/{name}.yaml", f"{key}: []\n")
    repo.commit("Remove everything")
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--allow-empty")
    assert code == 1 and "is a required property" in out
    assert table_dump(db_dsn) == before


def test_database_lost_mid_apply_keeps_previous_state(repo: ConfigRepo, db_dsn: str):
    """A connection killed in the middle of an apply leaves the previous state whole; the next apply completes."""
    apply_commit(repo.path, "HEAD", db_dsn)
    before = table_dump(db_dsn)
    new = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.065")
    blocker = psycopg.connect(db_dsn)
    blocker.execute("select 1 from config_parameters where key = 'base_rate_USDT' for update")
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = CliRunner().invoke(
            main, ["apply", "--repo", str(repo.path), "--dsn", db_dsn]
        )

    worker = threading.Thread(target=run)
    worker.start()
    with psycopg.connect(db_dsn, autocommit=True) as admin:
        deadline = time.monotonic() + 10
        pid = None
        while pid is None and time.monotonic() < deadline:
            row = admin.execute(
                "select pid from pg_stat_activity where wait_event_type = 'Lock'"
                " and datname = current_database() and query ilike '%config_parameters%'"
            ).fetchone()
            pid = row[0] if row else None
            time.sleep(0.05)
        assert pid is not None, "the apply never blocked inside its transaction"
        admin.execute("select pg_terminate_backend(%s)", (pid,))
    worker.join(10)
    blocker.rollback()
    blocker.close()
    assert outcome["result"].exit_code == 3
    assert table_dump(db_dsn) == before
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
    report = apply_commit(repo.path, "HEAD", db_dsn)
    assert report.outcome == "applied"
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.05
    assert value(db_dsn, "pricing", "base_rate_USDT") == 0.065
    assert new != repo.head()


def test_table_rows_are_added_changed_and_removed(repo: ConfigRepo, db_dsn: str):
    """Depeg rows follow the file: an added, a changed and a removed event show in plan and apply."""
    import yaml

    apply_commit(repo.path, "HEAD", db_dsn)
    document = yaml.safe_load(repo.file(DEPEGS).read_text())
    events = document["events"]
    removed = events.pop()
    changed = events[0]
    changed["low_price"] = round(changed["low_price"] - 0.005, 4)
    added = dict(events[1], id="usdc-test-2024", start_date="2024-01-02")
    events.append(added)
    header = repo.file(DEPEGS).read_text().splitlines()[0]
    repo.write(DEPEGS, header + "\n" + yaml.safe_dump(document, sort_keys=False))
    repo.commit("Edit the depeg history")
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    assert "+ historical_depegs[usdc-test-2024]" in out
    assert f"- historical_depegs[{removed['id']}]" in out
    assert f"~ historical_depegs[{changed['id']}]: low_price:" in out
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        ids = {r[0] for r in conn.execute("select id from historical_depegs").fetchall()}
        price = conn.execute(
            "select low_price from historical_depegs where id = %s", (changed["id"],)
        ).fetchone()
    assert "usdc-test-2024" in ids and removed["id"] not in ids
    assert price == (changed["low_price"],)


def test_dry_run_changes_nothing(repo: ConfigRepo, db_dsn: str):
    """--dry-run prints the plan and leaves the database as it was."""
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--dry-run")
    assert code == 0 and "to add" in out and "dry run" in out
    assert value(db_dsn, "pricing", "base_rate_USDC") is None
    assert applied_commit(db_dsn) is None


def test_plan_between_commits_needs_no_database(repo: ConfigRepo):
    """--base/--head compares two commits without any database."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.045")
    code, out = cli(
        "plan",
        "--repo",
        str(repo.path),
        "--base",
        base,
        "--head",
        "HEAD",
        "--dsn",
        "postgresql://nobody@127.0.0.1:1/x",
    )
    assert code == 0, out
    assert "pricing.base_rate_USDC: 0.04 -> 0.045 (+12.5%)" in out


def test_unmigrated_database_says_to_migrate(repo: ConfigRepo, empty_db_dsn: str):
    """A database without the schema gets one line telling the operator to run syncd migrate."""
    code, out = cli("status", "--dsn", empty_db_dsn)
    assert code == 3
    assert (
        out.strip()
        == f"syncd: error: {no_tables(empty_db_dsn)}"
    )


def test_detailed_exitcode_reports_errors_as_one(repo: ConfigRepo, db_dsn: str):
    """With --detailed-exitcode, 2 means changes only: a bad revision exits 1, as terraform does."""
    code, out = cli(
        "plan",
        "--repo",
        str(repo.path),
        "--dsn",
        db_dsn,
        "--commit",
        "nosuch",
        "--detailed-exitcode",
    )
    assert code == 1 and "unknown revision 'nosuch'" in out
    code, _ = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--commit", "nosuch")
    assert code == 2


def test_refused_url_hides_credentials():
    """A refused repository address never shows its password."""
    from syncd.sync.gitsource import check_url
    from tonsurance.errors import UsageProblem

    with pytest.raises(UsageProblem) as info:
        check_url("ext::https://user:s3cret@example.invalid/x")
    assert "s3cret" not in str(info.value)
