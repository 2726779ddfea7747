"""`syncd revert` with environments: the result must validate in every environment, and the plan
printed is that of --environment."""

from __future__ import annotations

from click.testing import CliRunner

from syncd.cli.main import main
from tests.support import ConfigRepo, git

PRICING = "config/pricing.yaml"
STAGING = "config/environments/staging/pricing.yaml"


def revert(repo: ConfigRepo, *args: str):
    return CliRunner().invoke(
        main, ["revert", "--repo", str(repo.path), *args], catch_exceptions=False
    )


def test_a_revert_invalid_only_in_one_environment_is_refused(repo: ConfigRepo):
    """Reverting a raised default rate that a staging rate relies on breaks only staging: the
    revert is refused with staging's problem and the repository is left as it was."""
    raise_default = repo.change(PRICING, "default: 0.10", "default: 0.12")
    repo.write(STAGING, "base_rates:\n  USDC: 0.11\n")
    repo.commit("Staging tries a USDC rate between the old and the new default")
    head = repo.head()
    result = revert(repo, raise_default)
    assert result.exit_code == 1
    assert (
        "reverting" in result.stderr
        and "config/environments/staging/pricing.yaml:2:" in result.stderr
    )
    assert "in environment staging" in result.stderr
    assert repo.head() == head and git(repo.path, "status", "--porcelain") == ""


def test_revert_prints_the_plan_of_the_environment_asked_for(repo: ConfigRepo):
    """With --environment staging the plan shown is staging's: an overridden value does not move."""
    repo.write(STAGING, "base_rates:\n  USDT: 0.065\n")
    repo.commit("Staging has its own USDT rate")
    change = repo.change(PRICING, "USDT: 0.06", "USDT: 0.062")
    staging = revert(repo, change, "--environment", "staging", "--no-commit")
    assert staging.exit_code == 0, staging.output
    assert "base_rate_USDT" not in staging.stdout
    git(repo.path, "reset", "-q", "--hard", "HEAD")
    production = revert(repo, change, "--environment", "production", "--no-commit")
    assert production.exit_code == 0, production.output
    assert "pricing.base_rate_USDT: 0.062 -> 0.06" in production.stdout
