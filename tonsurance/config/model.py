"""The typed, immutable view of one configuration state that pricing, tranche and risk code read.

A `Snapshot` is built once per reload from the flat parameter rows and the two tables, whether they
come from the database or from the files in `config/`; hot code holds one and reads plain attributes
and dicts, so a quote never mixes two commits and pays no parsing cost per read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")
ParamKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of a tiered rule: at or above `threshold`, `value` applies."""

    threshold: float
    value: float


@dataclass(frozen=True, slots=True)
class PricingParams:
    """The pricing parameters; `hot` holds them once more as one tuple (with a plain dict of
    rates) that the premium formula unpacks into locals: one attribute read per quote."""

    base_rate: Mapping[str, float]
    base_rate_default: float
    risk_weight: Mapping[str, float]
    size_discount_tiers: tuple[Tier, ...]
    utilization_tiers: tuple[Tier, ...]
    duration_base_days: int
    trigger_base_price: float
    trigger_adjustment_factor: float
    target_loss_ratio: float
    claims_adjustment_dampener: float
    min_premium_absolute_usd: float
    min_premium_rate: float
    claims_factor_floor: float
    hot: tuple[Any, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "hot",
            (
                dict(self.base_rate),
                self.base_rate_default,
                self.risk_weight,
                self.size_discount_tiers,
                self.utilization_tiers,
                self.duration_base_days,
                self.trigger_base_price,
                self.trigger_adjustment_factor,
                self.target_loss_ratio,
                self.claims_adjustment_dampener,
                self.min_premium_absolute_usd,
                self.min_premium_rate,
                self.claims_factor_floor,
            ),
        )

    @property
    def pricing(self) -> PricingParams:
        """Itself, so code taking a Snapshot or its PricingParams reads `.pricing` either way."""
        return self


@dataclass(frozen=True, slots=True)
class RiskParams:
    var_confidence_95: float
    var_confidence_99: float
    monte_carlo_simulations: int
    historical_data_years: float
    risk_free_rate: float
    reserve_multiplier: float
    stress_buffer_multiplier: float
    depeg_threshold: float


@dataclass(frozen=True, slots=True)
class Tranche:
    id: str
    tier: int
    apy_min: float
    apy_max: float
    curve_type: str
    allocation_percent: float


@dataclass(frozen=True, slots=True)
class CurveSteepness:
    """The steepness k of the tranche APY curves that have one (see `tonsurance.tranches`)."""

    logarithmic: float
    sigmoidal: float
    exponential: float


@dataclass(frozen=True, slots=True)
class DepegEvent:
    id: str
    asset: str
    low_price: float
    start_date: dt.date
    duration_hours: float
    cause: str
    source: str
    verified: bool


@dataclass(frozen=True, slots=True)
class StressScenario:
    id: str
    name: str
    description: str
    severity: str
    annual_probability: float
    btc_change: float
    price_impacts: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a service reads, as of one commit.

    `version` is the database's configuration version the snapshot was read at (None for the
    file defaults); it moves with every write, hand edits included, where `commit` does not.
    """

    pricing: PricingParams
    risk: RiskParams
    tranches: tuple[Tranche, ...]
    curve_steepness: CurveSteepness
    depegs: tuple[DepegEvent, ...]
    scenarios: tuple[StressScenario, ...]
    values: Mapping[ParamKey, Any]
    commit: str | None = None
    source: str = "file"
    loaded_at: float = 0.0
    version: int | None = None
    tranche_by_id: Mapping[str, Tranche] = field(default_factory=dict)
    scenario_by_id: Mapping[str, StressScenario] = field(default_factory=dict)


def frozen_map(items: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only dict view, so a shared snapshot cannot be changed by a caller."""
    return MappingProxyType(dict(items))
