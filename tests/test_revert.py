"""`syncd revert SHA`: a rollback commit that gives back the previous values, is validated before
it is kept, and goes to the database like any other commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import git as gitpython
import psycopg
import pytest
from click.testing import CliRunner, Result

from syncd.cli.main import main
from syncd.errors import GitUnavailable
from syncd.review.revert import _abort
from syncd.sync.pipeline import apply_commit, open_repo, prepare
from tests.support import ConfigRepo, git, make_config_repo

PRICING = "config/pricing.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    made = make_config_repo(tmp_path / "repo")
    git(made.path, "config", "user.name", "On-call Operator")
    git(made.path, "config", "user.email", "oncall@tonsurance.test")
    return made


def revert(repo: ConfigRepo, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["revert", "--repo", str(repo.path), *args], catch_exceptions=False
    )


def untouched(repo: ConfigRepo, head: str, pricing: str) -> None:
    assert repo.head() == head
    assert git(repo.path, "status", "--porcelain") == ""
    assert repo.file(PRICING).read_text() == pricing
    assert not (repo.path / ".git/REVERT_HEAD").exists()


def test_revert_gives_back_the_previous_values(repo: ConfigRepo):
    """Reverting a base-rate change commits a revert whose configuration equals the one before it,
    and prints its plan with the impact."""
    before = repo.head()
    bad = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(PRICING, "GHO: 0.065", "GHO: 0.066")
    result = revert(repo, bad[:10])
    assert result.exit_code == 0, result.output
    head = repo.head()
    assert git(repo.path, "rev-parse", "HEAD~1") != head
    assert f"This reverts commit {bad}." in git(repo.path, "log", "-1", "--format=%B")
    assert "~ pricing.base_rate_USDC: 0.05 -> 0.04 (-20.0%)" in result.stdout
    assert "USDC $250,000 90d:" in result.stdout
    assert f"Committed the revert of {bad[:12]}" in result.stderr
    git_repo = open_repo(repo.path)
    values = prepare(git_repo, head).state.values()
    assert (
        values[("pricing", "base_rate_USDC")]
        == prepare(git_repo, before).state.values()[("pricing", "base_rate_USDC")]
    )
    assert values[("pricing", "base_rate_GHO")] == 0.066
    assert git(repo.path, "status", "--porcelain") == ""


def test_invalid_result_is_refused_and_the_repository_left_as_it_was(repo: ConfigRepo):
    """A revert whose result breaks a business rule is aborted: same HEAD, clean tree, exit 1."""
    raise_default = repo.change(PRICING, "default: 0.10", "default: 0.15")
    repo.change(PRICING, "FRAX: 0.08", "FRAX: 0.12")
    head, pricing = repo.head(), repo.file(PRICING).read_text()
    result = revert(repo, raise_default)
    assert result.exit_code == 1
    assert (
        f"syncd: error: reverting {raise_default[:12]} gives an invalid configuration"
        in result.stderr
    )
    assert "base_rates.default" in result.stderr and "FRAX" in result.stderr
    untouched(repo, head, pricing)


def test_no_commit_leaves_the_revert_staged(repo: ConfigRepo):
    """--no-commit stages the validated revert and moves no branch."""
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    result = revert(repo, change, "--no-commit", "--format", "json")
    assert result.exit_code == 0, result.output
    assert repo.head() == change
    assert git(repo.path, "diff", "--cached", "--name-only") == PRICING
    [param] = json.loads(result.stdout)["parameters"]
    assert (param["key"], param["old"], param["new"]) == ("base_rate_USDC", 0.05, 0.04)
    assert "Staged the revert" in result.stderr


def test_conflicting_revert_is_aborted(repo: ConfigRepo):
    """A revert that conflicts with a later change of the same line is aborted, nothing changed."""
    first = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(PRICING, "USDC: 0.05", "USDC: 0.045")
    head, pricing = repo.head(), repo.file(PRICING).read_text()
    result = revert(repo, first)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith(f"syncd: error: reverting {first[:12]} conflicts with later changes")
    assert f"git log --oneline {first[:12]}..HEAD -- {PRICING}" in line
    assert "Rollback runbook" in line and len(result.stderr.strip().splitlines()) == 1
    untouched(repo, head, pricing)


def test_a_large_revert_is_judged_and_the_label_advised(repo: ConfigRepo):
    """A revert that moves a value by more than the limit is judged by the guardrails like any
    change, and the advice names the label the shipped policy accepts; no overrider is listed,
    so it says no trailer counts."""
    big = repo.change(PRICING, "USDC: 0.04", "USDC: 0.1")
    result = revert(repo, big, "--format", "json")
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)["guardrails"]
    assert [f["subject"] for f in checks["findings"]] == ["pricing.base_rate_USDC"]
    assert checks["override"] is None
    err = result.stderr
    assert "syncd: warning: guardrail: dev: pricing.base_rate_USDC: 0.1 -> 0.04" in err
    assert "add the label config-override to its pull request" in err
    assert "lists no overriders" in err


def test_every_environment_judges_the_revert(repo: ConfigRepo):
    """A revert that only production's tighter limit flags is still flagged, as the pull
    request's check (which judges every environment) would flag it."""
    moved = repo.change(PRICING, "USDT: 0.06", "USDT: 0.095")
    result = revert(repo, moved)
    assert result.exit_code == 0, result.output
    lines = [x for x in result.stderr.splitlines() if "guardrail:" in x]
    assert lines and all(": production: pricing.base_rate_USDT" in x for x in lines), lines
    assert "in production)" in result.stderr


def test_the_advice_follows_the_policy_overriders(repo: ConfigRepo):
    """With overriders listed and the label turned off in the policy, the advice is the exact
    signed trailer commit for one of them, and no label."""
    policy = (Path(__file__).resolve().parents[1] / ".github/config-policy.yaml").read_text()
    repo.write(
        ".github/config-policy.yaml",
        policy + "\noverrides:\n  principals: [cro@tonsurance.test]\n  label: false\n",
    )
    repo.commit("Overrides need the CRO")
    big = repo.change(PRICING, "USDC: 0.04", "USDC: 0.1")
    result = revert(repo, big)
    assert result.exit_code == 0, result.output
    short = big[:12]
    assert "config-override" not in result.stderr
    assert "(cro@tonsurance.test) who made none of this change" in result.stderr
    assert (
        f'git commit --allow-empty -S -m "Accept the rollback of {short}"'
        f' --trailer "Config-Override: rollback of {short}"'
    ) in result.stderr


def test_a_merge_commit_is_reverted_against_its_first_parent(repo: ConfigRepo):
    """Reverting a merge commit (a pull request merged with a merge commit) undoes what the
    merge brought to main, and never shows git's "-m option" message."""
    git(repo.path, "switch", "-q", "-c", "usdt")
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.07", push=False)
    git(repo.path, "switch", "-q", "main")
    repo.change("config/risk.yaml", "depeg_threshold: 0.99", "depeg_threshold: 0.98", push=False)
    git(repo.path, "merge", "-q", "--no-ff", "--no-edit", "usdt")
    merge = repo.head()
    result = revert(repo, merge)
    assert result.exit_code == 0, result.output
    assert "-m option" not in result.output
    assert "a merge: reverted against its first parent" in result.stderr
    text = repo.file(PRICING).read_text()
    assert "USDT: 0.06" in text
    assert "depeg_threshold: 0.98" in repo.file("config/risk.yaml").read_text()


def test_git_failing_while_validating_aborts_the_revert(
    repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch
):
    """A git error while the reverted commit is read back aborts the revert: exit 3, nothing
    changed."""
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    head, pricing = repo.head(), repo.file(PRICING).read_text()

    def unreadable(*args: object) -> NoReturn:
        raise GitUnavailable("reading the trial commit from git failed: object store gone")

    monkeypatch.setattr("syncd.review.revert.prepare", unreadable)
    monkeypatch.setattr("syncd.review.revert.prepare_environments", unreadable)
    result = revert(repo, change)
    assert result.exit_code == 3
    assert "syncd: error: reading the trial commit from git failed" in result.stderr
    untouched(repo, head, pricing)


def test_git_failing_to_write_the_tree_aborts_the_revert(
    repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch
):
    """A failing `git write-tree` after the revert started is one error line, exit 3, and the
    revert is aborted."""
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    head, pricing = repo.head(), repo.file(PRICING).read_text()

    def write_tree(self: gitpython.Git, *args: object) -> NoReturn:
        raise gitpython.GitCommandError(["git", "write-tree"], 128, b"fatal: disk full")

    monkeypatch.setattr(gitpython.Git, "write_tree", write_tree, raising=False)
    result = revert(repo, change)
    assert result.exit_code == 3
    assert f"git could not record the revert of {change[:12]}: disk full" in result.stderr
    untouched(repo, head, pricing)


def test_abort_never_raises_when_git_cannot_abort(repo: ConfigRepo):
    """With the index locked, neither `revert --abort` nor `reset --merge` works, and the abort
    gives up quietly so the error that caused it is the one reported."""
    (repo.path / ".git" / "index.lock").write_text("")
    _abort(open_repo(repo.path))
    assert (repo.path / ".git" / "index.lock").exists()


def test_staged_changes_block_the_revert(repo: ConfigRepo):
    """Work already staged in the index is never mixed into a revert: usage error, exit 2."""
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.replace(PRICING, "DAI: 0.05", "DAI: 0.055")
    git(repo.path, "add", PRICING)
    result = revert(repo, change)
    assert result.exit_code == 2
    assert "staged changes" in result.stderr
    assert repo.head() == change


def test_reverting_twice_changes_nothing(repo: ConfigRepo):
    """Reverting a commit that is already reverted is refused: it would change nothing."""
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    assert revert(repo, change).exit_code == 0
    head, pricing = repo.head(), repo.file(PRICING).read_text()
    result = revert(repo, change)
    assert result.exit_code == 1
    assert "changes nothing" in result.stderr or "nothing changed" in result.stderr
    untouched(repo, head, pricing)


def test_pushed_revert_is_applied_and_audited_with_both_commits(repo: ConfigRepo, db_dsn: str):
    """After the push, applying the revert puts the old value back and the audit log shows the
    change and its revert, each with its commit."""
    assert apply_commit(repo.path, "HEAD", db_dsn).outcome == "applied"
    change = repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    assert apply_commit(repo.path, "HEAD", db_dsn).outcome == "applied"
    assert revert(repo, change).exit_code == 0
    repo.push()
    rollback = repo.head()
    assert apply_commit(repo.remote, "main", db_dsn).outcome == "applied"
    with psycopg.connect(db_dsn) as conn:
        value = conn.execute(
            "select value from config_parameters where category = 'pricing' and key = 'base_rate_USDC'"
        ).fetchone()
        audit = conn.execute(
            "select commit_sha, old_value, new_value from config_audit_log"
            " where category = 'pricing' and key = 'base_rate_USDC' and action = 'UPDATE' order by id"
        ).fetchall()
    assert value == (0.04,)
    assert audit == [(change, 0.04, 0.05), (rollback, 0.05, 0.04)]
