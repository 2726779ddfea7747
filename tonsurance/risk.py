"""Actuarial risk from a snapshot's historical depeg events and stress scenarios.

The same formulas as the SQL functions of migrations/014 and 015 (tests compare them on the
shipped configuration and on generated histories):

    annual_depeg_probability = 1 - exp(-n / lookback_years), n = verified events of the asset with
        low_price < threshold and 0 <= (as_of - start_date in days) < lookback_years * 365.25;
        1 exactly once n / lookback_years >= 40 (1 - exp(-x) rounds to 1 from x = 37.5 on; the
        SQL would otherwise fail with an underflow where Python gives 1)
    expected_severity        = mean(1 - low_price), verified events of the asset with low_price < 1
    expected_loss_per_policy = P(asset, trigger, historical_data_years, as_of) * coverage
                               * mean(1 - low_price), verified events with low_price < trigger
                               that started on or before as_of
    stressed_price           = 1 + price_impacts[asset]           (None if the asset is absent)
    stress_payout            = coverage * (1 - stressed) if stressed < trigger else 0
    stress test              = total_payout, btc_pnl = btc_exposure * btc_change,
                               capital_after = capital + btc_pnl - total_payout, solvent = >= 0
    (a mean over no events is 0)

`as_of` is a point in time: an event that starts after it is not counted, as if it had not
happened yet. Without one it is today's date in UTC, on both sides.

Monte Carlo VaR and the reserve requirement, which build on these, are in `tonsurance.var`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tonsurance.config.model import DepegEvent, Snapshot, StressScenario
from tonsurance.config.rules import utc_today
from tonsurance.errors import InvalidConfig, UsageProblem

DAYS_PER_YEAR = 365.25
SATURATION = 40.0  # n / lookback_years from which the probability is exactly 1


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
    day = as_of or utc_today()
    window = lookback_years * DAYS_PER_YEAR
    for e in events:
        if (
            e.verified
            and e.asset == asset
            and e.low_price < threshold
            and 0 <= (day - e.start_date).days < window
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
    return probability_from_count(n, lookback_years)


def probability_from_count(n: int, lookback_years: float) -> float:
    """1 - exp(-n / lookback_years), exactly 1 from n / lookback_years >= SATURATION on."""
    if n and lookback_years <= n / SATURATION:
        return 1.0
    return 1.0 - math.exp(-(n / lookback_years))


def _mean_shortfall(
    events: Iterable[DepegEvent], asset: str, below: float, until: dt.date | None = None
) -> float:
    shortfalls = [
        1.0 - e.low_price
        for e in events
        if e.verified
        and e.asset == asset
        and e.low_price < below
        and (until is None or e.start_date <= until)
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
    """The expected annual loss in USD of one policy, from the history known on `as_of` (UTC)."""
    day = as_of or utc_today()
    years = snap.risk.historical_data_years
    probability = annual_depeg_probability(snap.depegs, asset, trigger_price, years, day)
    return probability * coverage * _mean_shortfall(snap.depegs, asset, trigger_price, day)


def stressed_price(scenario: StressScenario, asset: str) -> float | None:
    """The asset's price under the scenario, or None when the scenario does not name it."""
    impact = scenario.price_impacts.get(asset)
    return None if impact is None else 1.0 + impact


def stress_payout(
    asset: str, coverage: float, trigger_price: float, scenario: StressScenario
) -> float:
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
