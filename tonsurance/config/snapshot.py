"""Build the typed `Snapshot` from flat parameter values and table rows.

The same function serves the database (rows read by the loader), the files (a validated
`ConfigState`) and the pull-request impact (two commits' states), so every path types and orders
the values identically.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tonsurance.config.keymap import unflatten
from tonsurance.config.model import (
    CurveSteepness,
    DepegEvent,
    PricingParams,
    RiskParams,
    Snapshot,
    StressScenario,
    Tier,
    Tranche,
    frozen_map,
)
from tonsurance.config.state import ConfigState
from tonsurance.errors import InvalidConfig

ParamKey = tuple[str, str]


def _tiers(group: Mapping[str, Any], field: str) -> tuple[Tier, ...]:
    tiers = [Tier(float(t["threshold"]), float(t[field])) for t in group.values()]
    return tuple(sorted(tiers, key=lambda t: t.threshold, reverse=True))


def _pricing(doc: Mapping[str, Any]) -> PricingParams:
    rates = dict(doc["base_rates"])
    default = float(rates.pop("default"))
    return PricingParams(
        base_rate=frozen_map({k: float(v) for k, v in rates.items()}),
        base_rate_default=default,
        risk_weight=frozen_map({k: float(v) for k, v in doc["risk_adjustment_weights"].items()}),
        size_discount_tiers=_tiers(doc["size_discounts"], "discount"),
        utilization_tiers=_tiers(doc["utilization_multipliers"], "multiplier"),
        duration_base_days=int(doc["duration_base_days"]),
        trigger_base_price=float(doc["trigger"]["base_price"]),
        trigger_adjustment_factor=float(doc["trigger"]["adjustment_factor"]),
        target_loss_ratio=float(doc["target_loss_ratio"]),
        claims_adjustment_dampener=float(doc["claims_adjustment_dampener"]),
        min_premium_absolute_usd=float(doc["minimum_premium"]["absolute_usd"]),
        min_premium_rate=float(doc["minimum_premium"]["rate"]),
        claims_factor_floor=float(doc["claims_factor_floor"]),
    )


def _risk(doc: Mapping[str, Any]) -> RiskParams:
    return RiskParams(
        var_confidence_95=float(doc["var_confidence_95"]),
        var_confidence_99=float(doc["var_confidence_99"]),
        monte_carlo_simulations=int(doc["monte_carlo_simulations"]),
        historical_data_years=float(doc["historical_data_years"]),
        risk_free_rate=float(doc["risk_free_rate"]),
        reserve_multiplier=float(doc["reserve_multiplier"]),
        stress_buffer_multiplier=float(doc["stress_buffer_multiplier"]),
        depeg_threshold=float(doc["depeg_threshold"]),
    )


def _tranches(doc: Mapping[str, Any]) -> tuple[Tranche, ...]:
    tranches = [
        Tranche(
            id=name,
            tier=int(t["tier"]),
            apy_min=float(t["apy_min"]),
            apy_max=float(t["apy_max"]),
            curve_type=str(t["curve_type"]),
            allocation_percent=float(t["allocation_percent"]),
        )
        for name, t in doc.get("tranches", {}).items()
    ]
    return tuple(sorted(tranches, key=lambda t: t.tier))


def _curve_steepness(doc: Mapping[str, Any]) -> CurveSteepness:
    k = doc["curve_steepness"]
    return CurveSteepness(
        logarithmic=float(k["logarithmic"]),
        sigmoidal=float(k["sigmoidal"]),
        exponential=float(k["exponential"]),
    )


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _depeg(row: Mapping[str, Any]) -> DepegEvent:
    return DepegEvent(
        id=str(row["id"]),
        asset=str(row["asset"]),
        low_price=float(row["low_price"]),
        start_date=_date(row["start_date"]),
        duration_hours=float(row["duration_hours"]),
        cause=str(row.get("cause") or ""),
        source=str(row.get("source") or ""),
        verified=bool(row["verified"]),
    )


def _scenario(row: Mapping[str, Any]) -> StressScenario:
    return StressScenario(
        id=str(row["id"]),
        name=str(row["name"]),
        description=str(row.get("description") or ""),
        severity=str(row["severity"]),
        annual_probability=float(row["annual_probability"]),
        btc_change=float(row["btc_change"]),
        price_impacts=frozen_map(
            {k: float(v) for k, v in (row.get("price_impacts") or {}).items()}
        ),
    )


def build_snapshot(
    values: Mapping[ParamKey, Any],
    depegs: Sequence[Mapping[str, Any]],
    scenarios: Sequence[Mapping[str, Any]],
    *,
    commit: str | None = None,
    source: str = "database",
    version: int | None = None,
) -> Snapshot:
    """A typed snapshot; a missing or malformed parameter raises InvalidConfig naming it."""
    by_category: dict[str, dict[str, Any]] = {}
    for (category, key), value in values.items():
        by_category.setdefault(category, {})[key] = value
    try:
        pricing = _pricing(unflatten("pricing", by_category.get("pricing", {})))
        risk = _risk(unflatten("risk", by_category.get("risk", {})))
        tranche_doc = unflatten("tranche", by_category.get("tranche", {}))
        tranches = _tranches(tranche_doc)
        curve_steepness = _curve_steepness(tranche_doc)
        depeg_events = tuple(
            sorted((_depeg(r) for r in depegs), key=lambda e: (e.start_date, e.id))
        )
        stress = tuple(sorted((_scenario(r) for r in scenarios), key=lambda s: s.id))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidConfig(
            f"configuration from {source} is incomplete or malformed: missing or bad {exc}"
        ) from None
    return Snapshot(
        pricing=pricing,
        risk=risk,
        tranches=tranches,
        curve_steepness=curve_steepness,
        depegs=depeg_events,
        scenarios=stress,
        values=frozen_map(dict(values)),
        commit=commit,
        source=source,
        version=version,
        loaded_at=time.monotonic(),
        tranche_by_id=frozen_map({t.id: t for t in tranches}),
        scenario_by_id=frozen_map({s.id: s for s in stress}),
    )


def snapshot_from_state(
    state: ConfigState, *, commit: str | None = None, source: str = "file"
) -> Snapshot:
    """The typed snapshot of a validated configuration state."""
    return build_snapshot(
        state.values(),
        list(state.tables.get("historical_depegs", {}).values()),
        list(state.tables.get("stress_scenarios", {}).values()),
        commit=commit,
        source=source,
    )
