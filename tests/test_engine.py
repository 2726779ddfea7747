"""The sync engine on real git repositories and a real database: plan and apply semantics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from syncd.cli.main import main
from syncd.sync.database_state import read_state
from syncd.sync.pipeline import apply_commit, open_repo, prepare
from syncd.sync.transaction import apply_state
from tests.support import ConfigRepo, make_config_repo

PRICING = "config/pricing.yaml"
DEPEGS = "config/historical_depegs.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
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


def test_first_apply_fills_every_row(repo: ConfigRepo, db_dsn: str):
    """Applying HEAD to an empty database inserts every parameter and row with the commit's sha."""
    report = apply_commit(repo.path, "HEAD", db_dsn)
    assert report.outcome.outcome == "applied"
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
    assert report.outcome.outcome == "unchanged"
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


def test_empty_state_is_refused_by_the_applier(repo: ConfigRepo, db_dsn: str):
    """The applier itself refuses to empty the database unless allowed, whatever the validator says."""
    from tonsurance.config.state import ConfigState

    apply_commit(repo.path, "HEAD", db_dsn)
    info = prepare(open_repo(repo.path), "HEAD").info
    with psycopg.connect(db_dsn) as conn:
        refused = apply_state(conn, info, ConfigState())
        assert refused.outcome == "refused" and "--allow-empty" in refused.reason
        assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
        allowed = apply_state(conn, info, ConfigState(), allow_empty=True)
    assert allowed.outcome == "applied"
    assert value(db_dsn, "pricing", "base_rate_USDC") is None


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
    assert report.outcome.outcome == "applied"
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.05
    assert value(db_dsn, "pricing", "base_rate_USDT") == 0.065
    assert new != repo.head()


def test_drift_is_planned_and_put_back(repo: ConfigRepo, db_dsn: str):
    """A hand edit shows in plan, apply puts it back, and the audit row says it was a drift correction."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.09' where key = 'base_rate_USDC'")
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--detailed-exitcode")
    assert code == 2
    assert "pricing.base_rate_USDC: 0.09 -> 0.04" in out
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0 and "drift in the database was put back" in out
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04
    rows = [r for r in audit(db_dsn) if r[1] == "base_rate_USDC"]
    assert rows[-2][6] is True and rows[-2][7] == "drift"
    assert rows[-1][3:6] == (0.09, 0.04, repo.head()) and rows[-1][7] == "drift correction"


def test_plan_uses_one_normal_form(repo: ConfigRepo, db_dsn: str):
    """0.040 in the database equals 0.04 in YAML, and 90 stays an int: no permanent difference."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.040' where key = 'base_rate_USDC'")
        conn.execute(
            "update config_parameters set value = '25.00' where key = 'SURE-BTC_allocation_percent'"
        )
    code, out = cli("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--detailed-exitcode")
    assert code == 0, out
    assert "No changes" in out


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


def test_slower_writer_cannot_move_back(repo: ConfigRepo, db_dsn: str):
    """An apply prepared against an older applied commit is refused by the compare-and-set."""
    first = prepare(open_repo(repo.path), "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_state(conn, first.info, first.state, expected_applied=None)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    newer = prepare(open_repo(repo.path), "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_state(conn, newer.info, newer.state, expected_applied=first.info.sha)
        stale = apply_state(conn, first.info, first.state, expected_applied=first.info.sha)
    assert stale.outcome == "superseded"
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.05


def test_dry_run_changes_nothing(repo: ConfigRepo, db_dsn: str):
    """--dry-run prints the plan and leaves the database as it was."""
    code, out = cli("apply", "--repo", str(repo.path), "--dsn", db_dsn, "--dry-run")
    assert code == 0 and "to add" in out and "dry run" in out
    assert value(db_dsn, "pricing", "base_rate_USDC") is None
    assert applied_commit(db_dsn) is None


def test_plan_between_commits_needs_no_database(repo: ConfigRepo):
    """--base/--head compares two commits without any database."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
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
    assert "pricing.base_rate_USDC: 0.04 -> 0.05 (+25.0%)" in out


def test_status_reports_applied_and_drift(repo: ConfigRepo, db_dsn: str):
    """status shows the applied commit, the last attempt and drift after a hand edit."""
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("status", "--dsn", db_dsn)
    assert code == 0 and repo.head() in out and "drift:           none" in out
    with psycopg.connect(db_dsn) as conn:
        conn.execute("delete from config_parameters where key = 'base_rate_GHO'")
    code, out = cli("status", "--dsn", db_dsn, "--format", "json")
    import json

    status = json.loads(out)
    assert status["drift"] is True and status["drifted_rows"] == 1


def test_history_of_one_value(repo: ConfigRepo, db_dsn: str):
    """history lists each commit that changed a value and when it reached the database."""
    apply_commit(repo.path, "HEAD", db_dsn)
    first = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05", "Raise USDC")
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.061", "Unrelated change")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("history", "pricing.base_rate_USDC", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    assert "Raise USDC" in out and "0.04 -> 0.05" in out
    assert "Unrelated change" not in out
    assert first[:12] in out


def test_read_state_round_trips_the_commit(repo: ConfigRepo, db_dsn: str):
    """What apply writes reads back equal to the commit's desired state."""
    prepared = prepare(open_repo(repo.path), "HEAD")
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        assert read_state(conn) == prepared.state


def test_fast_diff_matches_the_full_diff(repo: ConfigRepo, db_dsn: str):
    """With the applied commit as base and no hand edit, the in-memory diff equals the full one."""
    from syncd.sync.database_diff import diff_database
    from syncd.sync.pipeline import apply_prepared

    git_repo = open_repo(repo.path)
    base = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_prepared(conn, git_repo, base)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(DEPEGS, "low_price: 0.96", "low_price: 0.955")
    head = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        from syncd.sync.database_state import read_sync_state
        from syncd.sync.transaction import fast_diff

        quick = fast_diff(conn, read_sync_state(conn), (base.info.sha, base.state), head.state)
        full = diff_database(conn, head.state)
    assert quick is not None
    assert quick == full and len(full.params) == 1 and len(full.rows) == 1


def test_fast_diff_declines_after_a_hand_edit(repo: ConfigRepo, db_dsn: str):
    """A hand edit since the last sync makes apply read the database back, so the drift is put back."""
    from syncd.sync.pipeline import apply_prepared

    git_repo = open_repo(repo.path)
    base = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        apply_prepared(conn, git_repo, base)
        conn.execute("update config_parameters set value = '0.2' where key = 'base_rate_GHO'")
        conn.commit()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    head = prepare(git_repo, "HEAD")
    with psycopg.connect(db_dsn) as conn:
        report = apply_prepared(conn, git_repo, head, base=base)
    assert {c.key for c in report.outcome.diff.params} == {"base_rate_USDC", "base_rate_GHO"}
    assert value(db_dsn, "pricing", "base_rate_GHO") == 0.065


def test_truncate_counts_as_drift(repo: ConfigRepo, db_dsn: str):
    """TRUNCATE bypasses row triggers but is still audited as drift, and apply restores the rows."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("truncate config_parameters")
    code, out = cli("status", "--dsn", db_dsn)
    assert "drift:           1 row changed by hand" in out
    apply_commit(repo.path, "HEAD", db_dsn)
    assert value(db_dsn, "pricing", "base_rate_USDC") == 0.04


def test_control_characters_in_keys_are_refused(db_dsn: str):
    """A parameter key with a control character cannot be inserted, even by hand."""
    with psycopg.connect(db_dsn) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into config_parameters (category, key, value, value_type) values"
                " ('pricing', e'bad\\x1fkey', '1.0', 'float')"
            )


def test_unmigrated_database_says_to_migrate(repo: ConfigRepo, empty_db_dsn: str):
    """A database without the schema gets one line telling the operator to run syncd migrate."""
    code, out = cli("status", "--dsn", empty_db_dsn)
    assert code == 3
    assert (
        out.strip()
        == "syncd: error: the database has no tonsurance tables yet; run `syncd migrate` against it first"
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


def test_drift_correction_keeps_the_refused_head_visible(repo: ConfigRepo, db_dsn: str):
    """Putting drift back re-applies the applied commit without hiding a refused head from status."""
    good = repo.head()
    apply_commit(repo.path, "HEAD", db_dsn)
    bad = repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    assert apply_commit(repo.path, "HEAD", db_dsn).outcome.outcome == "refused"
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.3' where key = 'base_rate_GHO'")
    assert apply_commit(repo.path, good, db_dsn).outcome.drift
    with psycopg.connect(db_dsn) as conn:
        state = conn.execute(
            "select applied_commit, attempted_commit, attempt_outcome from sync_state"
        ).fetchone()
        last_run = conn.execute(
            "select commit, outcome, message from sync_runs order by id desc limit 1"
        ).fetchone()
    assert state == (good, bad, "refused")
    assert last_run == (good, "applied", "drift correction")


def test_history_shows_drift_and_its_correction_in_order(repo: ConfigRepo, db_dsn: str):
    """history lists a hand edit and the correction that put it back, oldest first."""
    apply_commit(repo.path, "HEAD", db_dsn)
    with psycopg.connect(db_dsn) as conn:
        conn.execute("update config_parameters set value = '0.5' where key = 'base_rate_GHO'")
    apply_commit(repo.path, "HEAD", db_dsn)
    code, out = cli("history", "pricing.base_rate_GHO", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 0, out
    tail = out.splitlines()[-2:]
    assert tail[0].endswith("UPDATE 0.065 -> 0.5: changed by hand (drift)")
    assert tail[1].endswith(
        f"UPDATE 0.5 -> 0.065: put back by syncd to {repo.head()[:12]} (drift correction)"
    )


def test_history_of_an_unknown_key_fails(repo: ConfigRepo, db_dsn: str):
    """history of a key that never existed says so and exits 1."""
    code, out = cli("history", "pricing.base_rate_NOPE", "--repo", str(repo.path), "--dsn", db_dsn)
    assert code == 1 and "no commit on this branch defines it" in out
