"""The one place that maps the YAML files to database rows and back.

Parameter files are grouped for readability; each leaf becomes one row of `config_parameters`,
keyed `<prefix>_<path joined by _>`:

| file / YAML path                            | category | key                                   |
| ------------------------------------------- | -------- | ------------------------------------- |
| pricing `base_rates.USDC`                   | pricing  | `base_rate_USDC`                      |
| pricing `risk_adjustment_weights.market_depth` | pricing | `risk_weight_market_depth`          |
| pricing `size_discounts.tier1.threshold`    | pricing  | `size_discount_tier1_threshold`       |
| pricing `utilization_multipliers.tier2.multiplier` | pricing | `utilization_tier2_multiplier`  |
| pricing `trigger.base_price`                | pricing  | `trigger_base_price`                  |
| pricing `minimum_premium.rate`              | pricing  | `min_premium_rate`                    |
| pricing top-level scalars                   | pricing  | the same name (`duration_base_days`)  |
| risk top-level scalars                      | risk     | the same name (`var_confidence_95`)   |
| tranche `tranches.SURE-BTC.apy_min`         | tranche  | `SURE-BTC_apy_min`                    |
| tranche `curve_steepness.sigmoidal`         | tranche  | `curve_steepness_sigmoidal`           |

Table files hold lists of rows (`events`, `scenarios`), keyed by their `id`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tonsurance.config.problems import Path

# category -> YAML group -> (key prefix, depth of nesting below the group)
GROUPS: dict[str, dict[str, tuple[str, int]]] = {
    "pricing": {
        "base_rates": ("base_rate", 1),
        "risk_adjustment_weights": ("risk_weight", 1),
        "size_discounts": ("size_discount", 2),
        "utilization_multipliers": ("utilization", 2),
        "trigger": ("trigger", 1),
        "minimum_premium": ("min_premium", 1),
    },
    "risk": {},
    # curve_steepness first: a tranche key has no fixed prefix, so it must be tried last
    "tranche": {"curve_steepness": ("curve_steepness", 1), "tranches": ("", 2)},
}
TABLE_LIST_KEY: dict[str, str] = {"historical_depegs": "events", "stress_scenarios": "scenarios"}
INT_KEYS = frozenset({"duration_base_days", "monte_carlo_simulations"})
INT_SUFFIXES = ("_tier",)


def value_type_of(key: str, value: Any) -> str:
    """The declared type of a parameter: int, float, string or json."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "json"
    if key in INT_KEYS or key.endswith(INT_SUFFIXES):
        return "int"
    return "float"


def flatten(category: str, document: Mapping[str, Any]) -> Iterator[tuple[str, Any, Path]]:
    """(key, value, YAML path) for every parameter leaf of one category's document."""
    groups = GROUPS[category]
    for name, value in document.items():
        if name in groups and isinstance(value, Mapping):
            prefix, depth = groups[name]
            yield from _flatten_group(prefix, value, depth, (name,))
        else:
            yield name, value, (name,)


def _flatten_group(
    prefix: str, node: Mapping[str, Any], depth: int, path: Path
) -> Iterator[tuple[str, Any, Path]]:
    for name, value in node.items():
        key = f"{prefix}_{name}" if prefix else name
        if depth > 1 and isinstance(value, Mapping):
            yield from _flatten_group(key, value, depth - 1, path + (name,))
        else:
            yield key, value, path + (name,)


def unflatten(category: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten`: rows of one category back into the grouped document shape."""
    document: dict[str, Any] = {}
    groups = GROUPS[category]
    for key, value in values.items():
        placed = False
        for group, (prefix, depth) in groups.items():
            head = f"{prefix}_" if prefix else ""
            if not key.startswith(head) or key == head:
                continue
            parts = key[len(head) :].split("_", depth - 1)
            if len(parts) != depth or not all(parts):
                continue
            node = document.setdefault(group, {})
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
            placed = True
            break
        if not placed:
            document[key] = value
    return document
