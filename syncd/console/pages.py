"""The console's page models: what each page shows, as frozen dataclasses.

The HTML templates and the JSON twins are both made from these, so the two never disagree.
Times are timezone-aware datetimes here and ISO 8601 text in JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    """Why a value changed: a commit applied by syncd, a hand edit, or syncd putting one back."""

    COMMIT = "commit"
    HAND_EDIT = "hand edit"
    DRIFT_CORRECTION = "drift correction"


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Who a commit comes from as far as syncd proved it (table commit_provenance)."""

    author: str
    verification: str
    signer: str | None
    signer_key: str | None
    pull_request: int | None
    override_reason: str | None
    override_by: str | None


@dataclasses.dataclass(frozen=True)
class CommitView:
    sha: str
    author: str | None
    message: str | None
    when: dt.datetime | None
    provenance: Provenance | None = None

    @property
    def short(self) -> str:
        return self.sha[:12]

    @property
    def subject(self) -> str:
        return (self.message or "").strip().splitlines()[0] if (self.message or "").strip() else ""


@dataclasses.dataclass(frozen=True)
class Refusal:
    sha: str
    when: dt.datetime | None
    why: str


@dataclasses.dataclass(frozen=True)
class DriftRow:
    table_name: str
    category: str
    key: str
    action: str
    when: dt.datetime


@dataclasses.dataclass(frozen=True)
class Live:
    """What only a running daemon knows: the branch head, lag and faults."""

    branch: str
    branch_head: str | None
    in_sync: bool
    lag_seconds: float
    lag_commits: int | None
    faults: dict[str, str]
    role: str


@dataclasses.dataclass(frozen=True)
class FrontPage:
    environment: str | None
    applied: CommitView | None
    applied_at: dt.datetime | None
    attempted: str | None
    attempt_outcome: str | None
    in_sync: bool | None
    live: Live | None
    last_refused: Refusal | None
    drifted_rows: int
    drift: tuple[DriftRow, ...]
    parameters: int
    historical_depegs: int
    stress_scenarios: int
    version: int | None
    notes: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ParameterRow:
    category: str
    key: str
    value: Any
    value_type: str
    unit: str
    description: str
    commit: str | None
    updated_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class ParametersPage:
    query: str
    rows: tuple[ParameterRow, ...]
    categories: tuple[str, ...]
    total: int | None  # matches in all; counted on the first page only
    after: str | None  # the cursor of the next page ("category\tkey"), None on the last one


@dataclasses.dataclass(frozen=True)
class Change:
    id: int
    when: dt.datetime
    table_name: str
    category: str
    key: str
    action: str
    old: Any
    new: Any
    kind: ChangeKind
    commit: str | None
    author: str | None
    subject: str
    signer: str | None
    db_role: str


@dataclasses.dataclass(frozen=True)
class Chart:
    """An SVG line chart in a fixed viewBox: the polyline's points and the axis labels."""

    width: int
    height: int
    points: str
    dots: tuple[tuple[float, float, str, str], ...]  # x, y, label, kind of change
    y_labels: tuple[tuple[float, str], ...]
    x_labels: tuple[tuple[float, str], ...]


@dataclasses.dataclass(frozen=True)
class ParameterPage:
    parameter: ParameterRow | None  # None once the parameter was removed
    category: str
    key: str
    changes: tuple[Change, ...]  # newest first
    more: bool  # older changes exist beyond those shown
    chart: Chart | None


@dataclasses.dataclass(frozen=True)
class Bars:
    """An SVG bar chart: one bar (x, y, width, height, label) per hour with changes."""

    width: int
    height: int
    bars: tuple[tuple[float, float, float, float, str], ...]
    x_labels: tuple[tuple[float, str], ...]
    peak: int


@dataclasses.dataclass(frozen=True)
class AuditPage:
    days: int
    per_hour: Bars
    hours_total: int
    changes: tuple[Change, ...]
    before: int | None  # the cursor of this page
    older: int | None  # the cursor of the next (older) page
    readable: bool


@dataclasses.dataclass(frozen=True)
class TablesPage:
    depegs: tuple[dict[str, Any], ...]
    scenarios: tuple[dict[str, Any], ...]
    results: tuple[dict[str, Any], ...] | None  # None: this role may not read them
    results_total: int


@dataclasses.dataclass(frozen=True)
class EnvironmentColumn:
    name: str
    ok: bool
    problem: str | None


@dataclasses.dataclass(frozen=True)
class EnvironmentRow:
    category: str
    key: str
    values: tuple[Any, ...]  # one per column; None where the environment lacks it
    differs: bool


@dataclasses.dataclass(frozen=True)
class EnvironmentsPage:
    database_environment: str | None
    commit: str | None
    columns: tuple[EnvironmentColumn, ...]
    rows: tuple[EnvironmentRow, ...]
    only_differences: bool
    note: str | None


def to_json(value: Any) -> Any:
    """A page (or any part of one) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, CommitView):
            out["subject"] = value.subject
        return out
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value
