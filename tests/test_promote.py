"""`syncd promote` and `syncd compare`: a promotion is a commit on a new branch that changes only the
lines of the promoted values, and its plan is what the pull request shows; bad requests change nothing."""

from __future__ import annotations

import difflib
import json

import pytest
import yaml
from click.testing import CliRunner

from syncd.cli.main import main
from tests.support import ConfigRepo, git
from tonsurance.config.render import validate_environment
from tonsurance.config.sources import SourceFiles

STAGING = "config/environments/staging/pricing.yaml"
PRODUCTION = "config/environments/production.yaml"
STAGING_TEXT = """\
# Staging tries new USDC and USDT rates first.
base_rates:
  USDC: 0.045  # after the reserve audit
  USDT: 0.065
"""
PRODUCTION_TEXT = """\
# Production: only what must differ from the base.

pricing:
  # kept below staging until the trial ends
  base_rates:
    USDC: 0.042   # interim
  minimum_premium:
    absolute_usd: 120
"""


@pytest.fixture
def environments_repo(repo: ConfigRepo, monkeypatch: pytest.MonkeyPatch) -> ConfigRepo:
    """The shipped configuration with a staging trial and a commented production overlay."""
    for name, value in (("NAME", "Ana Lyst"), ("EMAIL", "ana@tonsurance.test")):
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
    repo.write(STAGING, STAGING_TEXT)
    repo.write(PRODUCTION, PRODUCTION_TEXT)
    repo.commit("Staging trial; production interim rate")
    return repo


def syncd(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rendered(repo: ConfigRepo, rev: str, name: str) -> dict:
    files = {}
    for path in git(repo.path, "ls-tree", "-r", "--name-only", rev).splitlines():
        if path.startswith(("config/", "schemas/")):
            files[path] = git(repo.path, "show", f"{rev}:{path}").encode() + b"\n"
    result = validate_environment(SourceFiles(files=files), name)
    assert result.ok, [str(p) for p in result.problems]
    return result.state.values()


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_promote_writes_a_branch_changing_only_the_promoted_lines(environments_repo: ConfigRepo):
    """Promoting every differing value edits the production overlay in place: the comments,
    order and other lines stay, the working tree and branch do not move, and production then
    holds staging's values."""
    repo = environments_repo
    head = repo.head()
    code, out, err = syncd(
        "promote", "--from", "staging", "--to", "production", "--repo", str(repo.path)
    )
    assert code == 0, err
    branch = f"promote/staging-to-production-{head[:8]}"
    assert f"on the new branch {branch}" in err
    assert repo.head() == head and git(repo.path, "status", "--porcelain") == ""
    assert git(repo.path, "diff", "--name-only", head, branch).splitlines() == [PRODUCTION]
    after = git(repo.path, "show", f"{branch}:{PRODUCTION}") + "\n"
    removed, added = changed_lines(PRODUCTION_TEXT, after)
    staging_rates = yaml.safe_load(STAGING_TEXT)["base_rates"]
    simulations = yaml.safe_load(repo.file("config/environments/staging/risk.yaml").read_text())
    # production's own minimum premium goes (staging keeps the base's), its USDC rate takes
    # staging's in place, and what only staging overrides is added
    assert removed == [
        "    USDC: 0.042   # interim",
        "  minimum_premium:",
        "    absolute_usd: 120",
    ]
    assert added == [
        f"    USDC: {staging_rates['USDC']}   # interim",
        f"    USDT: {staging_rates['USDT']}",
        "risk:",
        f"  monte_carlo_simulations: {simulations['monte_carlo_simulations']}",
    ]
    staging, production = rendered(repo, head, "staging"), rendered(repo, branch, "production")
    before = rendered(repo, head, "production")
    moved = {k for k in before if before[k] != production[k]}
    assert moved and all(production[k] == staging[k] for k in moved)
    assert "~ pricing.base_rate_USDC" in out


def test_promote_named_keys_only_and_its_pull_request_plan(environments_repo: ConfigRepo):
    """With a KEY only that value moves, and `plan --base --head` of the branch shows production
    alone, with its premium impact."""
    repo = environments_repo
    head = repo.head()
    code, _, err = syncd(
        "promote",
        "--from",
        "staging",
        "--to",
        "production",
        "pricing.base_rate_USDT",
        "--repo",
        str(repo.path),
        "--branch",
        "usdt-to-production",
    )
    assert code == 0, err
    removed, added = changed_lines(
        PRODUCTION_TEXT, git(repo.path, "show", f"usdt-to-production:{PRODUCTION}") + "\n"
    )
    assert removed == [] and added == ["    USDT: 0.065"]
    code, md, err = syncd(
        "plan",
        "--repo",
        str(repo.path),
        "--base",
        head,
        "--head",
        "usdt-to-production",
        "--format",
        "markdown",
    )
    assert code == 0, err
    assert "Environments this change moves: `production`." in md
    assert "`pricing.base_rate_USDT`" in md and "### Premiums" in md
    assert "## Environment `staging`" not in md


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--from", "staging", "--to", "qa"), 1, "environment 'qa' is not declared"),
        (("--from", "Stag!", "--to", "production"), 2, "environment name 'Stag!' is not allowed"),
        (("--from", "staging", "--to", "staging"), 2, "the same environment"),
        (
            ("--from", "staging", "--to", "production", "risk.var_confidence_95"),
            2,
            "not a parameter (category.key) or row (table.id) that differs",
        ),
    ],
)
def test_bad_promotions_change_nothing(environments_repo: ConfigRepo, args, code, message):
    """Unknown or odd environments and keys that do not differ are one line; no branch appears."""
    repo = environments_repo
    branches = git(repo.path, "branch", "--list")
    result, _out, err = syncd("promote", *args, "--repo", str(repo.path))
    assert result == code and len(err.strip().splitlines()) == 1 and message in err, err
    assert git(repo.path, "branch", "--list") == branches


def test_promote_refuses_uncommitted_changes(environments_repo: ConfigRepo):
    """An edit not yet committed stops the promotion with one line, and nothing is written."""
    repo = environments_repo
    repo.replace(STAGING, "USDT: 0.065", "USDT: 0.07")
    branches = git(repo.path, "branch", "--list")
    code, _, err = syncd(
        "promote", "--from", "staging", "--to", "production", "--repo", str(repo.path)
    )
    assert code == 1
    assert err.strip() == (
        "syncd: error: the working tree has uncommitted changes; commit or stash them first"
        " (promote writes its commit from HEAD)"
    )
    assert git(repo.path, "branch", "--list") == branches


def test_compare_lists_every_difference_with_its_impact(environments_repo: ConfigRepo):
    """`syncd compare staging production` names each differing value with B's and A's side, and
    the JSON carries the premium impact of moving production to staging's values."""
    repo = environments_repo
    code, out, _ = syncd(
        "compare", "staging", "production", "--repo", str(repo.path), "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    staging, production = rendered(repo, "HEAD", "staging"), rendered(repo, "HEAD", "production")
    differ = {f"{c}.{k}" for (c, k) in staging if staging[(c, k)] != production[(c, k)]}
    assert {f"{p['category']}.{p['key']}" for p in data["parameters"]} == differ
    for p in data["parameters"]:
        assert (p["old"], p["new"]) == (
            production[(p["category"], p["key"])],
            staging[(p["category"], p["key"])],
        )
    assert data["impact"]["premiums"] and data["a"]["environment"] == "staging"
    head = repo.head()
    repo.change(STAGING, "USDT: 0.065", "USDT: 0.07")
    code, out, _ = syncd("compare", "staging", f"staging@{head}", "--repo", str(repo.path))
    assert code == 0 and "pricing.base_rate_USDT: 0.065 -> 0.07" in out
    code, _, err = syncd("compare", "qa", "production", "--repo", str(repo.path))
    assert code == 1 and "environment 'qa' is not declared" in err
