"""One normal form for values on both sides of a comparison.

YAML `0.040`, JSONB `0.04` and a float column all become the float 0.04; a number declared
float stays a float even when written `25`; an int stays an int; dates are ISO strings; JSON
objects compare by content, not key order. Two values are the same exactly when their normal
forms are equal.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def normal_json(value: Any) -> Any:
    """Normalise a JSON-like value: Decimal -> int/float, tuples -> lists, dates -> ISO strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): normal_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normal_json(v) for v in value]
    raise TypeError(f"not a JSON value: {value!r}")


def normal_value(value: Any, value_type: str) -> Any:
    """Normalise a parameter value to its declared type."""
    if (
        value_type == "float"
        and isinstance(value, (int, float, Decimal))
        and not isinstance(value, bool)
    ):
        return float(value)
    if (
        value_type == "int"
        and isinstance(value, (int, float, Decimal))
        and not isinstance(value, bool)
    ):
        if float(value) == int(value):
            return int(value)
    return normal_json(value)


def normal_row(row: dict[str, Any], float_columns: frozenset[str]) -> dict[str, Any]:
    """Normalise one table row: named numeric columns to float, the rest as JSON."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name in float_columns and value is not None and not isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, dict):
            out[name] = {
                k: float(v)
                if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
                else normal_json(v)
                for k, v in value.items()
            }
        else:
            out[name] = normal_json(value)
    return out
