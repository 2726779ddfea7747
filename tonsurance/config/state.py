"""The desired state of one configuration: parameter rows and table rows, in normal form."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.ecma import ecma_search
from tonsurance.config.gcpause import collector_paused
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
    patterns = node.get("patternProperties", {})
    if len(patterns) == 1 and node.get("additionalProperties") is False:
        # Rows are built from documents that passed their schema: a key that is no property
        # matched the only pattern.
        return next(iter(patterns.values()))
    for pattern, sub in patterns.items():
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


_BUILT_KEEP = 10  # two configurations' worth of files
_built: OrderedDict[tuple[str, int, int], tuple[Any, Any, Any]] = OrderedDict()
_built_lock = threading.Lock()


def _kept(name: str, document: Any, schema: Any, build: Callable[[], Any]) -> Any:
    """`build()` for this very document and schema object, made once while both are kept (the
    file checks keep one document object per file content, so an unchanged file is not
    turned into rows again)."""
    key = (name, id(document), id(schema))
    with _built_lock:
        hit = _built.get(key)
        if hit is not None and hit[0] is document and hit[1] is schema:
            _built.move_to_end(key)
            return hit[2]
    made = build()
    with _built_lock:
        _built[key] = (document, schema, made)
        while len(_built) > _BUILT_KEEP:
            _built.popitem(last=False)
    return made


def _category_parameters(
    category: str, document: Mapping[str, Any], schema: Mapping[str, Any]
) -> dict[ParamKey, Parameter]:
    parameters: dict[ParamKey, Parameter] = {}
    walked: dict[Path, Any] = {}
    with collector_paused():
        return _fill(parameters, walked, category, document, schema)


def _fill(
    parameters: dict[ParamKey, Parameter],
    walked: dict[Path, Any],
    category: str,
    document: Mapping[str, Any],
    schema: Mapping[str, Any],
) -> dict[ParamKey, Parameter]:
    for key, value, path in flatten(category, document):
        value_type = value_type_of(key, value)
        parameters[(category, key)] = Parameter(
            category,
            key,
            normal_value(value, value_type),
            value_type,
            describe(schema, path, walked),
        )
    return parameters


def table_rows(table: str, document: Any) -> dict[str, dict[str, Any]]:
    """The rows of one validated table document, by id, in normal form."""
    rows = document.get(TABLE_LIST_KEY[table], []) if isinstance(document, Mapping) else []
    columns = TABLE_COLUMNS[table]
    return {
        row["id"]: normal_row({c: row.get(c) for c in columns}, FLOAT_COLUMNS[table])
        for row in rows
    }


def copy_rows(rows: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows a caller may change without touching the kept ones (values are scalars or flat
    mappings of asset to number)."""
    return {
        rid: {k: dict(v) if isinstance(v, dict) else v for k, v in row.items()}
        for rid, row in rows.items()
    }


def build_state(
    documents: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]
) -> ConfigState:
    """Turn validated documents (by category or table name) into the rows they stand for."""
    parameters: dict[ParamKey, Parameter] = {}
    for category in PARAMETER_FILES:
        document = documents.get(category) or {}
        schema = schemas.get(category, {})
        parameters.update(
            _kept(
                category,
                document,
                schema,
                lambda: _category_parameters(category, document, schema),
            )
        )
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for table in TABLE_FILES:
        document = documents.get(table) or {}
        kept = _kept(table, document, None, lambda: table_rows(table, document))
        tables[table] = copy_rows(kept)
    return ConfigState(parameters, tables)

