"""The difference between two configuration states, in the normal form of both."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tonsurance.config.state import ConfigState, Parameter

ParamKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ParamChange:
    action: str  # add | change | remove
    category: str
    key: str
    old: Parameter | None
    new: Parameter | None

    @property
    def name(self) -> str:
        return f"{self.category}.{self.key}"

    @property
    def relative(self) -> float | None:
        """(new - old) / |old| for numbers, else None."""
        if self.old is None or self.new is None:
            return None
        a, b = self.old.value, self.new.value
        if isinstance(a, bool) or isinstance(b, bool):
            return None
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a != 0:
            return (b - a) / abs(a)
        return None

    @property
    def value_changed(self) -> bool:
        return self.old is None or self.new is None or self.old.value != self.new.value


@dataclass(frozen=True, slots=True)
class RowChange:
    action: str
    table: str
    id: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def columns(self) -> list[str]:
        if self.old is None or self.new is None:
            return []
        return [c for c in self.new if self.old.get(c) != self.new.get(c)]


@dataclass(frozen=True)
class Diff:
    params: list[ParamChange] = field(default_factory=list)
    rows: list[RowChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.params and not self.rows

    def counts(self) -> dict[str, int]:
        out = {"add": 0, "change": 0, "remove": 0}
        changes: list[ParamChange | RowChange] = [*self.params, *self.rows]
        for change in changes:
            out[change.action] += 1
        return out


def diff_params(
    old: Mapping[ParamKey, Parameter], new: Mapping[ParamKey, Parameter]
) -> list[ParamChange]:
    changes: list[ParamChange] = []
    for key, b in new.items():
        a = old.get(key)
        if a is None:
            changes.append(ParamChange("add", key[0], key[1], None, b))
        elif a != b:
            changes.append(ParamChange("change", key[0], key[1], a, b))
    for key, a in old.items():
        if key not in new:
            changes.append(ParamChange("remove", key[0], key[1], a, None))
    changes.sort(key=lambda c: (c.category, c.key))
    return changes


def diff_rows(
    old: Mapping[str, Mapping[str, dict[str, Any]]], new: Mapping[str, Mapping[str, dict[str, Any]]]
) -> list[RowChange]:
    rows: list[RowChange] = []
    for table in sorted(old.keys() | new.keys()):
        before, after = old.get(table, {}), new.get(table, {})
        for row_id in sorted(before.keys() | after.keys()):
            x, y = before.get(row_id), after.get(row_id)
            if x is None:
                rows.append(RowChange("add", table, row_id, None, y))
            elif y is None:
                rows.append(RowChange("remove", table, row_id, x, None))
            elif x != y:
                rows.append(RowChange("change", table, row_id, x, y))
    return rows


def diff_states(old: ConfigState, new: ConfigState) -> Diff:
    """What must change to turn `old` into `new`, in a stable order."""
    return Diff(diff_params(old.parameters, new.parameters), diff_rows(old.tables, new.tables))


def show(value: Any) -> str:
    """A value as people read it: text as written, anything else as compact JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def relative_text(change: ParamChange) -> str:
    """The relative move of a numeric change, like `+12.5%`; empty when it has none."""
    rel = change.relative
    return "" if rel is None else f"{rel * 100:+.1f}%"
