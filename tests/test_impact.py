"""`syncd plan --base --head`: the change table and the impact on premiums and risk figures,
computed from two real commits without a database, in markdown, JSON and text."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from markdown_it import MarkdownIt

from syncd.cli.main import main
from syncd.sync.pipeline import open_repo, prepare
from tests.support import ConfigRepo, make_config_repo
from tonsurance.config.model import Snapshot
from tonsurance.config.snapshot import snapshot_from_state
from tonsurance.pricing import calculate_premium
from tonsurance.risk import (
    Policy,
    VaultSnapshot,
    expected_loss_per_policy,
    run_all_stress_tests,
)
from tonsurance.tranches import tranche_apy
from tonsurance.var import monte_carlo_var, reserve_requirement

ROOT = Path(__file__).resolve().parents[1]
PRICING = "config/pricing.yaml"
RISK = "config/risk.yaml"
TRANCHE = "config/tranche.yaml"
DEPEGS = "config/historical_depegs.yaml"
SCENARIOS = "config/stress_scenarios.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return make_config_repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    """The review policy as plain data, read independently of syncd."""
    data: dict[str, Any] = yaml.safe_load((ROOT / ".github/config-policy.yaml").read_text())
    return data["impact"]


def plan(repo: ConfigRepo, base: str, *args: str, head: str = "HEAD") -> Result:
    argv = ["plan", "--repo", str(repo.path), "--base", base, "--head", head]
    argv += ["--environment", "staging", *args]
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def plan_json(repo: ConfigRepo, base: str, *args: str) -> dict[str, Any]:
    result = plan(repo, base, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def snapshot(repo: ConfigRepo, rev: str) -> Snapshot:
    return snapshot_from_state(prepare(open_repo(repo.path), rev).state)


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table of the markdown as rows of cell texts (header row first), via a real parser."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    found: list[list[list[str]]] = []
    row: list[str] = []
    for token in tokens:
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            found[-1].append(row)
        elif token.type == "inline" and found and token.level >= 3:
            row.append("".join(c.content for c in token.children or []))
    return found


def table_with(markdown: str, header: str) -> list[list[str]]:
    for table in tables(markdown):
        if header in table[0]:
            return table
    raise AssertionError(f"no table with a {header!r} column in:\n{markdown}")


def test_plan_across_several_commits_lists_every_change(repo: ConfigRepo):
    """Three commits on pricing, risk and tranche show up as one plan from base to head."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(RISK, "reserve_multiplier: 1.5", "reserve_multiplier: 1.6")
    repo.change(TRANCHE, "apy_max: 0.10", "apy_max: 0.11")
    data = plan_json(repo, base)
    changed = {(p["category"], p["key"]): (p["old"], p["new"]) for p in data["parameters"]}
    assert changed == {
        ("pricing", "base_rate_USDC"): (0.04, 0.05),
        ("risk", "reserve_multiplier"): (1.5, 1.6),
        ("tranche", "SURE-SNR_apy_max"): (0.1, 0.11),
    }
    assert data["counts"] == {"add": 0, "change": 3, "remove": 0}
    assert data["base"] == open_repo(repo.path).commit(base).hexsha
    assert data["head"] == repo.head()
    moved = {f["key"] for f in data["impact"]["risk"]}
    assert moved == {"reserve"} | {
        f"tranche_apy.SURE-SNR@{u}" for u in ("0.25", "0.5", "0.75", "0.9")
    }
    assert {p["asset"] for p in data["impact"]["premiums"]} == {"USDC"}


def test_table_change_moves_only_its_stress_loss(repo: ConfigRepo):
    """A stress scenario's BTC change is a row change that moves that scenario's loss alone."""
    base = repo.head()
    repo.change(SCENARIOS, "btc_change: 0.27", "btc_change: 0.20")
    data = plan_json(repo, base)
    assert data["parameters"] == []
    [row] = data["rows"]
    assert (row["action"], row["table"], row["id"], row["columns"]) == (
        "change",
        "stress_scenarios",
        "banking_crisis",
        ["btc_change"],
    )
    assert data["impact"]["premiums"] == []
    [figure] = data["impact"]["risk"]
    assert figure["key"] == "stress.banking_crisis"
    vault_btc = 5_000_000
    assert figure["after"] - figure["before"] == pytest.approx(vault_btc * (0.27 - 0.20))


def _grid(snap: Snapshot, impact: dict[str, Any]) -> dict[tuple[str, float, int], int]:
    return {
        (asset, float(cov), days): calculate_premium(snap, asset, cov, days).premium_cents
        for asset in impact["grid"]["assets"]
        for cov in impact["grid"]["coverages_usd"]
        for days in impact["grid"]["durations_days"]
    }


def _risk(snap: Snapshot, impact: dict[str, Any], as_of: dt.date) -> dict[str, float]:
    ref, vault_doc = impact["reference_policy"], impact["reference_vault"]
    vault = VaultSnapshot(
        vault_doc["capital_usd"],
        vault_doc["btc_exposure_usd"],
        tuple(
            Policy(p["asset"], p["coverage_usd"], p["trigger_price"]) for p in vault_doc["policies"]
        ),
    )
    out = {
        f"expected_loss.{asset}": expected_loss_per_policy(
            snap, asset, ref["coverage_usd"], ref["trigger_price"], as_of
        )
        for asset in impact["grid"]["assets"]
    }
    var = monte_carlo_var(
        snap,
        vault,
        seed=impact["value_at_risk"]["seed"],
        simulations=impact["value_at_risk"]["simulations"],
        as_of=as_of,
    )
    out["var_95"], out["var_99"] = var.var_95, var.var_99
    stress = run_all_stress_tests(snap, vault)
    out["reserve"] = reserve_requirement(snap, vault, var, stress)
    for result in stress:
        out[f"stress.{result.scenario_id}"] = result.net_loss
    for tranche in snap.tranches:
        for u in impact["tranche_utilizations"]:
            out[f"tranche_apy.{tranche.id}@{u:g}"] = tranche_apy(tranche, u, snap.curve_steepness)
    return out


def test_impact_equals_pricing_and_risk_code_on_each_side(repo: ConfigRepo, policy: dict[str, Any]):
    """Every premium and risk figure shown is what tonsurance computes on each side, and exactly
    those that differ are shown."""
    base = repo.head()
    repo.change(PRICING, "USDT: 0.06", "USDT: 0.07")
    repo.change(PRICING, "absolute_usd: 100", "absolute_usd: 120")
    repo.change(PRICING, "discount: 0.05", "discount: 0.06")
    repo.change(DEPEGS, "low_price: 0.88", "low_price: 0.85")
    repo.change(SCENARIOS, "USDC: -0.12", "USDC: -0.15")
    repo.change(TRANCHE, "apy_min: 0.09", "apy_min: 0.095")
    data = plan_json(repo, base)
    impact = data["impact"]
    as_of = dt.date.fromisoformat(impact["as_of"])
    before, after = snapshot(repo, base), snapshot(repo, "HEAD")

    old, new = _grid(before, policy), _grid(after, policy)
    expected = {k: (old[k], new[k]) for k in old if old[k] != new[k]}
    shown = {
        (p["asset"], p["coverage_usd"], p["duration_days"]): (p["before_cents"], p["after_cents"])
        for p in impact["premiums"]
    }
    assert shown == expected
    assert {a for a, _, _ in shown} == set(policy["grid"]["assets"])  # the minimum moved them all
    assert impact["grid"]["policies"] == len(old)

    old_risk, new_risk = _risk(before, policy, as_of), _risk(after, policy, as_of)
    expected_risk = {k: (old_risk[k], new_risk[k]) for k in old_risk if old_risk[k] != new_risk[k]}
    shown_risk = {f["key"]: (f["before"], f["after"]) for f in impact["risk"]}
    assert shown_risk == expected_risk
    assert "expected_loss.USDC" in shown_risk and "stress.banking_crisis" in shown_risk
    assert "tranche_apy.SURE-MEZZ@0.25" in shown_risk


def test_markdown_renders_the_change_and_impact_as_tables(repo: ConfigRepo):
    """The markdown parses into a change table, a premium table and a risk table with the values."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.05")
    repo.change(DEPEGS, "low_price: 0.88", "low_price: 0.85")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("## Configuration plan `")

    changes = table_with(md, "parameter")
    assert changes[0] == ["", "parameter", "old", "new", "change"]
    assert ["~", "pricing.base_rate_USDC", "0.04", "0.05", "+25.0%"] in changes

    rows = table_with(md, "row")
    assert ["~", "historical_depegs", "usdc-svb-2023", "low_price: 0.88 -> 0.85"] in rows

    premiums = table_with(md, "coverage")
    assert premiums[0] == ["asset", "coverage", "days", "before", "after", "change"]
    before, after = snapshot(repo, base), snapshot(repo, "HEAD")
    cents = [calculate_premium(s, "USDC", 250_000, 90).premium_cents for s in (before, after)]
    money = [f"${c / 100:,.2f}" for c in cents]
    assert ["USDC", "$250,000", "90", *money, "+25.0%"] in premiums
    assert all(r[0] == "USDC" for r in premiums[1:])

    risk = table_with(md, "figure")
    labels = [r[1] for r in risk[1:]]
    assert "USDC expected annual loss" in labels
    assert all(len(r) == 5 for r in risk)
    assert "No guardrail flagged this change." in md


def test_text_format_carries_the_impact(repo: ConfigRepo):
    """The text format lists changed values, moved premiums and the guardrail verdict."""
    base = repo.head()
    repo.change(PRICING, "GHO: 0.065", "GHO: 0.07")
    result = plan(repo, base)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "~ pricing.base_rate_GHO: 0.065 -> 0.07 (+7.7%)" in out
    assert "GHO $250,000 90d:" in out
    assert "Guardrails: nothing flagged." in out


def test_no_change_shows_no_impact(repo: ConfigRepo):
    """Two commits with the same configuration give no tables and no impact section."""
    base = repo.head()
    repo.write("notes.txt", "not configuration\n")
    repo.commit("A file outside config/")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "No configuration changes." in result.stdout
    assert "### Premiums" not in result.stdout
    assert tables(result.stdout) == []
    assert plan_json(repo, base)["impact"] is None


def test_new_asset_is_priced_in_the_grid(repo: ConfigRepo):
    """An asset that gains a base rate of its own is priced on both sides of the grid."""
    base = repo.head()
    repo.replace(PRICING, "  default: 0.10", "  USDX: 0.05\n  default: 0.10")
    scenarios = repo.file(SCENARIOS).read_text()
    repo.write(
        SCENARIOS,
        scenarios.replace("    price_impacts:\n", "    price_impacts:\n      USDX: -0.01\n"),
    )
    repo.commit("Price USDX")
    data = plan_json(repo, base)
    assert [p["key"] for p in data["parameters"]] == ["base_rate_USDX"]
    assert "USDX" in data["impact"]["grid"]["assets"]
    usdx = [p for p in data["impact"]["premiums"] if p["asset"] == "USDX"]
    before = snapshot(repo, base)
    assert usdx and all(
        p["before_cents"]
        == calculate_premium(before, "USDX", p["coverage_usd"], p["duration_days"]).premium_cents
        for p in usdx
    )


def test_invalid_head_fails_with_its_problems(repo: ConfigRepo):
    """A head that does not validate gives its problems on stderr and exit 1, and no plan."""
    base = repo.head()
    repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "config/pricing.yaml:" in result.stderr and "less than the minimum of 0" in result.stderr


def test_a_change_that_fixes_an_invalid_base_is_not_compared(repo: ConfigRepo):
    """When the base does not validate there is nothing to compare: a warning, a note, exit 0."""
    repo.change(PRICING, "USDC: 0.04", "USDC: -0.04")
    base = repo.head()
    repo.change(PRICING, "USDC: -0.04", "USDC: 0.04")
    result = plan(repo, base, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "does not validate, so there is nothing to compare against" in result.stdout
    assert f"syncd: warning: the base {base} does not validate (1 problem)" in result.stderr
