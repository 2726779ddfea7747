"""What a change does: premiums of the standard grid and risk figures on both sides, kept only
where they move.

Both sides are typed snapshots of two commits (`snapshot_from_state`), priced and measured by
the same `tonsurance.pricing`, `tonsurance.risk`, `tonsurance.var` and `tonsurance.tranches` code
the services run, with the grid, reference policy, reference vault and utilizations of the review
policy. Figures that depend on the date (the depeg lookback window) use one `as_of` date for both
sides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from syncd.review.policy import ImpactSettings
from tonsurance.config.model import Snapshot
from tonsurance.pricing import calculate_premium
from tonsurance.risk import expected_loss_per_policy, run_all_stress_tests
from tonsurance.tranches import tranche_apy
from tonsurance.var import monte_carlo_var, reserve_requirement

GridKey = tuple[str, float, int]


@dataclass(frozen=True, slots=True)
class PremiumMove:
    asset: str
    coverage_usd: float
    duration_days: int
    before_cents: int
    after_cents: int

    @property
    def relative(self) -> float | None:
        if self.before_cents == 0:
            return None
        return (self.after_cents - self.before_cents) / self.before_cents


@dataclass(frozen=True, slots=True)
class FigureMove:
    """One risk figure on both sides; None where the side has no such figure (a new scenario)."""

    key: str
    group: str  # expected_loss | value_at_risk | stress | tranche_apy
    label: str
    unit: str  # usd | fraction
    before: float | None
    after: float | None

    @property
    def relative(self) -> float | None:
        if self.before is None or self.after is None or self.before == 0:
            return None
        return (self.after - self.before) / abs(self.before)


@dataclass(frozen=True)
class Impact:
    as_of: dt.date
    settings: ImpactSettings
    assets: tuple[str, ...]
    premiums: list[PremiumMove] = field(default_factory=list)
    figures: list[FigureMove] = field(default_factory=list)

    @property
    def grid_size(self) -> int:
        return (
            len(self.assets) * len(self.settings.coverages_usd) * len(self.settings.durations_days)
        )

    def as_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "as_of": self.as_of.isoformat(),
            "grid": {
                "assets": list(self.assets),
                "coverages_usd": list(s.coverages_usd),
                "durations_days": list(s.durations_days),
                "policies": self.grid_size,
            },
            "value_at_risk": {"seed": s.var_seed, "simulations": s.var_simulations},
            "premiums": [
                {
                    "asset": p.asset,
                    "coverage_usd": p.coverage_usd,
                    "duration_days": p.duration_days,
                    "before_cents": p.before_cents,
                    "after_cents": p.after_cents,
                    "relative_change": p.relative,
                }
                for p in self.premiums
            ],
            "risk": [
                {
                    "key": f.key,
                    "group": f.group,
                    "label": f.label,
                    "unit": f.unit,
                    "before": f.before,
                    "after": f.after,
                    "relative_change": f.relative,
                }
                for f in self.figures
            ],
        }


def grid_assets(settings: ImpactSettings, *snapshots: Snapshot) -> tuple[str, ...]:
    """The policy's assets, then any asset that one of the sides gives a base rate of its own."""
    assets = list(settings.assets)
    for snap in snapshots:
        for asset in sorted(snap.pricing.base_rate):
            if asset not in assets:
                assets.append(asset)
    return tuple(assets)


def premium_grid(
    snap: Snapshot, settings: ImpactSettings, assets: tuple[str, ...]
) -> dict[GridKey, int]:
    """The premium in cents of every grid policy, as `calculate_premium` quotes it."""
    return {
        (asset, coverage, days): calculate_premium(
            snap, asset, coverage, days, settings.trigger_price, utilization=settings.utilization
        ).premium_cents
        for asset in assets
        for coverage in settings.coverages_usd
        for days in settings.durations_days
    }


Figure = tuple[str, str, str, float]  # group, label, unit, value


def risk_figures(
    snap: Snapshot, settings: ImpactSettings, assets: tuple[str, ...], as_of: dt.date
) -> dict[str, Figure]:
    """Expected loss per asset, VaR 95/99, reserve, stress loss per scenario, tranche APYs."""
    out: dict[str, Figure] = {}
    for asset in assets:
        loss = expected_loss_per_policy(
            snap, asset, settings.reference_coverage_usd, settings.reference_trigger_price, as_of
        )
        out[f"expected_loss.{asset}"] = (
            "expected_loss",
            f"{asset} expected annual loss",
            "usd",
            loss,
        )
    var = monte_carlo_var(
        snap,
        settings.vault,
        seed=settings.var_seed,
        simulations=settings.var_simulations,
        as_of=as_of,
    )
    out["var_95"] = ("value_at_risk", f"VaR {var.confidence_95 * 100:g}%", "usd", var.var_95)
    out["var_99"] = ("value_at_risk", f"VaR {var.confidence_99 * 100:g}%", "usd", var.var_99)
    stress = run_all_stress_tests(snap, settings.vault)
    reserve = reserve_requirement(snap, settings.vault, var, stress)
    out["reserve"] = ("value_at_risk", "Reserve requirement", "usd", reserve)
    names = {s.id: s.name for s in snap.scenarios}
    for result in stress:
        label = f"{names[result.scenario_id]} (`{result.scenario_id}`) capital lost"
        out[f"stress.{result.scenario_id}"] = ("stress", label, "usd", result.net_loss)
    for tranche in snap.tranches:
        for u in settings.tranche_utilizations:
            label = f"{tranche.id} APY at {u * 100:g}% utilization"
            out[f"tranche_apy.{tranche.id}@{u:g}"] = (
                "tranche_apy",
                label,
                "fraction",
                tranche_apy(tranche, u, snap.curve_steepness),
            )
    return out


def _moved_figures(before: dict[str, Figure], after: dict[str, Figure]) -> list[FigureMove]:
    keys = list(before) + [k for k in after if k not in before]
    moves: list[FigureMove] = []
    for key in keys:
        a, b = before.get(key), after.get(key)
        old, new = (a[3] if a else None), (b[3] if b else None)
        if old == new:
            continue
        shown = b if b is not None else a
        assert shown is not None
        group, label, unit, _ = shown
        moves.append(FigureMove(key, group, label, unit, old, new))
    return moves


def compute_impact(
    before: Snapshot, after: Snapshot, settings: ImpactSettings, as_of: dt.date
) -> Impact:
    """The grid premiums and risk figures of both sides; only those that differ are kept."""
    assets = grid_assets(settings, before, after)
    old, new = premium_grid(before, settings, assets), premium_grid(after, settings, assets)
    premiums = [
        PremiumMove(asset, coverage, days, old[(asset, coverage, days)], cents)
        for (asset, coverage, days), cents in new.items()
        if cents != old[(asset, coverage, days)]
    ]
    figures = _moved_figures(
        risk_figures(before, settings, assets, as_of), risk_figures(after, settings, assets, as_of)
    )
    return Impact(as_of, settings, assets, premiums, figures)
