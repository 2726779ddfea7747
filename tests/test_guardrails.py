"""Guardrails on `syncd plan --base --head`: the review policy, the rules that flag a change,
and the two ways to override them (the --override flag and a commit trailer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from syncd.cli.main import main
from syncd.review.guardrails import check_diff
from syncd.review.policy import POLICY_PATH, Rules, parse_policy
from syncd.sync.diff import Diff, ParamChange
from tests.support import ConfigRepo, make_config_repo
from tonsurance.config.state import Parameter
from tonsurance.errors import InvalidConfig

ROOT = Path(__file__).resolve().parents[1]
PRICING = "config/pricing.yaml"
SCENARIOS = "config/stress_scenarios.yaml"
OVERRIDE_HINT = "config-override"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


def plan(repo: ConfigRepo, base: str, *args: str) -> Result:
    """The plan of one environment (staging: the general limits of the policy)."""
    argv = ["plan", "--repo", str(repo.path), "--base", base, "--head", "HEAD"]
    argv += ["--environment", "staging", *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("syncd: error: ")]


def test_shipped_policy_is_valid():
    """The repository's own policy passes its schema and names every priced asset."""
    policy = parse_policy((ROOT / POLICY_PATH).read_bytes(), POLICY_PATH)
    assert policy.rules.max_relative_change == {"pricing": 0.5, "risk": 0.5, "tranche": 0.5}
    assert len(policy.impact.assets) == 14
    assert policy.impact.var_simulations <= 10_000


def test_large_base_rate_change_fails_with_the_reason_beside_the_value(repo: ConfigRepo):
    """A base rate moving by more than the pricing limit fails: exit 1, one error line, and the
    reason in the change table next to the value."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.10")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 1
    assert error_lines(result) == [
        (
            "syncd: error: guardrail: pricing.base_rate_USDC: 0.04 -> 0.1 (+150.0%):"
            " moves by more than the pricing limit of 50%"
        )
    ]
    row = next(line for line in result.stdout.splitlines() if "`pricing.base_rate_USDC`" in line)
    assert row == (
        "| ~ | `pricing.base_rate_USDC` | 0.04 | 0.1 |"
        " +150.0% ⚠️ **moves by more than the pricing limit of 50%** |"
    )
    assert "❌ 1 flagged change: the check fails." in result.stdout
    assert OVERRIDE_HINT in result.stdout


def test_change_within_the_limit_passes(repo: ConfigRepo):
    """A change below the limit and a raised minimum premium are not flagged."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.059")
    repo.change(PRICING, "absolute_usd: 100", "absolute_usd: 110")
    result = plan(repo, base, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["guardrails"] == {
        "passed": True,
        "findings": [],
        "override": None,
        "rejected_overrides": [],
    }


def test_override_flag_lets_a_flagged_change_pass(repo: ConfigRepo):
    """--override (what the workflow passes for the config-override label) turns the failure
    into a warning; the finding is still shown."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.10")
    result = plan(repo, base, "--format", "markdown", "--override")
    assert result.exit_code == 0, result.output
    assert "overridden by --override (the pull-request label config-override)" in result.stdout
    assert "⚠️ **moves by more than the pricing limit of 50%**" in result.stdout
    assert "syncd: warning: 1 flagged" in result.stderr
    assert error_lines(result) == []


def test_unsigned_trailer_in_the_change_does_not_override(repo: ConfigRepo):
    """A `Config-Override:` trailer that no trusted signature backs is named and does not count:
    its author could otherwise override the guardrails on their own change."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.10")
    trailer_commit = repo.change(
        PRICING,
        "USDT: 0.06",
        "USDT: 0.065",
        "Tune USDT\n\nConfig-Override: USDC repriced after the reserve audit (RISK-42)",
    )
    result = plan(repo, base, "--format", "json")
    assert result.exit_code == 1
    guard = json.loads(result.stdout)["guardrails"]
    assert guard["passed"] is False and guard["override"] is None
    (rejected,) = guard["rejected_overrides"]
    assert trailer_commit[:12] in rejected and "no trusted keys" in rejected


def test_trailer_outside_the_change_or_not_a_trailer_does_not_override(repo: ConfigRepo):
    """A trailer before the base, an empty one, or the words in a subject line do not count."""
    repo.commit("Earlier work\n\nConfig-Override: an old reason")
    base = repo.head()
    repo.change(
        PRICING, "USDC: 0.04", "USDC: 0.10", "Config-Override: in the subject is no trailer"
    )
    repo.commit("Empty reason\n\nConfig-Override:")
    result = plan(repo, base)
    assert result.exit_code == 1
    assert len(error_lines(result)) == 1


def test_removed_parameter_and_row_are_flagged(repo: ConfigRepo):
    """Removing a priced asset (with its scenario impacts) and a stress scenario flags both the
    parameter and the row."""
    priced = repo.file(PRICING).read_text()
    scenarios = repo.file(SCENARIOS).read_text()
    repo.replace(PRICING, "  default: 0.10", "  USDX: 0.05\n  default: 0.10")
    repo.write(
        SCENARIOS,
        scenarios.replace("    price_impacts:\n", "    price_impacts:\n      USDX: -0.01\n"),
    )
    repo.commit("Price USDX")
    base = repo.head()
    repo.write(PRICING, priced)
    repo.write(
        SCENARIOS, scenarios[: scenarios.index("\n  - id: multiple_stablecoin_failure")] + "\n"
    )
    repo.commit("Stop pricing USDX; drop the contagion scenario")
    result = plan(repo, base, "--format", "json")
    assert result.exit_code == 1 and result.stdout, result.output
    findings = {
        (f["rule"], f["subject"]) for f in json.loads(result.stdout)["guardrails"]["findings"]
    }
    assert findings == {
        ("parameter_removed", "pricing.base_rate_USDX"),
        ("row_removed", "stress_scenarios[multiple_stablecoin_failure]"),
    }
    assert (
        "syncd: error: guardrail: stress_scenarios[multiple_stablecoin_failure]: row removed:"
        in result.stderr
    )


def test_lower_minimum_premium_is_flagged(repo: ConfigRepo):
    """A lower minimum premium is flagged even when the move is within the relative limit."""
    base = repo.head()
    repo.change(PRICING, "rate: 0.01", "rate: 0.009")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "syncd: error: guardrail: pricing.min_premium_rate: 0.01 -> 0.009 (-10.0%): minimum premium lowered"
    ]
    assert "-10.0% ⚠️ **minimum premium lowered** |" in result.stdout


def test_no_guardrails_option_skips_the_check(repo: ConfigRepo):
    """--no-guardrails shows the plan and impact without judging them."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.10")
    result = plan(repo, base, "--format", "markdown", "--no-guardrails")
    assert result.exit_code == 0
    assert "### Guardrails" not in result.stdout and "### Premiums" in result.stdout


def test_the_base_policy_judges_a_change_that_loosens_it(repo: ConfigRepo):
    """A pull request that raises the limit in the policy is still judged by the base's policy."""
    repo.write(POLICY_PATH, (ROOT / POLICY_PATH).read_text())
    repo.commit("Add the review policy")
    base = repo.head()
    repo.replace(POLICY_PATH, "pricing: 0.5", "pricing: 5.0")
    repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    repo.commit("Raise USDC, and the limit with it")
    result = plan(repo, base, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["policy"] == f"{POLICY_PATH}@{base[:12]}"


def test_an_invalid_policy_is_refused_with_its_position(repo: ConfigRepo, tmp_path: Path):
    """A policy that breaks its schema is an error naming file, line and value, and exit 1."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    bad = tmp_path / "policy.yaml"
    bad.write_text((ROOT / POLICY_PATH).read_text().replace("pricing: 0.5", "pricing: -0.5"))
    result = plan(repo, base, "--policy", str(bad))
    assert result.exit_code == 1
    line = next(
        n for n, text in enumerate(bad.read_text().splitlines(), 1) if "pricing: -0.5" in text
    )
    assert (
        f"syncd: error: review policy: {bad}:{line}:14: guardrails.max_relative_change.pricing:"
        in result.stderr
    )


def test_a_policy_with_yaml_tags_is_refused(tmp_path: Path):
    """The policy goes through the strict YAML reader: tags and duplicate keys are refused."""
    text = (ROOT / POLICY_PATH).read_text()
    with pytest.raises(InvalidConfig, match="the tag !!python/object:os.system is not allowed"):
        parse_policy(
            text.replace("pricing: 0.5", "pricing: !!python/object:os.system 0.5"), "p.yaml"
        )
    with pytest.raises(InvalidConfig, match="duplicate key"):
        parse_policy(text.replace("pricing: 0.5", "pricing: 0.5\n    pricing: 0.6"), "p.yaml")


def test_policy_options_need_base_and_head(repo: ConfigRepo):
    """--override and --policy judge a change between two commits; with --commit they are a usage error."""
    result = CliRunner().invoke(
        main, ["plan", "--repo", str(repo.path), "--override"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "use them with --base/--head" in result.stderr


def _change(key: str, old: Any, new: Any, category: str = "pricing") -> ParamChange:
    def p(v: Any) -> Parameter | None:
        return None if v is None else Parameter(category, key, v, "float", "")

    action = "remove" if new is None else "add" if old is None else "change"
    return ParamChange(action, category, key, p(old), p(new))


def test_rules_on_edge_values():
    """A change from zero is flagged; exactly the limit is not; a string change is not; an
    unlimited category is not."""
    rules = Rules(
        {"pricing": 0.5}, parameter_removed=False, row_removed=False, minimum_premium_lowered=False
    )
    diff = Diff(
        [
            _change("risk_weight_x", 0.0, 0.1),
            _change("base_rate_A", 0.04, 0.06),
            _change("curve", "flat", "linear"),
            _change("reserve_multiplier", 1.0, 9.0, "risk"),
            _change("base_rate_B", 0.04, None),
        ]
    )
    found = check_diff(diff, rules)
    assert [(f.subject, f.reason) for f in found] == [
        ("pricing.risk_weight_x", "a change from 0 exceeds the pricing limit of 50%"),
    ]


def test_a_pull_request_that_breaks_the_policy_fails(repo: ConfigRepo):
    """A head whose policy file breaks the schema fails even though the base's policy applies."""
    repo.write(POLICY_PATH, (ROOT / POLICY_PATH).read_text())
    repo.commit("Add the review policy")
    base = repo.head()
    repo.replace(POLICY_PATH, "simulations: 2000", "simulations: lots")
    repo.commit("Break the policy")
    result = plan(repo, base)
    assert result.exit_code == 1
    assert "syncd: error: review policy: .github/config-policy.yaml:" in result.stderr
    assert "impact.value_at_risk.simulations: 'lots' is not of type 'integer'" in result.stderr
