"""`syncd plan --base --head` over environments: a base change moves every environment that does
not override it, an overlay change moves only its environment, and production's stricter
guardrails flag what the others allow."""

from __future__ import annotations

import json

from click.testing import CliRunner

from syncd.cli.main import main
from tests.support import ConfigRepo

PRICING = "config/pricing.yaml"
STAGING = "config/environments/staging/pricing.yaml"


def plan(repo: ConfigRepo, base: str, *args: str):
    argv = ["plan", "--repo", str(repo.path), "--base", base, "--head", "HEAD", *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def test_a_base_change_moves_the_environments_that_do_not_override_it(repo: ConfigRepo):
    """Staging overrides USDT, so a base USDT change moves dev and production only."""
    repo.write(STAGING, "base_rates:\n  USDT: 0.065\n")
    base = repo.commit("Staging has its own USDT rate")
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.062")
    result = plan(repo, base, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["changed"] == ["dev", "production"]
    for name in ("dev", "production"):
        (change,) = data["environments"][name]["parameters"]
        assert (change["key"], change["old"], change["new"]) == ("base_rate_USDT", 0.06, 0.062)
    assert data["environments"]["staging"]["parameters"] == []


def test_an_overlay_change_moves_only_its_environment(repo: ConfigRepo):
    """A change to staging's overlay is staging's alone, in the markdown the pull request shows."""
    base = repo.head()
    repo.write(STAGING, "base_rates:\n  USDT: 0.065\n")
    repo.commit("Try a USDT rate in staging")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "Environments this change moves: `staging`." in result.stdout
    assert "Unchanged: `dev`, `production`." in result.stdout
    assert "## Environment `staging`" in result.stdout and "### Premiums" in result.stdout


def test_production_guardrails_are_stricter(repo: ConfigRepo):
    """A 30% move passes the general 50% limit in dev and staging and fails production's 25%."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.052")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("syncd: error:")]
    assert errors == [
        (
            "syncd: error: guardrail: production: pricing.base_rate_USDC: 0.04 -> 0.052 (+30.0%):"
            " moves by more than the pricing limit of 25%"
        )
    ]
