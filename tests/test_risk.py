"""Depeg statistics, stress tests, Monte Carlo VaR and reserves on small hand-made histories."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest
from seed_values import RISK, snapshot

from tonsurance.config.model import DepegEvent, StressScenario
from tonsurance.errors import InvalidConfig, UsageProblem
from tonsurance.risk import (
    Policy,
    VaultSnapshot,
    annual_depeg_probability,
    expected_loss_per_policy,
    expected_severity,
    run_all_stress_tests,
    run_stress_test,
    stress_payout,
    stressed_price,
    worst_stress_loss,
)
from tonsurance.var import monte_carlo_var, quantile, reserve_requirement

AS_OF = dt.date(2025, 10, 15)  # 5 years of 365.25 days reach back to 2020-10-14 18:00


def event(id: str, asset: str, low: float, start: dt.date, verified: bool = True) -> DepegEvent:
    return DepegEvent(id, asset, low, start, 24.0, "test", "test", verified)


EVENTS = (
    event("usdc-svb-2023", "USDC", 0.88, dt.date(2023, 3, 10)),
    event("usdc-minor-2022", "USDC", 0.97, dt.date(2022, 5, 12)),
    event("usdc-old-2019", "USDC", 0.90, dt.date(2019, 1, 1)),  # 2,479 days back: outside
    event("usdc-rumour-2024", "USDC", 0.80, dt.date(2024, 1, 1), verified=False),
    event("usdt-ust-2022", "USDT", 0.95, dt.date(2022, 5, 12)),
)

BANKING = StressScenario(
    "banking_crisis", "Banking Crisis (SVB)", "", "high", 0.02, 0.27, {"USDC": -0.12, "USDT": -0.02}
)
CRASH = StressScenario(
    "crypto_crash", "Crypto Crash", "", "high", 0.05, -0.50, {"USDC": -0.05, "USDT": -0.10}
)

VAULT = VaultSnapshot(
    capital_usd=1_000_000.0,
    btc_exposure_usd=500_000.0,
    policies=(
        Policy("USDC", 100_000.0, 0.95),
        Policy("USDT", 200_000.0, 0.97),
        Policy("DAI", 50_000.0, 0.97),
    ),
)


def test_depeg_probability_counts_verified_events_in_the_lookback() -> None:
    """Only verified events below the threshold and inside the window count."""
    # USDC below 0.99: svb (0.88) and minor (0.97); old is outside, rumour unverified: n = 2
    assert annual_depeg_probability(EVENTS, "USDC", 0.99, 5.0, AS_OF) == pytest.approx(
        1 - math.exp(-2 / 5)  # 0.3296800
    )
    # below 0.95 only svb: 1 - e^-0.2 = 0.1812692
    assert annual_depeg_probability(EVENTS, "USDC", 0.95, 5.0, AS_OF) == pytest.approx(0.1812692469)
    assert annual_depeg_probability(EVENTS, "USDC", 0.85, 5.0, AS_OF) == 0.0
    assert annual_depeg_probability(EVENTS, "DAI", 0.99, 5.0, AS_OF) == 0.0
    # a 7-year lookback reaches the 2019 event: n = 3, 1 - e^(-3/7)
    assert annual_depeg_probability(EVENTS, "USDC", 0.99, 7.0, AS_OF) == pytest.approx(
        1 - math.exp(-3 / 7)
    )


def test_lookback_window_edge_follows_the_sql_cutoff() -> None:
    """An event 1,826 days back is inside 5 * 365.25 days; one 1,827 days back is outside."""
    inside = event("inside", "GHO", 0.96, dt.date(2020, 10, 15))
    outside = event("outside", "GHO", 0.96, dt.date(2020, 10, 14))
    assert annual_depeg_probability([inside, outside], "GHO", 0.99, 5.0, AS_OF) == pytest.approx(
        1 - math.exp(-1 / 5)
    )


def test_lookback_must_be_positive() -> None:
    """A zero lookback is refused rather than divided by."""
    with pytest.raises(UsageProblem):
        annual_depeg_probability(EVENTS, "USDC", 0.99, 0.0, AS_OF)


def test_expected_severity_is_the_mean_depth_of_verified_depegs() -> None:
    """Severity averages 1 - low over every verified event of the asset, whatever its age."""
    # (0.12 + 0.03 + 0.10) / 3 = 0.0833333
    assert expected_severity(EVENTS, "USDC") == pytest.approx(0.25 / 3)
    assert expected_severity(EVENTS, "USDT") == pytest.approx(0.05)
    assert expected_severity(EVENTS, "DAI") == 0.0


def test_expected_loss_per_policy_matches_hand_computation() -> None:
    """Probability below the trigger times coverage times mean depth below the trigger."""
    snap = snapshot(depegs=EVENTS)
    # P(USDC, 0.95) = 0.1812692; depth mean over 0.88 and 0.90 = 0.11; * 100_000 = 1_993.96
    assert expected_loss_per_policy(snap, "USDC", 100_000, 0.95, AS_OF) == pytest.approx(
        1_993.9617161
    )
    # P(USDT, 0.97) = 0.1812692; depth 0.05; * 50_000 = 453.17
    assert expected_loss_per_policy(snap, "USDT", 50_000, 0.97, AS_OF) == pytest.approx(453.1731173)
    assert expected_loss_per_policy(snap, "USDC", 100_000, 0.85, AS_OF) == 0.0


def test_stressed_price_and_payout() -> None:
    """A scenario sets 1 + impact; a policy pays only when that is below its trigger."""
    assert stressed_price(BANKING, "USDC") == pytest.approx(0.88)
    assert stressed_price(BANKING, "DAI") is None
    # 100_000 * (1 - 0.88) = 12_000
    assert stress_payout("USDC", 100_000, 0.95, BANKING) == pytest.approx(12_000)
    assert stress_payout("USDC", 100_000, 0.88, BANKING) == 0.0
    assert stress_payout("USDT", 200_000, 0.97, BANKING) == 0.0
    assert stress_payout("DAI", 50_000, 0.97, BANKING) == 0.0


def test_stress_test_of_the_vault() -> None:
    """Payouts, BTC P&L and capital after each scenario match hand computation."""
    banking = run_stress_test(BANKING, VAULT)
    # USDC 0.88 < 0.95 pays 12_000; USDT 0.98 and DAI (absent) pay nothing
    # btc 500_000 * 0.27 = 135_000; 1_000_000 + 135_000 - 12_000 = 1_123_000
    assert banking.total_payout == pytest.approx(12_000)
    assert banking.btc_pnl == pytest.approx(135_000)
    assert banking.capital_after == pytest.approx(1_123_000)
    assert banking.solvent
    crash = run_stress_test(CRASH, VAULT)
    # USDC 0.95 is not below 0.95; USDT 0.90 pays 20_000; btc -250_000 -> 730_000
    assert crash.total_payout == pytest.approx(20_000)
    assert crash.capital_after == pytest.approx(730_000)
    assert crash.net_loss == pytest.approx(270_000)


def test_thin_vault_is_insolvent_in_a_crash() -> None:
    """200,000 of capital minus 250,000 BTC loss and 20,000 payouts is insolvent."""
    thin = dataclasses.replace(VAULT, capital_usd=200_000.0)
    result = run_stress_test(CRASH, thin)
    assert result.capital_after == pytest.approx(-70_000)
    assert not result.solvent


def test_all_stress_tests_run_in_scenario_id_order() -> None:
    """Every scenario runs, ordered by id as the SQL function orders them."""
    results = run_all_stress_tests(snapshot(scenarios=[CRASH, BANKING]), VAULT)
    assert [r.scenario_id for r in results] == ["banking_crisis", "crypto_crash"]
    # banking nets a gain (12_000 - 135_000); crash loses 20_000 + 250_000
    assert worst_stress_loss(results) == pytest.approx(270_000)
    assert worst_stress_loss(results[:1]) == 0.0


def test_vault_json_round_trip_matches_the_sql_shape() -> None:
    """The vault JSON has the keys the SQL function reads, and reads back equal."""
    data = json.loads(VAULT.to_json())
    assert set(data) == {"capital_usd", "btc_exposure_usd", "policies"}
    assert data["policies"][0] == {
        "asset": "USDC",
        "coverage_usd": 100_000.0,
        "trigger_price": 0.95,
    }
    assert VaultSnapshot.from_json(VAULT.to_json()) == VAULT
    assert VaultSnapshot.from_json('{"policies": []}') == VaultSnapshot(0.0, 0.0, ())


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"capital_usd": "lots"}',
        '{"capital_usd": true}',
        '{"policies": {"asset": "USDC"}}',
        '{"policies": [{"asset": "USDC", "trigger_price": 0.97}]}',
        '{"policies": [{"coverage_usd": 1, "trigger_price": 0.97}]}',
    ],
)
def test_bad_vault_json_is_refused(text: str) -> None:
    """Malformed vault JSON raises InvalidConfig with a sentence naming the problem."""
    with pytest.raises(InvalidConfig, match="vault snapshot"):
        VaultSnapshot.from_json(text)


def test_quantile_takes_the_ceiling_rank() -> None:
    """The c-quantile of n losses is the ceil(c * n)-th smallest."""
    losses = [float(i) for i in range(1, 101)]
    assert quantile(losses, 0.95) == 95.0
    assert quantile(losses, 0.99) == 99.0
    assert quantile(losses, 0.001) == 1.0
    assert quantile(losses, 1.0) == 100.0
    # 0.95 * 10_000 is exactly rank 9_500, not 9_501 through float error
    assert quantile([float(i) for i in range(10_000)], 0.95) == 9_499.0


def test_certain_scenario_gives_a_certain_loss() -> None:
    """A scenario with probability 1 and no depeg history loses its payout every year."""
    certain = dataclasses.replace(BANKING, annual_probability=1.0)
    never = dataclasses.replace(CRASH, annual_probability=0.0)
    snap = snapshot(scenarios=[certain, never])
    result = monte_carlo_var(snap, VAULT, seed=1, simulations=500, as_of=AS_OF)
    assert result.var_95 == pytest.approx(12_000)
    assert result.var_99 == pytest.approx(12_000)
    assert result.expected_loss == pytest.approx(12_000)
    # 1.5 * 12_000 expected + 0.5 * 270_000 worst stress loss (the crash) = 153_000
    assert reserve_requirement(snap, VAULT, result) == pytest.approx(153_000)
    only_banking = run_all_stress_tests(snap, VAULT)[:1]
    assert reserve_requirement(snap, VAULT, result, only_banking) == pytest.approx(18_000)


def test_depeg_frequency_follows_the_history() -> None:
    """Five USDC depegs to 0.90 in five years make a payout in about 1 - 1/e of the years."""
    history = [event(f"e{i}", "USDC", 0.90, dt.date(2021 + i, 6, 1)) for i in range(5)]
    vault = VaultSnapshot(1_000_000.0, 0.0, (Policy("USDC", 100_000.0, 0.95),))
    result = monte_carlo_var(
        snapshot(depegs=history), vault, seed=7, simulations=20_000, as_of=AS_OF
    )
    # each depeg pays 100_000 * (1 - 0.90) = 10_000, with probability 1 - e^-1 = 0.632
    assert result.expected_loss == pytest.approx(10_000 * (1 - math.exp(-1)), rel=0.03)
    assert result.var_95 == pytest.approx(10_000)
    assert result.max_loss == pytest.approx(10_000)


def test_var_is_reproducible_with_a_seed_and_ordered() -> None:
    """The same seed gives the same VaR, another seed another run, and VaR 95 <= VaR 99."""
    snap = snapshot(depegs=EVENTS, scenarios=[BANKING, CRASH])
    first = monte_carlo_var(snap, VAULT, seed=42, simulations=3_000, as_of=AS_OF)
    again = monte_carlo_var(snap, VAULT, seed=42, simulations=3_000, as_of=AS_OF)
    assert first == again
    assert monte_carlo_var(snap, VAULT, seed=43, simulations=3_000, as_of=AS_OF) != first
    assert first.var_95 <= first.var_99 <= first.max_loss
    assert first.var_99 > 0
    assert (first.confidence_95, first.confidence_99) == (0.95, 0.99)


def test_simulation_count_defaults_to_the_snapshot() -> None:
    """Without an explicit count the snapshot's monte_carlo_simulations is used."""
    snap = snapshot(risk=dataclasses.replace(RISK, monte_carlo_simulations=300))
    assert monte_carlo_var(snap, VAULT, seed=3, as_of=AS_OF).simulations == 300
    with pytest.raises(UsageProblem):
        monte_carlo_var(snap, VAULT, seed=3, simulations=0)


def test_var_depeg_threshold_is_the_configured_parameter() -> None:
    """The VaR counts an event as a depeg below the snapshot's depeg_threshold, not a constant."""
    history = [event(f"e{i}", "USDC", 0.90, dt.date(2021 + i, 6, 1)) for i in range(5)]
    vault = VaultSnapshot(1_000_000.0, 0.0, (Policy("USDC", 100_000.0, 0.95),))
    shipped = monte_carlo_var(snapshot(depegs=history), vault, seed=7, simulations=500, as_of=AS_OF)
    assert shipped.max_loss == pytest.approx(10_000)
    below_every_low = dataclasses.replace(RISK, depeg_threshold=0.85)
    result = monte_carlo_var(
        snapshot(risk=below_every_low, depegs=history), vault, seed=7, simulations=500, as_of=AS_OF
    )
    assert result.max_loss == 0.0
