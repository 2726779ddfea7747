"""The shipped configuration keeps every value the source document gives, line by line."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from seed_values import (
    EVENT_COUNTS,
    EVENT_TOTAL,
    PRICING,
    RISK,
    SCENARIO_TOTAL,
    SOURCE_PINS,
    TRANCHES,
    Pin,
)

from tonsurance.config.layout import default_root
from tonsurance.config.sources import read_directory
from tonsurance.config.state import ConfigState
from tonsurance.config.validation import validate_sources

REPORT = Path(__file__).parent / "data" / "source_report.txt"
REPORT_NAME = "Tonsurance Phase 2 configuration report, 2025-10-15"


@pytest.fixture(scope="module")
def lines() -> list[str]:
    """The source document, one string per line (line n is lines[n - 1])."""
    return REPORT.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def shipped() -> ConfigState:
    """The validated configuration of this repository's config/ folder."""
    state = validate_sources(read_directory(default_root())).state
    assert state is not None
    return state


def shipped_value(state: ConfigState, where: tuple[str, ...]) -> Any:
    if len(where) == 2:
        return state.values()[where]
    table, row_id, column = where
    row = state.tables[table][row_id]
    if column == "start_month":
        return str(row["start_date"])[:7]
    head, _, tail = column.partition(".")
    return row[head][tail] if tail else row[head]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def test_each_pin_names_the_document_line_that_gives_it(lines: list[str]):
    """Every pinned value cites a line of the document that holds the pinned words."""
    wrong = [(p.line, p.text) for p in SOURCE_PINS if p.text not in lines[p.line - 1]]
    assert wrong == []
    assert len({p.where for p in SOURCE_PINS}) == len(SOURCE_PINS), "a value is pinned twice"


@pytest.mark.parametrize("pin", SOURCE_PINS, ids=lambda p: ".".join(p.where))
def test_shipped_configuration_has_the_document_value(shipped: ConfigState, pin: Pin):
    """The shipped configuration holds the value the document gives on the pinned line."""
    assert same(shipped_value(shipped, pin.where), pin.value), (
        f"{'.'.join(pin.where)} drifted from the source document, line {pin.line}: {pin.text!r}"
    )


def test_event_and_scenario_counts_match_the_document(shipped: ConfigState, lines: list[str]):
    """The depeg history has the document's events per asset, 14 in all, and 4 scenarios."""
    counts = Counter(row["asset"] for row in shipped.tables["historical_depegs"].values())
    for asset, (count, line) in EVENT_COUNTS.items():
        assert f"- {asset}: {count} (" in lines[line - 1]
    assert dict(counts) == {asset: count for asset, (count, _) in EVENT_COUNTS.items()}
    total, line, text = EVENT_TOTAL
    assert text in lines[line - 1] and sum(counts.values()) == total
    total, line, text = SCENARIO_TOTAL
    assert text in lines[line - 1] and len(shipped.tables["stress_scenarios"]) == total


def test_seed_values_snapshot_agrees_with_the_pins():
    """The typed snapshot the unit tests use holds the same pinned parameter values."""
    typed: dict[tuple[str, str], Any] = {
        ("pricing", f"base_rate_{a}"): r for a, r in PRICING.base_rate.items()
    }
    typed[("pricing", "base_rate_default")] = PRICING.base_rate_default
    for factor, weight in PRICING.risk_weight.items():
        typed[("pricing", f"risk_weight_{factor}")] = weight
    for i, tier in enumerate(PRICING.size_discount_tiers, 1):
        typed[("pricing", f"size_discount_tier{i}_threshold")] = tier.threshold
        typed[("pricing", f"size_discount_tier{i}_discount")] = tier.value
    for i, tier in enumerate(PRICING.utilization_tiers, 1):
        typed[("pricing", f"utilization_tier{i}_threshold")] = tier.threshold
        typed[("pricing", f"utilization_tier{i}_multiplier")] = tier.value
    for name in (
        "duration_base_days",
        "trigger_base_price",
        "trigger_adjustment_factor",
        "target_loss_ratio",
        "claims_adjustment_dampener",
        "min_premium_absolute_usd",
        "min_premium_rate",
    ):
        typed[("pricing", name)] = getattr(PRICING, name)
    for name in RISK.__dataclass_fields__:
        typed[("risk", name)] = getattr(RISK, name)
    for t in TRANCHES:
        for field in ("tier", "apy_min", "apy_max", "curve_type", "allocation_percent"):
            typed[("tranche", f"{t.id}_{field}")] = getattr(t, field)
    pinned = [p for p in SOURCE_PINS if p.where[0] in ("pricing", "risk", "tranche")]
    assert [p.where for p in pinned if not same(typed[p.where], p.value)] == []


def test_only_events_with_the_documents_figures_are_verified(shipped: ConfigState):
    """An event is verified exactly when its figures are the document's, cited first in source."""
    pinned = {p.where[1] for p in SOURCE_PINS if p.where[0] == "historical_depegs"}
    events = shipped.tables["historical_depegs"]
    verified = {row_id for row_id, row in events.items() if row["verified"]}
    assert verified == pinned
    for row_id in verified:
        assert str(events[row_id]["source"]).startswith(REPORT_NAME), row_id


def test_unverified_events_say_what_their_figures_rest_on(shipped: ConfigState):
    """An unverified event's source says its figures were not checked, and where they come from."""
    for row_id, row in shipped.tables["historical_depegs"].items():
        if not row["verified"]:
            source = str(row["source"])
            assert source.startswith(("Approximate, not checked:", "Not checked:")), row_id
            assert "The report lists this event" in source, row_id
