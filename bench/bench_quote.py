"""A quote with live configuration against the same quote with the values as module constants,
measured in the same run; then quote latency percentiles with and without a thread that reloads
the configuration from the database continuously.

Three ways to price, all giving the same cents (checked before timing):
  constants  `constants_price` below: tonsurance.pricing._price written out with every value a
             module constant (a dict of rates, tuples of Tier, floats), wrapped like
             calculate_premium: the hard-coded baseline, statement for statement the same code;
  params     calculate_premium on a PricingParams built once at import from those constants;
  live       calculate_premium(loader.snapshot, ...): the snapshot the loader holds right now.

    .venv/bin/python bench/bench_quote.py
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Mapping

from bench_loader import live_loader

from tonsurance.config import ConfigLoader
from tonsurance.config.model import PricingParams, Tier
from tonsurance.errors import UsageProblem
from tonsurance.pricing import (
    DAYS_PER_YEAR,
    PriceParts,
    Quote,
    calculate_premium,
    round_cents,
)

BASE_RATES = {
    "USDC": 0.04,
    "USDT": 0.06,
    "BUSD": 0.045,
    "USDP": 0.05,
    "PYUSD": 0.05,
    "USDY": 0.055,
    "DAI": 0.05,
    "FRAX": 0.08,
    "GHO": 0.065,
    "LUSD": 0.055,
    "crvUSD": 0.07,
    "mkUSD": 0.075,
    "USDe": 0.07,
    "sUSDe": 0.075,
}
BASE_RATE_DEFAULT = 0.10
RISK_WEIGHTS = {
    "reserve_quality": 0.30,
    "banking_exposure": 0.25,
    "redemption_velocity": 0.20,
    "market_depth": 0.15,
    "regulatory_clarity": -0.10,
}
SIZE_TIERS = (Tier(10_000_000.0, 0.20), Tier(1_000_000.0, 0.10), Tier(100_000.0, 0.05))
UTILIZATION_TIERS = (Tier(0.90, 1.50), Tier(0.75, 1.25), Tier(0.50, 1.10))
DURATION_BASE_DAYS = 90
TRIGGER_BASE_PRICE = 0.97
TRIGGER_ADJUSTMENT_FACTOR = 0.5
TARGET_LOSS_RATIO = 0.40
CLAIMS_ADJUSTMENT_DAMPENER = 0.5
MIN_PREMIUM_ABSOLUTE_USD = 100.0
MIN_PREMIUM_RATE = 0.01
CLAIMS_FACTOR_FLOOR = 0.5

CONSTANT_PARAMS = PricingParams(
    base_rate=dict(BASE_RATES),
    base_rate_default=BASE_RATE_DEFAULT,
    risk_weight=dict(RISK_WEIGHTS),
    size_discount_tiers=SIZE_TIERS,
    utilization_tiers=UTILIZATION_TIERS,
    duration_base_days=DURATION_BASE_DAYS,
    trigger_base_price=TRIGGER_BASE_PRICE,
    trigger_adjustment_factor=TRIGGER_ADJUSTMENT_FACTOR,
    target_loss_ratio=TARGET_LOSS_RATIO,
    claims_adjustment_dampener=CLAIMS_ADJUSTMENT_DAMPENER,
    min_premium_absolute_usd=MIN_PREMIUM_ABSOLUTE_USD,
    min_premium_rate=MIN_PREMIUM_RATE,
    claims_factor_floor=CLAIMS_FACTOR_FLOOR,
)

INPUTS = [
    ("USDC", 100_000.0, 90, None, 0.0),
    ("USDT", 2_500_000.0, 180, 0.95, 0.8),
    ("DAI", 40_000.0, 30, None, 0.55),
    ("FRAX", 15_000_000.0, 365, 0.99, 0.95),
    ("XYZ", 250_000.0, 60, 0.9, 0.3),
]
THROUGHPUT_CALLS = 10_000
ROUNDS = 40
LATENCY_CALLS = 200_000
LATENCY_CHUNKS = 8
TARGET = 0.97


def constants_price(
    p: None,
    asset: str,
    coverage_usd: float,
    duration_days: int,
    trigger_price: float | None,
    risk_scores: Mapping[str, float] | None,
    utilization: float,
    loss_ratio: float | None,
) -> PriceParts:
    """tonsurance.pricing._price written out with the values as module constants: the same
    statements in the same order, so the two differ only in where the values come from."""
    if not coverage_usd > 0:
        raise UsageProblem(f"coverage must be a positive amount of USD, got {coverage_usd}")
    if duration_days < 1:
        raise UsageProblem(f"duration must be at least one day, got {duration_days}")
    if not utilization >= 0:
        raise UsageProblem(f"utilization must be 0 or more, got {utilization}")

    try:
        rate = BASE_RATES[asset]
    except KeyError:
        rate = BASE_RATE_DEFAULT

    risk = 1.0
    if risk_scores:
        for factor, score in risk_scores.items():
            if not 0.0 <= score <= 1.0:
                raise UsageProblem(f"risk score {factor}={score} is outside [0, 1]")
            weight = RISK_WEIGHTS.get(factor)
            if weight is None:
                raise UsageProblem(f"unknown risk factor {factor!r}")
            risk += weight * score
        if risk < 0.0:
            risk = 0.0

    trigger = 1.0
    if trigger_price is not None:
        if not 0.0 < trigger_price <= 1.0:
            raise UsageProblem(f"trigger price must be in (0, 1], got {trigger_price}")
        trigger += TRIGGER_ADJUSTMENT_FACTOR * (trigger_price - TRIGGER_BASE_PRICE) / TRIGGER_BASE_PRICE
        if trigger < 0.0:
            trigger = 0.0

    size = 1.0
    best = -1.0
    for tier in SIZE_TIERS:
        if best < tier.threshold <= coverage_usd:
            best = tier.threshold
            size = 1.0 - tier.value

    util = 1.0
    best = -1.0
    for tier in UTILIZATION_TIERS:
        if best < tier.threshold <= utilization:
            best = tier.threshold
            util = tier.value

    claims = 1.0
    if loss_ratio is not None:
        if not loss_ratio >= 0:
            raise UsageProblem(f"loss ratio must be 0 or more, got {loss_ratio}")
        claims += CLAIMS_ADJUSTMENT_DAMPENER * (loss_ratio / TARGET_LOSS_RATIO - 1.0)
        if claims < CLAIMS_FACTOR_FLOOR:
            claims = CLAIMS_FACTOR_FLOOR

    duration = math.sqrt(duration_days / DURATION_BASE_DAYS)
    years = duration_days / DAYS_PER_YEAR
    computed = coverage_usd * rate * risk * trigger * size * util * claims * years * duration
    minimum = coverage_usd * MIN_PREMIUM_RATE * years
    if MIN_PREMIUM_ABSOLUTE_USD > minimum:
        minimum = MIN_PREMIUM_ABSOLUTE_USD
    cents = round_cents(computed if computed >= minimum else minimum)
    return PriceParts(cents, rate, risk, trigger, size, util, claims, duration, computed, minimum)


def constants_premium(
    asset: str,
    coverage_usd: float,
    duration_days: int,
    trigger_price: float | None = None,
    *,
    risk_scores: Mapping[str, float] | None = None,
    utilization: float = 0.0,
    loss_ratio: float | None = None,
) -> Quote:
    """calculate_premium's shape (a wrapper over the formula), with the values as constants."""
    cents, rate, risk, trigger, size, util, claims, duration, computed, minimum = constants_price(
        None,
        asset,
        coverage_usd,
        duration_days,
        trigger_price,
        risk_scores,
        utilization,
        loss_ratio,
    )
    return Quote(cents, asset, rate, risk, trigger, size, util, claims, duration, computed, minimum)


def pricers(
    loader: ConfigLoader,
) -> dict[str, Callable[[str, float, int, float | None, float], Quote]]:
    return {
        "constants": lambda a, c, d, t, u: constants_premium(a, c, d, t, utilization=u),
        "params": lambda a, c, d, t, u: calculate_premium(
            CONSTANT_PARAMS, a, c, d, t, utilization=u
        ),
        "live": lambda a, c, d, t, u: calculate_premium(loader.snapshot, a, c, d, t, utilization=u),
    }


def throughput(price: Callable[..., Quote]) -> float:
    """Quotes per second of this thread's CPU time over THROUGHPUT_CALLS calls cycling through
    INPUTS (CPU time, so that other processes on the machine do not count against a round)."""
    inputs = INPUTS * (THROUGHPUT_CALLS // len(INPUTS))
    start = time.thread_time()
    for a, c, d, t, u in inputs:
        price(a, c, d, t, u)
    return len(inputs) / (time.thread_time() - start)


def latencies(price: Callable[..., Quote], calls: int) -> list[int]:
    """Nanoseconds of each of `calls` single quotes."""
    clock = time.perf_counter_ns
    out = []
    for a, c, d, t, u in INPUTS * (calls // len(INPUTS)):
        start = clock()
        price(a, c, d, t, u)
        out.append(clock() - start)
    return out


def percentile(sorted_ns: list[int], q: float) -> float:
    """The q-quantile in microseconds (nearest rank)."""
    return sorted_ns[min(len(sorted_ns) - 1, math.ceil(q * len(sorted_ns)) - 1)] / 1000


class Reloader:
    """A thread that reloads the whole configuration from the database, back to back."""

    def __init__(self, loader: ConfigLoader) -> None:
        self.loader = loader
        self.stop = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stop.is_set():
            self.loader.reload(force=True)
            self.count += 1

    def __enter__(self) -> Reloader:
        self.thread.start()
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


SCENARIOS = (
    ("idle", "live"),
    ("reloading", "live"),
    ("idle", "constants"),
    ("reloading", "constants"),
)


def latency_table(
    loader: ConfigLoader, ways: dict[str, Callable[..., Quote]]
) -> list[tuple[str, str, list[int], float]]:
    """Per scenario: sorted latencies and reloads per second, collected in interleaved chunks."""
    samples: dict[tuple[str, str], list[int]] = {key: [] for key in SCENARIOS}
    reloads = {key: [0, 0.0] for key in SCENARIOS}
    per_chunk = LATENCY_CALLS // LATENCY_CHUNKS
    for _ in range(LATENCY_CHUNKS):
        for scenario, name in SCENARIOS:
            began = time.perf_counter()
            if scenario == "reloading":
                with Reloader(loader) as reloader:
                    began = time.perf_counter()
                    done = reloader.count
                    samples[(scenario, name)] += latencies(ways[name], per_chunk)
                    reloads[(scenario, name)][0] += reloader.count - done
            else:
                samples[(scenario, name)] += latencies(ways[name], per_chunk)
            reloads[(scenario, name)][1] += time.perf_counter() - began
    return [
        (
            scenario,
            name,
            sorted(samples[(scenario, name)]),
            reloads[(scenario, name)][0] / reloads[(scenario, name)][1],
        )
        for scenario, name in SCENARIOS
    ]


def main() -> int:
    with live_loader(interval=60.0) as loader:
        snap = loader.snapshot
        assert snap.pricing.hot == CONSTANT_PARAMS.hot, "the constants differ from the shipped config"
        ways = pricers(loader)
        for args in INPUTS:
            cents = {name: price(*args).premium_cents for name, price in ways.items()}
            assert len(set(cents.values())) == 1, (args, cents)
        best = {name: 0.0 for name in ways}
        for _ in range(ROUNDS):
            for name, price in ways.items():
                best[name] = max(best[name], throughput(price))
        rows = latency_table(loader, ways)
        source = loader.stats()["source"]

    print(
        f"Python {sys.version.split()[0]}, configuration from {source}; "
        f"throughput: best of {ROUNDS} interleaved rounds x {THROUGHPUT_CALLS:,} quotes, "
        "thread CPU time"
    )
    print(f"{'pricing':10} {'quotes/s':>10} {'live / this':>12}")
    for name, qps in best.items():
        print(f"{name:10} {qps:10,.0f} {best['live'] / qps:12.3f}")
    print()
    print(
        f"latency of single quotes, microseconds: {LATENCY_CALLS:,} per row, "
        f"in {LATENCY_CHUNKS} chunks interleaved with the other rows"
    )
    header = ("reloader", "pricing", "p50", "p99", "p99.9", "max", "reloads/s")
    print("{:10} {:10} {:>7} {:>7} {:>8} {:>9} {:>10}".format(*header))
    for scenario, name, ns, rate in rows:
        print(
            f"{scenario:10} {name:10} {percentile(ns, 0.5):7.2f} {percentile(ns, 0.99):7.2f} "
            f"{percentile(ns, 0.999):8.2f} {ns[-1] / 1000:9.1f} {rate:10.1f}"
        )
    ratio = best["live"] / best["constants"]
    print()
    print(
        f"live / constants = {ratio:.3f}, live / params = {best['live'] / best['params']:.3f} "
        f"(target >= {TARGET})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
