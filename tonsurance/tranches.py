"""Tranche yields along their curves, and the split of vault capital across tranches.

A tranche's APY at utilization u (clamped to [0, 1]) is

    apy(u) = apy_min + (apy_max - apy_min) * shape(u)

where `shape` rises monotonically from shape(0) = 0 to shape(1) = 1:

    flat         0 everywhere (the APY is apy_min; a valid flat tranche has apy_min = apy_max)
    linear       u
    logarithmic  log(1 + k u) / log(1 + k), k = LOG_STEEPNESS: rises fast, then levels off
    sigmoidal    (s(u) - s(0)) / (s(1) - s(0)), s(u) = 1 / (1 + exp(-k (u - 1/2))),
                 k = SIGMOID_STEEPNESS: slow at both ends, steepest at half utilization
    quadratic    u^2: slow at first, then faster
    exponential  (exp(k u) - 1) / (exp(k) - 1), k = EXP_STEEPNESS: flat at first, steep near 1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tonsurance.config.model import Tranche
from tonsurance.errors import InvalidConfig, UsageProblem

LOG_STEEPNESS = 9.0
SIGMOID_STEEPNESS = 10.0
EXP_STEEPNESS = 3.0


def _sigmoid(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-SIGMOID_STEEPNESS * (u - 0.5)))


_SIG0 = _sigmoid(0.0)
_SIG_SPAN = _sigmoid(1.0) - _SIG0
_LOG_SPAN = math.log1p(LOG_STEEPNESS)
_EXP_SPAN = math.expm1(EXP_STEEPNESS)

SHAPES: dict[str, Callable[[float], float]] = {
    "flat": lambda u: 0.0,
    "linear": lambda u: u,
    "logarithmic": lambda u: math.log1p(LOG_STEEPNESS * u) / _LOG_SPAN,
    "sigmoidal": lambda u: (_sigmoid(u) - _SIG0) / _SIG_SPAN,
    "quadratic": lambda u: u * u,
    "exponential": lambda u: math.expm1(EXP_STEEPNESS * u) / _EXP_SPAN,
}


def curve_shape(curve_type: str, utilization: float) -> float:
    """The curve's position in [0, 1] at a utilization, clamped to [0, 1]; exact at both ends."""
    shape = SHAPES.get(curve_type)
    if shape is None:
        raise InvalidConfig(
            f"unknown curve type {curve_type!r}; expected one of {', '.join(SHAPES)}"
        )
    if not utilization > 0.0:
        return 0.0
    if utilization >= 1.0:
        return 0.0 if curve_type == "flat" else 1.0
    return shape(utilization)


def tranche_apy(tranche: Tranche, utilization: float) -> float:
    """The tranche's APY (a fraction) at a vault utilization in [0, 1]."""
    shape = curve_shape(tranche.curve_type, utilization)
    if shape == 0.0:
        return tranche.apy_min
    if shape == 1.0:
        return tranche.apy_max
    return tranche.apy_min + (tranche.apy_max - tranche.apy_min) * shape


def apy_table(
    tranches: Iterable[Tranche], utilizations: Sequence[float]
) -> dict[str, tuple[float, ...]]:
    """Each tranche's APY at each of the given utilizations, keyed by tranche id."""
    return {t.id: tuple(tranche_apy(t, u) for u in utilizations) for t in tranches}


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
