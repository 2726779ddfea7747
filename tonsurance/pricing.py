"""Premium quotes from the pricing parameters of one configuration snapshot.

Amounts are USD until the end; the premium is integer cents. With `p` the `PricingParams`:

    rate     = p.base_rate[asset], else p.base_rate_default          (annual, fraction of coverage)
    risk     = max(0, 1 + sum(p.risk_weight[f] * risk_scores[f]))     (no scores: 1)
    trigger  = max(0, 1 + p.trigger_adjustment_factor
                          * (trigger_price - p.trigger_base_price) / p.trigger_base_price)
    size     = 1 - discount of the size tier with the largest threshold <= coverage  (none: 1)
    util     = multiplier of the utilization tier with the largest threshold <= utilization (none: 1)
    claims   = max(p.claims_factor_floor,
                   1 + p.claims_adjustment_dampener * (loss_ratio / p.target_loss_ratio - 1))
    duration = sqrt(duration_days / p.duration_base_days)
    computed = coverage * rate * risk * trigger * size * util * claims * duration_days / 365 * duration
    minimum  = max(p.min_premium_absolute_usd, coverage * p.min_premium_rate * duration_days / 365)
    premium  = max(computed, minimum), rounded half up to the cent once, at the end

Risk scores are inputs of the quote in [0, 1], one per weighted factor (the source document gives
weights but no per-asset scores): 1 means the factor applies fully. A positive weight raises the
premium as its score rises; `regulatory_clarity` has a negative weight, so clarity lowers it.

Time enters twice. This is this project's formula: the source document lists a "Duration base:
90 days" among the pricing parameters but gives no premium formula. The annual rate is pro-rated
by days/365, and the duration factor sqrt(days / duration_base_days) adds that risk grows as the
square root of time, as the spread of a random walk does: a policy longer than the base duration
costs more per day and a shorter one less. At the base duration (90 days) the factor is 1 and the
premium is the plain pro-rated rate. A 365-day policy at a 4% base rate costs
0.04 x 365/365 x sqrt(365/90) = 8.06% of its coverage with every other factor 1, and 7.65% when it
takes the 5% discount of size tier 3 (e.g. 100,000 USDC); a 30-day one costs
0.04 x 30/365 x sqrt(30/90) = 0.19% (before the minimum-premium rules).

The trigger factor moves the premium by the adjustment factor times the trigger's relative move
from the base trigger price: with base 0.97 and factor 0.5, a trigger of 1.00 costs 1.5464%
more and one of 0.90 costs 3.6082% less. No trigger given means the base trigger (factor 1).

Claims experience: a loss ratio at the target (the default) gives 1; above it the premium rises,
below it falls, by the dampener times the relative miss. `claims_factor_floor` (0.5 in the
shipped configuration) keeps a book with few claims from discounting more than half the premium.

The minimum rate rule is pro-rated like the premium: 1% a year of coverage is 0.2466% for 90 days.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from tonsurance.config.model import PricingParams, Snapshot, Tier
from tonsurance.errors import UsageProblem

DAYS_PER_YEAR = 365  # the day count of the pro-rating: days/365


@dataclass(frozen=True, slots=True)
class Quote:
    """A premium and every factor that made it, for explanation."""

    premium_cents: int
    asset: str
    base_rate: float
    risk_factor: float
    trigger_factor: float
    size_factor: float
    utilization_multiplier: float
    claims_factor: float
    duration_factor: float
    computed_usd: float
    minimum_usd: float

    @property
    def minimum_applied(self) -> bool:
        """True when a minimum-premium rule, not the rated premium, set the price."""
        return self.minimum_usd > self.computed_usd


class PriceParts(NamedTuple):
    """The premium in cents and the factors that made it: what the formula returns.

    A tuple, so that `calculate_premium` unpacks it at tuple speed on the hot path.
    """

    cents: int
    rate: float
    risk: float
    trigger: float
    size: float
    util: float
    claims: float
    duration: float
    computed: float
    minimum: float


def get_base_rate(params: PricingParams, asset: str) -> float:
    """The asset's annual base rate, or the default rate for an asset without one."""
    return params.base_rate.get(asset, params.base_rate_default)


def get_risk_weight(params: PricingParams, factor: str) -> float:
    """The weight of one risk-adjustment factor; an unknown factor is a usage error."""
    weight = params.risk_weight.get(factor)
    if weight is None:
        raise _unknown_factor(params, factor)
    return weight


def _unknown_factor(params: PricingParams, factor: str) -> UsageProblem:
    known = ", ".join(sorted(params.risk_weight))
    return UsageProblem(f"unknown risk factor {factor!r}; known factors: {known}")


def get_size_discount(params: PricingParams, coverage_usd: float) -> float:
    """The discount of the tier with the largest threshold at or below the coverage, else 0."""
    return _tier_value(params.size_discount_tiers, coverage_usd, 0.0)


def get_utilization_multiplier(params: PricingParams, utilization: float) -> float:
    """The multiplier of the tier with the largest threshold at or below utilization, else 1."""
    return _tier_value(params.utilization_tiers, utilization, 1.0)


def _tier_value(tiers: tuple[Tier, ...], x: float, default: float) -> float:
    best = -math.inf
    value = default
    for tier in tiers:
        if best < tier.threshold <= x:
            best = tier.threshold
            value = tier.value
    return value


def round_cents(usd: float) -> int:
    """USD to integer cents, half up, on the shortest decimal that names the float.

    Amounts clearly away from a half cent take the float path; the rest go through Decimal, so
    1.005 becomes 101 cents. Exact for amounts below a billion dollars.
    """
    cents = usd * 100.0
    whole = math.floor(cents)
    if abs(cents - whole - 0.5) > 1e-3:
        return whole + (cents - whole > 0.5)
    return int(Decimal(repr(usd)).scaleb(2).to_integral_value(ROUND_HALF_UP))


def _price(
    p: PricingParams,
    asset: str,
    coverage_usd: float,
    duration_days: int,
    trigger_price: float | None,
    risk_scores: Mapping[str, float] | None,
    utilization: float,
    loss_ratio: float | None,
) -> PriceParts:
    if not coverage_usd > 0:
        raise UsageProblem(f"coverage must be a positive amount of USD, got {coverage_usd}")
    if duration_days < 1:
        raise UsageProblem(f"duration must be at least one day, got {duration_days}")
    if not utilization >= 0:
        raise UsageProblem(f"utilization must be 0 or more, got {utilization}")
    (
        rates,
        default_rate,
        weights,
        size_tiers,
        util_tiers,
        base_days,
        base_price,
        adjustment,
        target_loss,
        dampener,
        min_absolute,
        min_rate,
        claims_floor,
    ) = p.hot

    try:
        rate = rates[asset]
    except KeyError:
        rate = default_rate

    risk = 1.0
    if risk_scores:
        for factor, score in risk_scores.items():
            if not 0.0 <= score <= 1.0:
                raise UsageProblem(f"risk score {factor}={score} is outside [0, 1]")
            weight = weights.get(factor)
            if weight is None:
                raise _unknown_factor(p, factor)
            risk += weight * score
        if risk < 0.0:
            risk = 0.0

    trigger = 1.0
    if trigger_price is not None:
        if not 0.0 < trigger_price <= 1.0:
            raise UsageProblem(f"trigger price must be in (0, 1], got {trigger_price}")
        trigger += adjustment * (trigger_price - base_price) / base_price
        if trigger < 0.0:
            trigger = 0.0

    size = 1.0
    best = -1.0
    for tier in size_tiers:
        if best < tier.threshold <= coverage_usd:
            best = tier.threshold
            size = 1.0 - tier.value

    util = 1.0
    best = -1.0
    for tier in util_tiers:
        if best < tier.threshold <= utilization:
            best = tier.threshold
            util = tier.value

    claims = 1.0
    if loss_ratio is not None:
        if not loss_ratio >= 0:
            raise UsageProblem(f"loss ratio must be 0 or more, got {loss_ratio}")
        claims += dampener * (loss_ratio / target_loss - 1.0)
        if claims < claims_floor:
            claims = claims_floor

    duration = math.sqrt(duration_days / base_days)
    years = duration_days / DAYS_PER_YEAR
    computed = coverage_usd * rate * risk * trigger * size * util * claims * years * duration
    minimum = coverage_usd * min_rate * years
    if min_absolute > minimum:
        minimum = min_absolute
    cents = round_cents(computed if computed >= minimum else minimum)
    return PriceParts(cents, rate, risk, trigger, size, util, claims, duration, computed, minimum)


def premium_cents(
    snap: Snapshot | PricingParams,
    asset: str,
    coverage_usd: float,
    duration_days: int,
    trigger_price: float | None = None,
    *,
    risk_scores: Mapping[str, float] | None = None,
    utilization: float = 0.0,
    loss_ratio: float | None = None,
) -> int:
    """The premium in cents, without the breakdown; the same number as `calculate_premium`."""
    p = snap.pricing
    return _price(
        p, asset, coverage_usd, duration_days, trigger_price, risk_scores, utilization, loss_ratio
    )[0]


def calculate_premium(
    snap: Snapshot | PricingParams,
    asset: str,
    coverage_usd: float,
    duration_days: int,
    trigger_price: float | None = None,
    *,
    risk_scores: Mapping[str, float] | None = None,
    utilization: float = 0.0,
    loss_ratio: float | None = None,
) -> Quote:
    """A quote for `coverage_usd` of `asset` over `duration_days`; the formula is in the module doc.

    Reads one `PricingParams` for the whole call, so a quote never mixes two configurations.
    """
    p = snap.pricing
    cents, rate, risk, trigger, size, util, claims, duration, computed, minimum = _price(
        p, asset, coverage_usd, duration_days, trigger_price, risk_scores, utilization, loss_ratio
    )
    return Quote(cents, asset, rate, risk, trigger, size, util, claims, duration, computed, minimum)
