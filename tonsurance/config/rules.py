"""Business rules a JSON Schema cannot express, checked once every file passes its schema.

Each rule is a function of all documents that yields problems at the value concerned.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from tonsurance.config.problems import Positions, Problem

Documents = Mapping[str, Any]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


Where = Mapping[str, Positions]
Rule = Callable[[Documents, Where, dt.date], Iterator[Problem]]


def _tiers_ordered(section: str, field: str) -> Rule:
    def rule(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
        tiers = docs["pricing"].get(section, {})
        ordered = sorted(tiers.items(), key=lambda kv: kv[1]["threshold"], reverse=True)
        for (name_hi, hi), (name_lo, lo) in zip(ordered, ordered[1:]):
            if hi["threshold"] == lo["threshold"]:
                yield where["pricing"].problem(
                    (section, name_lo, "threshold"),
                    f"threshold {lo['threshold']} is the same as {name_hi}'s; tiers need distinct thresholds",
                )
            elif hi[field] <= lo[field]:
                yield where["pricing"].problem(
                    (section, name_lo, field),
                    f"{field} {lo[field]} at threshold {lo['threshold']} is not below {hi[field]} "
                    f"of {name_hi} at the larger threshold {hi['threshold']}",
                )
        names = [name for name, _ in ordered]
        if names != sorted(names, key=lambda n: (len(n), n)):
            for name in names:
                yield where["pricing"].problem(
                    (section, name),
                    "tiers must be numbered from the largest threshold (tier1) down",
                )
                break

    return rule


def _default_rate_highest(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    rates = docs["pricing"].get("base_rates", {})
    default = rates.get("default")
    if default is None:
        return
    for asset, rate in rates.items():
        if asset != "default" and rate > default:
            yield where["pricing"].problem(
                ("base_rates", "default"),
                f"default rate {default} for unknown assets is below {asset}'s {rate}; "
                "an unknown asset must never be cheaper to insure than a known one",
            )
            return


def _var_levels(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    risk = docs["risk"]
    if risk.get("var_confidence_95", 0) >= risk.get("var_confidence_99", 1):
        yield where["risk"].problem(
            ("var_confidence_99",), "var_confidence_99 must be above var_confidence_95"
        )


def _tranches(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    tranches = docs["tranche"].get("tranches", {})
    pos = where["tranche"]
    for name, t in tranches.items():
        if t["apy_min"] > t["apy_max"]:
            yield pos.problem(
                ("tranches", name, "apy_min"),
                f"apy_min {t['apy_min']} is above apy_max {t['apy_max']}",
            )
        if t["curve_type"] == "flat" and t["apy_min"] != t["apy_max"]:
            yield pos.problem(
                ("tranches", name, "apy_max"), "a flat curve needs apy_min equal to apy_max"
            )
    total = sum(t["allocation_percent"] for t in tranches.values())
    if tranches and not math.isclose(total, 100.0, abs_tol=1e-9):
        yield pos.problem(("tranches",), f"allocations sum to {total:g}%, not 100%")
    tiers = sorted(t["tier"] for t in tranches.values())
    if tiers != list(range(1, len(tiers) + 1)):
        yield pos.problem(
            ("tranches",), f"tiers must be 1..{len(tiers)} with no gaps or repeats, got {tiers}"
        )


def _unique_ids(table: str, list_key: str) -> Rule:
    def rule(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
        seen: dict[str, int] = {}
        for i, row in enumerate(docs[table].get(list_key, [])):
            if row["id"] in seen:
                yield where[table].problem(
                    (list_key, i, "id"),
                    f"id {row['id']!r} is already used by {list_key}[{seen[row['id']]}]",
                )
            seen.setdefault(row["id"], i)

    return rule


def _priced_assets(docs: Documents) -> set[str]:
    return {a for a in docs["pricing"].get("base_rates", {}) if a != "default"}


def _depegs(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    priced = _priced_assets(docs)
    for i, event in enumerate(docs["historical_depegs"].get("events", [])):
        if event["asset"] not in priced:
            yield where["historical_depegs"].problem(
                ("events", i, "asset"),
                f"asset {event['asset']!r} has no base rate in config/pricing.yaml",
            )
        start = dt.date.fromisoformat(event["start_date"])
        if start > today:
            yield where["historical_depegs"].problem(
                ("events", i, "start_date"), f"{event['start_date']} is in the future"
            )


def _scenarios(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    priced = _priced_assets(docs)
    for i, scenario in enumerate(docs["stress_scenarios"].get("scenarios", [])):
        impacts = scenario.get("price_impacts", {})
        for asset in impacts:
            if asset not in priced:
                yield where["stress_scenarios"].problem(
                    ("scenarios", i, "price_impacts", asset),
                    f"asset {asset!r} has no base rate in config/pricing.yaml",
                    key=True,
                )
        missing = sorted(priced - set(impacts))
        if missing:
            yield where["stress_scenarios"].problem(
                ("scenarios", i, "price_impacts"),
                f"no price impact for {', '.join(missing)}; every priced asset needs one",
            )


def _unverified_events(docs: Documents, where: Where, today: dt.date) -> Iterator[Problem]:
    for i, event in enumerate(docs["historical_depegs"].get("events", [])):
        if not event["verified"]:
            yield where["historical_depegs"].problem(
                ("events", i, "verified"),
                f"event {event['id']!r} of {event['asset']} is not verified, so the risk "
                "figures leave it out; check its figures against the cited source",
            )


RULES: tuple[Rule, ...] = (
    _tiers_ordered("size_discounts", "discount"),
    _tiers_ordered("utilization_multipliers", "multiplier"),
    _default_rate_highest,
    _var_levels,
    _tranches,
    _unique_ids("historical_depegs", "events"),
    _unique_ids("stress_scenarios", "scenarios"),
    _depegs,
    _scenarios,
)


# Findings that refuse nothing but should be seen in review, each with the documents it reads.
WARNINGS: tuple[tuple[frozenset[str], Rule], ...] = (
    (frozenset({"historical_depegs"}), _unverified_events),
)


def check_warnings(docs: Documents, where: Where, today: dt.date | None = None) -> list[Problem]:
    """Warnings from every warning rule whose documents (the keys of `docs`) passed their schema."""
    day = today or utc_today()
    return [
        warning
        for needs, rule in WARNINGS
        if needs <= docs.keys()
        for warning in rule(docs, where, day)
    ]


def check_rules(docs: Documents, where: Where, today: dt.date | None = None) -> list[Problem]:
    """All business-rule problems of a configuration whose files each passed their schema.

    Date rules judge against `today`, by default the current date in UTC (never the host's
    time zone)."""
    day = today or utc_today()
    problems: list[Problem] = []
    for rule in RULES:
        problems.extend(rule(docs, where, day))
    return problems
