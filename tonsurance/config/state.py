"""The desired state of one configuration: parameter rows and table rows, in normal form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.ecma import ecma_search
from tonsurance.config.keymap import TABLE_LIST_KEY, flatten, value_type_of
from tonsurance.config.layout import PARAMETER_FILES, TABLE_FILES
from tonsurance.config.normal import normal_row, normal_value
from tonsurance.config.problems import Path

ParamKey = tuple[str, str]

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "historical_depegs": (
        "id",
        "asset",
        "low_price",
        "start_date",
        "duration_hours",
        "cause",
        "source",
        "verified",
    ),
    "stress_scenarios": (
        "id",
        "name",
        "description",
        "severity",
        "annual_probability",
        "btc_change",
        "price_impacts",
    ),
}
FLOAT_COLUMNS: dict[str, frozenset[str]] = {
    "historical_depegs": frozenset({"low_price", "duration_hours"}),
    "stress_scenarios": frozenset({"annual_probability", "btc_change"}),
}


@dataclass(frozen=True, slots=True)
class Parameter:
    category: str
    key: str
    value: Any
    value_type: str
    description: str


@dataclass(frozen=True)
class ConfigState:
    parameters: Mapping[ParamKey, Parameter] = field(default_factory=dict)
    tables: Mapping[str, Mapping[str, dict[str, Any]]] = field(default_factory=dict)

    def values(self) -> dict[ParamKey, Any]:
        return {k: p.value for k, p in self.parameters.items()}

    def is_empty(self) -> bool:
        return not self.parameters and not any(self.tables.values())


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node


def _step(node: Any, part: str | int, schema: Mapping[str, Any]) -> Any:
    """The subschema for `part` of a value that `node` describes, or None."""
    node = _resolve(node, schema)
    if not isinstance(node, dict):
        return None
    if isinstance(part, int):
        return node.get("items", {})
    props = node.get("properties", {})
    if part in props:
        return props[part]
    for pattern, sub in node.get("patternProperties", {}).items():
        if ecma_search(pattern, part):
            return sub
    return node.get("additionalProperties", {})


def describe(
    schema: Mapping[str, Any], path: Path, walked: dict[Path, Any] | None = None
) -> str:
    """The schema's description of the value at `path`, following local `$ref`s.

    `walked` keeps the subschema of each path prefix seen, for many paths of one schema."""
    walked = {} if walked is None else walked
    node: Any = schema
    for depth in range(len(path)):
        prefix = path[: depth + 1]
        if prefix in walked:
            node = walked[prefix]
        else:
            node = walked[prefix] = _step(node, path[depth], schema) if node is not None else None
        if node is None:
            return ""
    own = node.get("description") if isinstance(node, dict) else None
    if own:
        return str(own)
    target = _resolve(node, schema)
    return str(target.get("description", "")) if isinstance(target, dict) else ""


def build_state(
    documents: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]
) -> ConfigState:
    """Turn validated documents (by category or table name) into the rows they stand for."""
    parameters: dict[ParamKey, Parameter] = {}
    for category in PARAMETER_FILES:
        document = documents.get(category) or {}
        schema = schemas.get(category, {})
        walked: dict[Path, Any] = {}
        for key, value, path in flatten(category, document):
            value_type = value_type_of(key, value)
            parameters[(category, key)] = Parameter(
                category,
                key,
                normal_value(value, value_type),
                value_type,
                describe(schema, path, walked),
            )
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for table in TABLE_FILES:
        document = documents.get(table) or {}
        rows = document.get(TABLE_LIST_KEY[table], []) if isinstance(document, Mapping) else []
        columns = TABLE_COLUMNS[table]
        tables[table] = {
            row["id"]: normal_row({c: row.get(c) for c in columns}, FLOAT_COLUMNS[table])
            for row in rows
        }
    return ConfigState(parameters, tables)
