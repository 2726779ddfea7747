"""Premiums from the document's pricing parameters, checked against hand-computed values."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from seed_values import PRICING, snapshot

from tonsurance.config.model import Tier
from tonsurance.errors import UsageProblem
from tonsurance import pricing
from tonsurance.pricing import (
    calculate_premium,
    get_base_rate,
    get_risk_weight,
    get_size_discount,
    get_utilization_multiplier,
    premium_cents,
    round_cents,
)

# The reference quote: 100,000 USDC for 90 days, no scores, base trigger, utilization 0.
# 100_000 * 0.04 (USDC rate) * 0.95 (tier3: 100,000 <= coverage) * 90/365 * sqrt(90/90)
#   = 3_800 * 90 / 365 = 936.9863013... USD -> 93_699 cents.
# Minimums: max($100, 100_000 * 0.01 * 90/365 = $246.58) = $246.58, well below.
REFERENCE_CENTS = 93_699


def test_reference_quote_matches_hand_computation() -> None:
    """100,000 USDC for 90 days costs $936.99, with every factor in the breakdown."""
    quote = calculate_premium(snapshot(), "USDC", 100_000, 90)
    assert quote.premium_cents == REFERENCE_CENTS
    assert quote.base_rate == 0.04
    assert quote.size_factor == 0.95
    assert (quote.risk_factor, quote.trigger_factor, quote.duration_factor) == (1.0, 1.0, 1.0)
    assert (quote.utilization_multiplier, quote.claims_factor) == (1.0, 1.0)
    assert quote.computed_usd == pytest.approx(936.9863013698630)
    assert quote.minimum_usd == pytest.approx(246.5753424657534)
    assert not quote.minimum_applied


def test_snapshot_and_pricing_params_give_the_same_quote() -> None:
    """A Snapshot and its PricingParams are interchangeable inputs."""
    assert calculate_premium(PRICING, "USDC", 100_000, 90) == calculate_premium(
        snapshot(), "USDC", 100_000, 90
    )


def test_premium_cents_matches_the_quote() -> None:
    """The fast function gives the same cents as the quote over a spread of inputs."""
    for asset in ("USDC", "FRAX", "NOPE"):
        for coverage in (500, 99_999.99, 100_000, 2_500_000, 12_000_000):
            for days in (1, 30, 90, 365):
                quote = calculate_premium(
                    PRICING, asset, coverage, days, 0.95, utilization=0.8, loss_ratio=0.55
                )
                assert quote.premium_cents == premium_cents(
                    PRICING, asset, coverage, days, 0.95, utilization=0.8, loss_ratio=0.55
                )


def test_breakdown_multiplies_to_the_premium() -> None:
    """The quote's factors multiply back to its computed premium."""
    quote = calculate_premium(
        PRICING,
        "DAI",
        2_000_000,
        45,
        0.98,
        risk_scores={"reserve_quality": 0.2, "regulatory_clarity": 0.5},
        utilization=0.8,
        loss_ratio=0.3,
    )
    product = (
        2_000_000
        * quote.base_rate
        * quote.risk_factor
        * quote.trigger_factor
        * quote.size_factor
        * quote.utilization_multiplier
        * quote.claims_factor
        * quote.duration_factor
        * 45
        / 365
    )
    assert quote.computed_usd == pytest.approx(product, rel=1e-12)
    assert quote.premium_cents == round_cents(quote.computed_usd)


@pytest.mark.parametrize(
    ("coverage", "discount", "cents"),
    [
        # 99_999.99 * 0.04 * 90/365 = 986.3012712 -> no tier reached
        (99_999.99, 0.0, 98_630),
        # exactly at tier3: 100_000 * 0.04 * 0.95 * 90/365 = 936.9863014
        (100_000, 0.05, 93_699),
        # exactly at tier2: 1_000_000 * 0.04 * 0.90 * 90/365 = 8_876.7123288
        (1_000_000, 0.10, 887_671),
        # exactly at tier1: 10_000_000 * 0.04 * 0.80 * 90/365 = 78_904.1095890
        (10_000_000, 0.20, 7_890_411),
    ],
)
def test_size_discount_tiers_apply_from_their_threshold(
    coverage: float, discount: float, cents: int
) -> None:
    """A size tier applies at exactly its threshold, and not a cent below."""
    assert get_size_discount(PRICING, coverage) == discount
    assert premium_cents(PRICING, "USDC", coverage, 90) == cents


@pytest.mark.parametrize(
    ("utilization", "multiplier", "cents"),
    [
        (0.0, 1.0, REFERENCE_CENTS),
        (0.4999, 1.0, REFERENCE_CENTS),
        # 3_800 * 1.10 * 90/365 = 1_030.6849315
        (0.50, 1.10, 103_068),
        # 3_800 * 1.25 * 90/365 = 1_171.2328767
        (0.75, 1.25, 117_123),
        # 3_800 * 1.50 * 90/365 = 1_405.4794521
        (0.90, 1.50, 140_548),
        (1.0, 1.50, 140_548),
    ],
)
def test_utilization_tiers_apply_from_their_threshold(
    utilization: float, multiplier: float, cents: int
) -> None:
    """A utilization tier applies at exactly its threshold; below every tier the multiplier is 1."""
    assert get_utilization_multiplier(PRICING, utilization) == multiplier
    quote = calculate_premium(PRICING, "USDC", 100_000, 90, utilization=utilization)
    assert quote.utilization_multiplier == multiplier
    assert quote.premium_cents == cents


def test_tier_order_in_the_snapshot_does_not_matter() -> None:
    """Tiers listed smallest first give the same discounts as tiers listed largest first."""
    reordered = dataclasses.replace(
        PRICING,
        size_discount_tiers=tuple(reversed(PRICING.size_discount_tiers)),
        utilization_tiers=tuple(reversed(PRICING.utilization_tiers)),
    )
    for coverage, utilization in ((150_000, 0.8), (3_000_000, 0.95), (20_000_000, 0.5)):
        assert premium_cents(reordered, "USDT", coverage, 60, utilization=utilization) == (
            premium_cents(PRICING, "USDT", coverage, 60, utilization=utilization)
        )


def test_unknown_asset_pays_the_default_rate() -> None:
    """An asset without a base rate is priced at base_rate_default."""
    assert get_base_rate(PRICING, "NEWCOIN") == 0.10
    assert get_base_rate(PRICING, "FRAX") == 0.08
    # 50_000 * 0.10 * 90/365 = 1_232.8767123 (below every size tier)
    assert premium_cents(PRICING, "NEWCOIN", 50_000, 90) == 123_288


def test_absolute_minimum_applies_to_a_small_policy() -> None:
    """A tiny policy pays min_premium_absolute_usd."""
    # computed: 1_000 * 0.04 * 30/365 * sqrt(30/90) = $1.90; rate floor 1_000 * 0.01 * 30/365 = $0.82
    quote = calculate_premium(PRICING, "USDC", 1_000, 30)
    assert quote.computed_usd == pytest.approx(1.8981378713)
    assert quote.minimum_applied
    assert quote.premium_cents == 10_000


def test_rate_minimum_applies_when_the_rate_falls_below_it() -> None:
    """A heavily discounted large policy pays coverage * min_premium_rate * days / 365."""
    # computed: 1e7 * 0.04 * 0.9 (clarity 1) * 0.8 (tier1) * 0.5 (loss ratio 0) * 9/365
    #   * sqrt(9/90) = $1_122.83; rate floor: 1e7 * 0.01 * 9/365 = $2_465.7534 > $100
    quote = calculate_premium(
        PRICING, "USDC", 10_000_000, 9, risk_scores={"regulatory_clarity": 1.0}, loss_ratio=0.0
    )
    assert quote.computed_usd == pytest.approx(1_122.8251637)
    assert quote.minimum_usd == pytest.approx(2_465.7534247)
    assert quote.premium_cents == 246_575


def test_negative_regulatory_weight_lowers_the_premium() -> None:
    """Full regulatory clarity multiplies the premium by 1 - 0.10."""
    assert get_risk_weight(PRICING, "regulatory_clarity") == -0.10
    quote = calculate_premium(PRICING, "USDC", 100_000, 90, risk_scores={"regulatory_clarity": 1})
    # 3_800 * 0.9 * 90/365 = 843.2876712
    assert quote.risk_factor == pytest.approx(0.9)
    assert quote.premium_cents == 84_329
    assert quote.premium_cents < REFERENCE_CENTS


def test_risk_scores_weight_every_factor() -> None:
    """Scores for all five factors add their weighted sum to the risk factor."""
    scores = {
        "reserve_quality": 0.10,
        "banking_exposure": 0.20,
        "redemption_velocity": 0.15,
        "market_depth": 0.05,
        "regulatory_clarity": 0.80,
    }
    # 1 + 0.03 + 0.05 + 0.03 + 0.0075 - 0.08 = 1.0375; 3_800 * 1.0375 * 90/365 = 972.1232877
    quote = calculate_premium(PRICING, "USDC", 100_000, 90, risk_scores=scores)
    assert quote.risk_factor == pytest.approx(1.0375)
    assert quote.premium_cents == 97_212


def test_bad_risk_scores_are_usage_errors() -> None:
    """An unknown factor or a score outside [0, 1] is refused with a sentence."""
    with pytest.raises(UsageProblem, match="unknown risk factor 'reserve_qualty'"):
        premium_cents(PRICING, "USDC", 100_000, 90, risk_scores={"reserve_qualty": 0.5})
    with pytest.raises(UsageProblem, match="outside"):
        premium_cents(PRICING, "USDC", 100_000, 90, risk_scores={"market_depth": 1.5})
    with pytest.raises(UsageProblem):
        get_risk_weight(PRICING, "volatility")


def test_trigger_above_the_base_raises_and_below_lowers() -> None:
    """The trigger moves the premium by the adjustment factor times its relative move."""
    # trigger 1.00: 1 + 0.5 * 0.03 / 0.97 = 1.0154639; 936.9863014 * that = 951.4757803
    high = calculate_premium(PRICING, "USDC", 100_000, 90, 1.0)
    assert high.trigger_factor == pytest.approx(1.0154639175)
    assert high.premium_cents == 95_148
    # trigger 0.90: 1 - 0.5 * 0.07 / 0.97 = 0.9639175; 936.9863014 * that = 903.1775173
    low = calculate_premium(PRICING, "USDC", 100_000, 90, 0.90)
    assert low.premium_cents == 90_318
    assert calculate_premium(PRICING, "USDC", 100_000, 90, 0.97).premium_cents == REFERENCE_CENTS


def test_duration_scales_with_days_and_the_square_root_rule() -> None:
    """Longer policies pay pro rata times sqrt(days / duration_base_days)."""
    # 180 days: 3_800 * 180/365 * sqrt(2) = 2_650.1974703
    assert premium_cents(PRICING, "USDC", 100_000, 180) == 265_020
    # 365 days: 3_800 * sqrt(365/90) = 7_652.5957833
    quote = calculate_premium(PRICING, "USDC", 100_000, 365)
    assert quote.duration_factor == pytest.approx(math.sqrt(365 / 90))
    assert quote.premium_cents == 765_260


def test_claims_experience_adjusts_with_dampening_and_a_floor() -> None:
    """Loss ratio above target raises, below lowers, and the factor never drops under the floor."""
    # 0.60: 1 + 0.5 * (0.60/0.40 - 1) = 1.25; 3_800 * 1.25 * 90/365 = 1_171.2328767
    assert premium_cents(PRICING, "USDC", 100_000, 90, loss_ratio=0.60) == 117_123
    # 0.0: 1 + 0.5 * (0 - 1) = 0.5; 3_800 * 0.5 * 90/365 = 468.4931507
    assert premium_cents(PRICING, "USDC", 100_000, 90, loss_ratio=0.0) == 46_849
    assert premium_cents(PRICING, "USDC", 100_000, 90, loss_ratio=0.40) == REFERENCE_CENTS
    steep = dataclasses.replace(PRICING, claims_adjustment_dampener=0.8)
    # 1 + 0.8 * (0 - 1) = 0.2, floored at 0.5
    quote = calculate_premium(steep, "USDC", 100_000, 90, loss_ratio=0.0)
    assert quote.claims_factor == PRICING.claims_factor_floor == 0.5
    assert quote.premium_cents == 46_849


def test_claims_floor_is_the_configured_parameter() -> None:
    """The claims factor stops at the snapshot's claims_factor_floor, not at a constant."""
    low_floor = dataclasses.replace(
        PRICING, claims_adjustment_dampener=0.8, claims_factor_floor=0.3
    )
    quote = calculate_premium(low_floor, "USDC", 100_000, 90, loss_ratio=0.0)
    assert quote.claims_factor == 0.3
    # 3_800 * 0.3 * 90/365 = 281.0958904
    assert quote.premium_cents == 28_110


def test_module_doc_states_what_the_double_time_scaling_gives() -> None:
    """The yearly figures in pricing's module doc are what a quote costs at a 4% base rate."""
    doc = " ".join((pricing.__doc__ or "").split())
    assert "this project's formula" in doc and "no premium formula" in doc
    no_discount = premium_cents(PRICING, "USDC", 50_000, 365) / 100 / 50_000
    tier3 = premium_cents(PRICING, "USDC", 100_000, 365) / 100 / 100_000
    month = premium_cents(PRICING, "USDC", 5_000_000, 30) / 100 / 5_000_000 / (1 - 0.10)
    assert f"= {no_discount:.2%} of its coverage with every other factor 1" in doc
    assert f"and {tier3:.2%} when it takes the 5% discount of size tier 3" in doc
    assert f"sqrt(30/90) = {month:.2%}" in doc


def test_bad_quote_inputs_are_usage_errors() -> None:
    """Zero coverage, zero days, negative utilization or loss ratio, or a trigger above $1 fail."""
    with pytest.raises(UsageProblem, match="coverage"):
        premium_cents(PRICING, "USDC", 0, 90)
    with pytest.raises(UsageProblem, match="duration"):
        premium_cents(PRICING, "USDC", 100_000, 0)
    with pytest.raises(UsageProblem, match="utilization"):
        premium_cents(PRICING, "USDC", 100_000, 90, utilization=-0.1)
    with pytest.raises(UsageProblem, match="trigger"):
        premium_cents(PRICING, "USDC", 100_000, 90, 1.2)
    with pytest.raises(UsageProblem, match="loss ratio"):
        premium_cents(PRICING, "USDC", 100_000, 90, loss_ratio=-1.0)


@pytest.mark.parametrize(
    ("usd", "cents"),
    [
        (1.005, 101),
        (0.125, 13),
        (2.675, 268),
        (0.124999, 12),
        (936.986301369863, 93_699),
        (100.0, 10_000),
    ],
)
def test_round_cents_rounds_half_up_on_the_decimal_value(usd: float, cents: int) -> None:
    """Half a cent rounds up even where the float lies just below it (1.005 * 100 = 100.4999...)."""
    assert round_cents(usd) == cents


def test_live_parameter_change_changes_the_quote() -> None:
    """A snapshot with a new USDC rate prices with the new rate."""
    raised = dataclasses.replace(PRICING, base_rate={**PRICING.base_rate, "USDC": 0.05})
    # 100_000 * 0.05 * 0.95 * 90/365 = 1_171.2328767
    assert premium_cents(snapshot(pricing=raised), "USDC", 100_000, 90) == 117_123
    flat = dataclasses.replace(PRICING, size_discount_tiers=(Tier(100_000, 0.0),))
    assert premium_cents(flat, "USDC", 100_000, 90) == 98_630


def test_readme_yearly_example_is_what_a_quote_costs() -> None:
    """The README's 365-day example is the premium calculate_premium gives."""
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    cents = premium_cents(PRICING, "USDC", 100_000, 365)
    assert f"x 365/365 x sqrt(365/90) = ${cents / 100:,.2f}" in readme
