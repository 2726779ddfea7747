"""Tranche yields along their curves, and the split of vault capital across tranches.

A tranche's APY at utilization u (clamped to [0, 1]) is

    apy(u) = apy_min + (apy_max - apy_min) * shape(u)

where `shape` rises monotonically from shape(0) = 0 to shape(1) = 1, with k the curve's steepness
from the configuration (tranche.yaml `curve_steepness`, one per curve type that has one):

    flat         0 everywhere (the APY is apy_min; a valid flat tranche has apy_min = apy_max)
    linear       u
    logarithmic  log(1 + k u) / log(1 + k): rises fast, then levels off
    sigmoidal    (s(u) - s(0)) / (s(1) - s(0)), s(u) = 1 / (1 + exp(-k (u - 1/2))):
                 slow at both ends, steepest at half utilization
    quadratic    u^2: slow at first, then faster
    exponential  (exp(k u) - 1) / (exp(k) - 1): flat at first, steep near 1

The source document names the curve types but gives no formulas and no steepness: both are this
project's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tonsurance.config.model import CurveSteepness, Tranche
from tonsurance.errors import InvalidConfig, UsageProblem

CURVE_TYPES = ("flat", "linear", "logarithmic", "sigmoidal", "quadratic", "exponential")


def _sigmoid(k: float, u: float) -> float:
    return 1.0 / (1.0 + math.exp(-k * (u - 0.5)))


def _shape(curve_type: str, u: float, k: CurveSteepness) -> float:
    if curve_type == "linear":
        return u
    if curve_type == "quadratic":
        return u * u
    if curve_type == "logarithmic":
        return math.log1p(k.logarithmic * u) / math.log1p(k.logarithmic)
    if curve_type == "sigmoidal":
        s0 = _sigmoid(k.sigmoidal, 0.0)
        return (_sigmoid(k.sigmoidal, u) - s0) / (_sigmoid(k.sigmoidal, 1.0) - s0)
    if curve_type == "exponential":
        return math.expm1(k.exponential * u) / math.expm1(k.exponential)
    return 0.0


def curve_shape(curve_type: str, utilization: float, steepness: CurveSteepness) -> float:
    """The curve's position in [0, 1] at a utilization, clamped to [0, 1]; exact at both ends."""
    if curve_type not in CURVE_TYPES:
        raise InvalidConfig(
            f"unknown curve type {curve_type!r}; expected one of {', '.join(CURVE_TYPES)}"
        )
    if not utilization > 0.0:
        return 0.0
    if utilization >= 1.0:
        return 0.0 if curve_type == "flat" else 1.0
    return _shape(curve_type, utilization, steepness)


def tranche_apy(tranche: Tranche, utilization: float, steepness: CurveSteepness) -> float:
    """The tranche's APY (a fraction) at a vault utilization in [0, 1]."""
    shape = curve_shape(tranche.curve_type, utilization, steepness)
    if shape == 0.0:
        return tranche.apy_min
    if shape == 1.0:
        return tranche.apy_max
    return tranche.apy_min + (tranche.apy_max - tranche.apy_min) * shape


def apy_table(
    tranches: Iterable[Tranche], utilizations: Sequence[float], steepness: CurveSteepness
) -> dict[str, tuple[float, ...]]:
    """Each tranche's APY at each of the given utilizations, keyed by tranche id."""
    return {t.id: tuple(tranche_apy(t, u, steepness) for u in utilizations) for t in tranches}


def allocate_capital(tranches: Iterable[Tranche], capital_usd: float | Decimal) -> dict[str, int]:
    """Capital in cents per tranche, in proportion to allocation_percent, summing exactly.

    The total is rounded half up to the cent; each tranche gets the floor of its exact share and
    the cents left over go one each to the largest remainders (ties to the earlier tranche).
    Shares are allocation_percent over the sum of the given tranches' percents, which is 100 for
    the full set.
    """
    items = list(tranches)
    total = int(Decimal(str(capital_usd)).scaleb(2).to_integral_value(ROUND_HALF_UP))
    if total < 0:
        raise UsageProblem(f"capital must not be negative, got {capital_usd}")
    if not items:
        return {}
    weights = [Fraction(Decimal(repr(t.allocation_percent))) for t in items]
    weight_sum = sum(weights, Fraction(0))
    if weight_sum <= 0:
        raise InvalidConfig("tranche allocation percents sum to 0; nothing to allocate by")
    exact = [total * w / weight_sum for w in weights]
    cents = [math.floor(x) for x in exact]
    left = total - sum(cents)
    order = sorted(range(len(items)), key=lambda i: (-(exact[i] - cents[i]), i))
    for i in order[:left]:
        cents[i] += 1
    return {t.id: c for t, c in zip(items, cents)}
