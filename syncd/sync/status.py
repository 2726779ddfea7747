"""`syncd status`: the applied commit, the last attempt, and whether the database has drifted."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from syncd.sync.database_state import drifted_since_sync, read_sync_state
from tonsurance.db import connect

_COUNTS = """
select (select count(*) from config_parameters),
       (select count(*) from historical_depegs),
       (select count(*) from stress_scenarios)
"""


@dataclass(frozen=True)
class SyncStatus:
    """What the database says about its sync: times are ISO 8601 text, as in the JSON output.

    `environment` is the one the database serves (recorded by its first apply)."""

    environment: str | None
    applied_commit: str | None
    applied_at: str | None
    applied_by: str | None
    attempted_commit: str | None
    attempted_at: str | None
    attempt_outcome: str | None
    attempt_error: str | None
    drifted_rows: int
    drift: bool
    parameters: int
    historical_depegs: int
    stress_scenarios: int

    def as_json(self) -> dict[str, Any]:
        """The JSON object of `syncd status --format json`."""
        return asdict(self)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def read_status(dsn: str | None) -> SyncStatus:
    """The sync record, drift since the last sync, and how many rows the database holds."""
    with connect(dsn) as conn:
        with conn.transaction():
            sync = read_sync_state(conn)
            drifted = drifted_since_sync(conn)
            with conn.cursor() as cur:
                cur.execute(_COUNTS)
                params, depegs, scenarios = cur.fetchone() or (0, 0, 0)
    return SyncStatus(
        environment=_text(sync.get("environment")),
        applied_commit=_text(sync.get("applied_commit")),
        applied_at=_text(sync.get("applied_at")),
        applied_by=_text(sync.get("applied_by")),
        attempted_commit=_text(sync.get("attempted_commit")),
        attempted_at=_text(sync.get("attempted_at")),
        attempt_outcome=_text(sync.get("attempt_outcome")),
        attempt_error=_text(sync.get("attempt_error")),
        drifted_rows=drifted,
        drift=bool(drifted),
        parameters=params,
        historical_depegs=depegs,
        stress_scenarios=scenarios,
    )
