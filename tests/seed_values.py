"""The shipped parameter values as a typed Snapshot, built without files or a database.

All of them are the source document's except the ones this project adds, which the document
does not give: `claims_factor_floor`, `depeg_threshold` and the curve steepness (STEEPNESS).
Below them, SOURCE_PINS names the document line of every value the document does give.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tonsurance.config.model import (
    CurveSteepness,
    DepegEvent,
    PricingParams,
    RiskParams,
    Snapshot,
    StressScenario,
    Tier,
    Tranche,
)

BASE_RATES = {
    "USDC": 0.04,
    "USDT": 0.06,
    "DAI": 0.05,
    "FRAX": 0.08,
    "BUSD": 0.045,
    "USDP": 0.05,
    "USDe": 0.07,
    "sUSDe": 0.075,
    "USDY": 0.055,
    "PYUSD": 0.05,
    "GHO": 0.065,
    "LUSD": 0.055,
    "crvUSD": 0.07,
    "mkUSD": 0.075,
}

PRICING = PricingParams(
    base_rate=BASE_RATES,
    base_rate_default=0.10,
    risk_weight={
        "reserve_quality": 0.30,
        "banking_exposure": 0.25,
        "redemption_velocity": 0.20,
        "market_depth": 0.15,
        "regulatory_clarity": -0.10,
    },
    size_discount_tiers=(Tier(10_000_000, 0.20), Tier(1_000_000, 0.10), Tier(100_000, 0.05)),
    utilization_tiers=(Tier(0.90, 1.50), Tier(0.75, 1.25), Tier(0.50, 1.10)),
    duration_base_days=90,
    trigger_base_price=0.97,
    trigger_adjustment_factor=0.5,
    target_loss_ratio=0.40,
    claims_adjustment_dampener=0.5,
    min_premium_absolute_usd=100.0,
    min_premium_rate=0.01,
    claims_factor_floor=0.5,
)

RISK = RiskParams(
    var_confidence_95=0.95,
    var_confidence_99=0.99,
    monte_carlo_simulations=10_000,
    historical_data_years=5.0,
    risk_free_rate=0.05,
    reserve_multiplier=1.5,
    stress_buffer_multiplier=0.5,
    depeg_threshold=0.99,
)

TRANCHES = (
    Tranche("SURE-BTC", 1, 0.04, 0.04, "flat", 25.0),
    Tranche("SURE-SNR", 2, 0.065, 0.10, "logarithmic", 20.0),
    Tranche("SURE-MEZZ", 3, 0.09, 0.15, "linear", 18.0),
    Tranche("SURE-JNR", 4, 0.125, 0.16, "sigmoidal", 15.0),
    Tranche("SURE-JNR+", 5, 0.16, 0.22, "quadratic", 12.0),
    Tranche("SURE-EQT", 6, 0.15, 0.25, "exponential", 10.0),
)

STEEPNESS = CurveSteepness(logarithmic=9.0, sigmoidal=10.0, exponential=3.0)


def snapshot(
    *,
    pricing: PricingParams = PRICING,
    risk: RiskParams = RISK,
    depegs: Iterable[DepegEvent] = (),
    scenarios: Iterable[StressScenario] = (),
) -> Snapshot:
    """A snapshot of the document's parameters with the given events and scenarios."""
    events = tuple(depegs)
    stress = tuple(scenarios)
    return Snapshot(
        pricing=pricing,
        risk=risk,
        tranches=TRANCHES,
        curve_steepness=STEEPNESS,
        depegs=events,
        scenarios=stress,
        values={},
        commit="0" * 40,
        source="test",
        tranche_by_id={t.id: t for t in TRANCHES},
        scenario_by_id={s.id: s for s in stress},
    )


# -- the values the source document gives, with the line of tests/data/source_report.txt (a copy
# -- of the document) that gives each: a change that drifts from the document fails
# -- tests/test_source_values.py until this table changes with it.


@dataclass(frozen=True, slots=True)
class Pin:
    """One value of the shipped configuration that the source document gives.

    `where` is a parameter (category, key) or a table row field (table, row id, column);
    `line` is the document's line number and `text` the words on that line that give `value`.
    """

    where: tuple[str, ...]
    value: Any
    line: int
    text: str


def _rates(line: int, text: str) -> list[Pin]:
    pins = []
    for item in text.split(", "):
        asset, percent = item.split(": ")
        pins.append(
            Pin(("pricing", f"base_rate_{asset}"), float(percent.rstrip("%")) / 100, line, item)
        )
    return pins


def _tranche(line: int, name: str, tier: int, apy: tuple[float, float], curve: str, share: int):
    low, high = apy
    apy_text = f"APY: {low:.1f}% flat" if low == high else f"APY: {low:.1f}% → {high:.1f}%"
    return [
        Pin(("tranche", f"{name}_tier"), tier, line, f"**{name} (Tier {tier}):**"),
        Pin(("tranche", f"{name}_apy_min"), low / 100, line + 1, apy_text),
        Pin(("tranche", f"{name}_apy_max"), high / 100, line + 1, apy_text),
        Pin(("tranche", f"{name}_curve_type"), curve, line + 2, f"Curve: {curve.capitalize()}"),
        Pin(("tranche", f"{name}_allocation_percent"), share, line + 3, f"Allocation: {share}%"),
    ]


def _event(line: int, id: str, low: float, hours: int, month: str, text: str) -> list[Pin]:
    row = ("historical_depegs", id)
    return [
        Pin((*row, "asset"), id.split("-")[0].upper(), line, text.split(" @")[0]),
        Pin((*row, "low_price"), low, line, f"@ ${low:.2f}"),
        Pin((*row, "duration_hours"), hours, line, text.rsplit(" - ", 1)[1]),
        Pin((*row, "start_month"), month, line, text),
        Pin((*row, "verified"), True, line, text),
    ]


def _scenario(line: int, id: str, name: str, severity: str, probability: str) -> list[Pin]:
    row = ("stress_scenarios", id)
    words = f"**{name}** - {severity.capitalize()} severity, {probability} annual probability"
    return [
        Pin((*row, "name"), name, line, f"**{name}**"),
        Pin((*row, "severity"), severity, line, words),
        Pin((*row, "annual_probability"), float(probability.rstrip("%")) / 100, line, words),
    ]


SOURCE_PINS: tuple[Pin, ...] = (
    *_rates(368, "USDC: 4.0%, USDT: 6.0%, DAI: 5.0%, FRAX: 8.0%, BUSD: 4.5%"),
    *_rates(369, "USDP: 5.0%, USDe: 7.0%, sUSDe: 7.5%, USDY: 5.5%, PYUSD: 5.0%"),
    *_rates(370, "GHO: 6.5%, LUSD: 5.5%, crvUSD: 7.0%, mkUSD: 7.5%"),
    Pin(("pricing", "base_rate_default"), 0.10, 371, "Default (unknown): 10.0%"),
    Pin(("pricing", "risk_weight_reserve_quality"), 0.30, 374, "Reserve quality: 0.30"),
    Pin(("pricing", "risk_weight_banking_exposure"), 0.25, 375, "Banking exposure: 0.25"),
    Pin(("pricing", "risk_weight_redemption_velocity"), 0.20, 376, "Redemption velocity: 0.20"),
    Pin(("pricing", "risk_weight_market_depth"), 0.15, 377, "Market depth: 0.15"),
    Pin(("pricing", "risk_weight_regulatory_clarity"), -0.10, 378, "Regulatory clarity: -0.10"),
    Pin(("pricing", "size_discount_tier1_threshold"), 10_000_000.0, 381, "Tier 1: $10M+"),
    Pin(("pricing", "size_discount_tier1_discount"), 0.20, 381, "20% discount"),
    Pin(("pricing", "size_discount_tier2_threshold"), 1_000_000.0, 382, "Tier 2: $1M+"),
    Pin(("pricing", "size_discount_tier2_discount"), 0.10, 382, "10% discount"),
    Pin(("pricing", "size_discount_tier3_threshold"), 100_000.0, 383, "Tier 3: $100K+"),
    Pin(("pricing", "size_discount_tier3_discount"), 0.05, 383, "5% discount"),
    Pin(("pricing", "utilization_tier1_threshold"), 0.90, 386, "Tier 1: 90%+"),
    Pin(("pricing", "utilization_tier1_multiplier"), 1.50, 386, "1.50x"),
    Pin(("pricing", "utilization_tier2_threshold"), 0.75, 387, "Tier 2: 75%+"),
    Pin(("pricing", "utilization_tier2_multiplier"), 1.25, 387, "1.25x"),
    Pin(("pricing", "utilization_tier3_threshold"), 0.50, 388, "Tier 3: 50%+"),
    Pin(("pricing", "utilization_tier3_multiplier"), 1.10, 388, "1.10x"),
    Pin(("pricing", "duration_base_days"), 90, 391, "Duration base: 90 days"),
    Pin(("pricing", "trigger_base_price"), 0.97, 392, "Trigger base price: $0.97"),
    Pin(("pricing", "trigger_adjustment_factor"), 0.5, 393, "Trigger adjustment factor: 0.5"),
    Pin(("pricing", "target_loss_ratio"), 0.40, 394, "Target loss ratio: 40%"),
    Pin(("pricing", "claims_adjustment_dampener"), 0.5, 395, "Claims adjustment dampener: 0.5"),
    Pin(("pricing", "min_premium_absolute_usd"), 100.0, 396, "Min premium absolute: $100"),
    Pin(("pricing", "min_premium_rate"), 0.01, 397, "Min premium rate: 1%"),
    Pin(("risk", "var_confidence_95"), 0.95, 401, "VaR confidence (95%): 0.95"),
    Pin(("risk", "var_confidence_99"), 0.99, 402, "VaR confidence (99%): 0.99"),
    Pin(("risk", "monte_carlo_simulations"), 10_000, 403, "Monte Carlo simulations: 10,000"),
    Pin(("risk", "historical_data_years"), 5.0, 404, "Historical data years: 5.0"),
    Pin(("risk", "risk_free_rate"), 0.05, 405, "Risk-free rate: 5%"),
    Pin(("risk", "reserve_multiplier"), 1.5, 406, "Reserve multiplier: 1.5x"),
    Pin(("risk", "stress_buffer_multiplier"), 0.5, 407, "Stress buffer multiplier: 0.5x"),
    *_tranche(411, "SURE-BTC", 1, (4.0, 4.0), "flat", 25),
    *_tranche(416, "SURE-SNR", 2, (6.5, 10.0), "logarithmic", 20),
    *_tranche(421, "SURE-MEZZ", 3, (9.0, 15.0), "linear", 18),
    *_tranche(426, "SURE-JNR", 4, (12.5, 16.0), "sigmoidal", 15),
    *_tranche(431, "SURE-JNR+", 5, (16.0, 22.0), "quadratic", 12),
    *_tranche(436, "SURE-EQT", 6, (15.0, 25.0), "exponential", 10),
    *_event(
        60, "usdc-svb-2023", 0.88, 48, "2023-03", "USDC @ $0.88 (SVB Crisis, March 2023) - 48h"
    ),
    *_event(
        61,
        "usdt-ust-contagion-2022",
        0.95,
        24,
        "2022-05",
        "USDT @ $0.95 (UST Collapse, May 2022) - 24h",
    ),
    *_event(
        62,
        "frax-ust-contagion-2022",
        0.88,
        72,
        "2022-05",
        "FRAX @ $0.88 (UST Contagion, May 2022) - 72h",
    ),
    *_event(
        63,
        "gho-launch-2023",
        0.96,
        720,
        "2023-07",
        "GHO @ $0.96 (Launch Depeg, July 2023) - 30 days",
    ),
    *_scenario(81, "banking_crisis", "Banking Crisis (SVB)", "high", "2%"),
    Pin(("stress_scenarios", "banking_crisis", "btc_change"), 0.27, 82, "BTC +27%"),
    Pin(("stress_scenarios", "banking_crisis", "price_impacts.USDC"), -0.12, 82, "USDC → $0.88"),
    *_scenario(85, "crypto_crash", "Crypto Crash", "high", "5%"),
    Pin(("stress_scenarios", "crypto_crash", "btc_change"), -0.50, 86, "BTC -50%"),
    *_scenario(89, "regulatory_shutdown", "Regulatory Shutdown", "extreme", "1%"),
    *_scenario(93, "multiple_stablecoin_failure", "Multiple Stablecoin Failure", "extreme", "0.5%"),
    Pin(("stress_scenarios", "multiple_stablecoin_failure", "btc_change"), 0.50, 95, "(+50%)"),
)

# Events per asset (document lines 443 to 454): the history has these rows and no others.
EVENT_COUNTS: dict[str, tuple[int, int]] = {
    "USDC": (2, 444),
    "USDT": (2, 445),
    "DAI": (1, 446),
    "USDP": (1, 447),
    "FRAX": (2, 448),
    "BUSD": (1, 449),
    "PYUSD": (1, 450),
    "GHO": (1, 451),
    "LUSD": (1, 452),
    "crvUSD": (1, 453),
    "mkUSD": (1, 454),
}
EVENT_TOTAL = (14, 443, "**14 Depeg Events:**")
SCENARIO_TOTAL = (4, 456, "**4 Stress Scenarios:**")
