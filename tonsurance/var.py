"""Monte Carlo value at risk of a vault's annual payouts, and the reserve it calls for.

Monte Carlo VaR, one simulated year at a time (`monte_carlo_var`, reproducible with its seed):
  - every asset the vault insures depegs with P = annual_depeg_probability(asset, depeg_threshold,
    historical_data_years) (both risk parameters); if it does, its low is drawn uniformly from the
    lows of the events that P counted;
  - every scenario, in order of id, happens with its annual_probability; if it does, each asset it
    names trades at its stressed price;
  - an asset's price for the year is the lowest of these (1 if none); each policy pays
    coverage * (1 - price) when price < trigger, and the year's loss is the sum of the payouts
    (BTC exposure is left to the stress tests);
  - VaR at confidence c is the c-quantile of the losses: the k-th smallest, k = ceil(c * n).

reserve_requirement = reserve_multiplier * expected simulated loss
                      + stress_buffer_multiplier * worst net stress loss (payouts - BTC pnl, >= 0)
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from tonsurance.config.model import Snapshot
from tonsurance.errors import UsageProblem
from tonsurance.risk import (
    StressResult,
    VaultSnapshot,
    counted_events,
    probability_from_count,
    run_all_stress_tests,
    stressed_price,
    worst_stress_loss,
)


@dataclass(frozen=True, slots=True)
class VarResult:
    var_95: float
    var_99: float
    confidence_95: float
    confidence_99: float
    expected_loss: float
    max_loss: float
    simulations: int
    seed: int


def quantile(sorted_losses: Sequence[float], confidence: float) -> float:
    """The c-quantile of ascending losses: the k-th smallest, k = ceil(c * n) (at least 1)."""
    n = len(sorted_losses)
    k = math.ceil(Fraction(Decimal(repr(confidence))) * n)
    return sorted_losses[min(max(k, 1), n) - 1]


def monte_carlo_var(
    snap: Snapshot,
    vault: VaultSnapshot,
    *,
    seed: int,
    simulations: int | None = None,
    as_of: dt.date | None = None,
) -> VarResult:
    """Value at risk of the vault's annual payouts at both configured confidence levels.

    The model is in the module docstring. The same seed, snapshot, vault and `as_of` give the same
    result; `as_of` (default today in UTC) fixes which events fall inside the lookback window.
    """
    n = snap.risk.monte_carlo_simulations if simulations is None else simulations
    if n < 1:
        raise UsageProblem(f"simulations must be at least 1, got {n}")
    years = snap.risk.historical_data_years
    threshold = snap.risk.depeg_threshold
    assets = sorted({p.asset for p in vault.policies})
    depegs: list[tuple[int, float, tuple[float, ...]]] = []
    for i, asset in enumerate(assets):
        lows = tuple(
            e.low_price for e in counted_events(snap.depegs, asset, threshold, years, as_of)
        )
        if lows:
            depegs.append((i, probability_from_count(len(lows), years), lows))
    shocks: list[tuple[float, list[tuple[int, float]]]] = []
    for s in sorted(snap.scenarios, key=lambda s: s.id):
        prices = [(i, stressed_price(s, a)) for i, a in enumerate(assets)]
        shocks.append((s.annual_probability, [(i, p) for i, p in prices if p is not None]))
    cover: list[list[tuple[float, float]]] = [[] for _ in assets]
    for p in vault.policies:
        cover[assets.index(p.asset)].append((p.trigger_price, p.coverage_usd))

    rng = random.Random(seed)
    draw = rng.random
    losses: list[float] = []
    for _ in range(n):
        price = [1.0] * len(assets)
        for i, probability, lows in depegs:
            if draw() < probability:
                low = lows[rng.randrange(len(lows))]
                if low < price[i]:
                    price[i] = low
        for probability, impacts in shocks:
            if draw() < probability:
                for i, stressed in impacts:
                    if stressed < price[i]:
                        price[i] = stressed
        loss = 0.0
        for i, x in enumerate(price):
            if x < 1.0:
                for trigger, coverage in cover[i]:
                    if x < trigger:
                        loss += coverage * (1.0 - x)
        losses.append(loss)
    losses.sort()
    c95, c99 = snap.risk.var_confidence_95, snap.risk.var_confidence_99
    return VarResult(
        var_95=quantile(losses, c95),
        var_99=quantile(losses, c99),
        confidence_95=c95,
        confidence_99=c99,
        expected_loss=math.fsum(losses) / n,
        max_loss=losses[-1],
        simulations=n,
        seed=seed,
    )


def reserve_requirement(
    snap: Snapshot,
    vault: VaultSnapshot,
    var_result: VarResult,
    stress_results: Sequence[StressResult] | None = None,
) -> float:
    """USD to hold in reserve: the multiplied expected loss plus a buffer for the worst scenario.

    The expected loss is the mean simulated annual loss of `var_result`; without `stress_results`
    the snapshot's scenarios are run against the vault.
    """
    results = run_all_stress_tests(snap, vault) if stress_results is None else stress_results
    return (
        snap.risk.reserve_multiplier * var_result.expected_loss
        + snap.risk.stress_buffer_multiplier * worst_stress_loss(results)
    )
