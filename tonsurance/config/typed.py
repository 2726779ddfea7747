"""A snapshot together with its parameters split by type, built once per reload.

The typed accessors of the loader read one of these per call: `get_float` is a single lookup in
`floats`, a dict that already holds every float and int parameter as a Python float, so a read
does no type check and no conversion. Anything not found there (a missing key, or a key of
another type) takes the loader's slow path, which tells the two apart through `types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.model import ParamKey, Snapshot

VALUE_TYPES = ("float", "int", "string", "json")


@dataclass(frozen=True, slots=True)
class TypedView:
    """One configuration state as the accessors see it; `snapshot` is None before any load."""

    snapshot: Snapshot | None = None
    floats: Mapping[ParamKey, float] = field(default_factory=dict)
    ints: Mapping[ParamKey, int] = field(default_factory=dict)
    strs: Mapping[ParamKey, str] = field(default_factory=dict)
    values: Mapping[ParamKey, Any] = field(default_factory=dict)
    types: Mapping[ParamKey, str] = field(default_factory=dict)


EMPTY_VIEW = TypedView()


def infer_type(value: Any) -> str:
    """The value type of a parameter known only by its value (bool is JSON, not int)."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "json"
    return "int" if isinstance(value, int) else "float"


def typed_view(snapshot: Snapshot, types: Mapping[ParamKey, str] | None = None) -> TypedView:
    """Split the snapshot's parameters by declared type (inferred from the value if not given)."""
    declared = dict(types or {})
    floats: dict[ParamKey, float] = {}
    ints: dict[ParamKey, int] = {}
    strs: dict[ParamKey, str] = {}
    kinds: dict[ParamKey, str] = {}
    for key, value in snapshot.values.items():
        kind = declared.get(key) or infer_type(value)
        kinds[key] = kind
        if kind in ("float", "int") and infer_type(value) in ("float", "int"):
            floats[key] = float(value)
            if kind == "int" and float(value).is_integer():
                ints[key] = int(value)
        elif kind == "string" and isinstance(value, str):
            strs[key] = value
    return TypedView(snapshot, floats, ints, strs, dict(snapshot.values), kinds)
