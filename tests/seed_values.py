"""The source document's parameter values as a typed Snapshot, built without files or a database."""

from __future__ import annotations

from collections.abc import Iterable

from tonsurance.config.model import (
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
)

RISK = RiskParams(
    var_confidence_95=0.95,
    var_confidence_99=0.99,
    monte_carlo_simulations=10_000,
    historical_data_years=5.0,
    risk_free_rate=0.05,
    reserve_multiplier=1.5,
    stress_buffer_multiplier=0.5,
)

TRANCHES = (
    Tranche("SURE-BTC", 1, 0.04, 0.04, "flat", 25.0),
    Tranche("SURE-SNR", 2, 0.065, 0.10, "logarithmic", 20.0),
    Tranche("SURE-MEZZ", 3, 0.09, 0.15, "linear", 18.0),
    Tranche("SURE-JNR", 4, 0.125, 0.16, "sigmoidal", 15.0),
    Tranche("SURE-JNR+", 5, 0.16, 0.22, "quadratic", 12.0),
    Tranche("SURE-EQT", 6, 0.15, 0.25, "exponential", 10.0),
)


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
        depegs=events,
        scenarios=stress,
        values={},
        commit="0" * 40,
        source="test",
        tranche_by_id={t.id: t for t in TRANCHES},
        scenario_by_id={s.id: s for s in stress},
    )
