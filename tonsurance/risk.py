"""Actuarial risk from a snapshot's historical depeg events and stress scenarios.

The same formulas as the SQL functions of migrations/002 and 003 (a test compares them):

    annual_depeg_probability = 1 - exp(-n / lookback_years), n = verified events of the asset with
        low_price < threshold and start_date > as_of - lookback_years * 365.25 days
    expected_severity        = mean(1 - low_price), verified events of the asset with low_price < 1
    expected_loss_per_policy = P(asset, trigger, historical_data_years) * coverage
                               * mean(1 - low_price), verified events with low_price < trigger
    stressed_price           = 1 + price_impacts[asset]           (None if the asset is absent)
    stress_payout            = coverage * (1 - stressed) if stressed < trigger else 0
    stress test              = total_payout, btc_pnl = btc_exposure * btc_change,
                               capital_after = capital + btc_pnl - total_payout, solvent = >= 0
    (a mean over no events is 0)

Monte Carlo VaR, one simulated year at a time (`monte_carlo_var`, reproducible with its seed):
  - every asset the vault insures depegs with P = annual_depeg_probability(asset, DEPEG_THRESHOLD,
    historical_data_years); if it does, its low is drawn uniformly from the lows of the events
    that P counted;
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
import json
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tonsurance.config.model import DepegEvent, Snapshot, StressScenario
from tonsurance.errors import InvalidConfig, UsageProblem

DAYS_PER_YEAR = 365.25


def counted_events(
    events: Iterable[DepegEvent],
    asset: str,
    threshold: float,
    lookback_years: float,
    as_of: dt.date | None = None,
) -> Iterator[DepegEvent]:
    """The events that `annual_depeg_probability` counts."""
    if not lookback_years > 0:
        raise UsageProblem(f"lookback_years must be positive, got {lookback_years}")
    day = as_of or dt.date.today()
    window = lookback_years * DAYS_PER_YEAR
    for e in events:
        if (
            e.verified
            and e.asset == asset
            and e.low_price < threshold
            and (day - e.start_date).days < window
        ):
            yield e


def annual_depeg_probability(
    events: Iterable[DepegEvent],
    asset: str,
    threshold: float,
    lookback_years: float,
    as_of: dt.date | None = None,
) -> float:
    """The chance of at least one depeg below `threshold` in a year, from the lookback's rate."""
    n = sum(1 for _ in counted_events(events, asset, threshold, lookback_years, as_of))
    return 1.0 - math.exp(-(n / lookback_years))


def _mean_shortfall(events: Iterable[DepegEvent], asset: str, below: float) -> float:
    shortfalls = [
        1.0 - e.low_price
        for e in events
        if e.verified and e.asset == asset and e.low_price < below
    ]
    return sum(shortfalls) / len(shortfalls) if shortfalls else 0.0


def expected_severity(events: Iterable[DepegEvent], asset: str) -> float:
    """The mean depth of the asset's verified depegs below $1, as a fraction of the peg."""
    return _mean_shortfall(events, asset, 1.0)


def expected_loss_per_policy(
    snap: Snapshot,
    asset: str,
    coverage: float,
    trigger_price: float,
    as_of: dt.date | None = None,
) -> float:
    """The expected annual loss in USD of one policy, from the snapshot's history."""
    years = snap.risk.historical_data_years
    probability = annual_depeg_probability(snap.depegs, asset, trigger_price, years, as_of)
    return probability * coverage * _mean_shortfall(snap.depegs, asset, trigger_price)


def stressed_price(scenario: StressScenario, asset: str) -> float | None:
    """The asset's price under the scenario, or None when the scenario does not name it."""
    impact = scenario.price_impacts.get(asset)
    return None if impact is None else 1.0 + impact


def stress_payout(asset: str, coverage: float, trigger_price: float, scenario: StressScenario) -> float:
    """What one policy pays out under the scenario."""
    price = stressed_price(scenario, asset)
    if price is not None and price < trigger_price:
        return coverage * (1.0 - price)
    return 0.0


@dataclass(frozen=True, slots=True)
class Policy:
    asset: str
    coverage_usd: float
    trigger_price: float


@dataclass(frozen=True, slots=True)
class VaultSnapshot:
    """The vault as the stress tests see it; its JSON is what the SQL functions take."""

    capital_usd: float
    btc_exposure_usd: float
    policies: tuple[Policy, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "capital_usd": self.capital_usd,
            "btc_exposure_usd": self.btc_exposure_usd,
            "policies": [
                {"asset": p.asset, "coverage_usd": p.coverage_usd, "trigger_price": p.trigger_price}
                for p in self.policies
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VaultSnapshot:
        """Read the vault JSON object; a missing amount counts as 0, as in the SQL."""
        if not isinstance(data, Mapping):
            raise InvalidConfig("vault snapshot: expected a JSON object")
        policies = data.get("policies", [])
        if not isinstance(policies, list):
            raise InvalidConfig("vault snapshot: policies must be a list")
        parsed = []
        for i, item in enumerate(policies):
            where = f"vault snapshot: policies[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("asset"), str):
                raise InvalidConfig(f"{where}: expected an object with a string asset")
            parsed.append(
                Policy(
                    item["asset"],
                    _number(item, "coverage_usd", where, None),
                    _number(item, "trigger_price", where, None),
                )
            )
        return cls(
            _number(data, "capital_usd", "vault snapshot", 0.0),
            _number(data, "btc_exposure_usd", "vault snapshot", 0.0),
            tuple(parsed),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> VaultSnapshot:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidConfig(f"vault snapshot: not valid JSON ({exc})") from None
        return cls.from_dict(data)


def _number(data: Mapping[str, Any], key: str, where: str, default: float | None) -> float:
    value = data.get(key, default)
    if value is None:
        raise InvalidConfig(f"{where}: {key} is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidConfig(f"{where}: {key} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class StressResult:
    scenario_id: str
    total_payout: float
    btc_pnl: float
    capital_after: float
    solvent: bool

    @property
    def net_loss(self) -> float:
        """How much capital the scenario takes: payouts less the BTC gain (or plus its loss)."""
        return self.total_payout - self.btc_pnl


def run_stress_test(scenario: StressScenario, vault: VaultSnapshot) -> StressResult:
    """The vault's payouts, BTC profit or loss and remaining capital under one scenario."""
    total = 0.0
    for p in vault.policies:
        total += stress_payout(p.asset, p.coverage_usd, p.trigger_price, scenario)
    pnl = vault.btc_exposure_usd * scenario.btc_change
    after = vault.capital_usd + pnl - total
    return StressResult(scenario.id, total, pnl, after, after >= 0)


def run_all_stress_tests(snap: Snapshot, vault: VaultSnapshot) -> tuple[StressResult, ...]:
    """`run_stress_test` for every scenario of the snapshot, in order of scenario id."""
    return tuple(run_stress_test(s, vault) for s in sorted(snap.scenarios, key=lambda s: s.id))


def worst_stress_loss(results: Sequence[StressResult]) -> float:
    """The largest net loss of capital over the results, 0 when no scenario loses money."""
    return max([0.0, *(r.net_loss for r in results)])


DEPEG_THRESHOLD = 0.99


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
    result; `as_of` (default today) fixes which events fall inside the lookback window.
    """
    n = snap.risk.monte_carlo_simulations if simulations is None else simulations
    if n < 1:
        raise UsageProblem(f"simulations must be at least 1, got {n}")
    years = snap.risk.historical_data_years
    assets = sorted({p.asset for p in vault.policies})
    depegs: list[tuple[int, float, tuple[float, ...]]] = []
    for i, asset in enumerate(assets):
        lows = tuple(
            e.low_price for e in counted_events(snap.depegs, asset, DEPEG_THRESHOLD, years, as_of)
        )
        if lows:
            depegs.append((i, 1.0 - math.exp(-(len(lows) / years)), lows))
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
