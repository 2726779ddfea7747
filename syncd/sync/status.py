"""`syncd status`: the applied commit, the last attempt, and whether the database has drifted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from syncd.sync.database_state import drifted_since_sync, read_sync_state
from tonsurance.db import connect

_COUNTS = """
select (select count(*) from config_parameters),
       (select count(*) from historical_depegs),
       (select count(*) from stress_scenarios)
"""


def read_status(dsn: str | None) -> dict[str, Any]:
    """The sync record plus counts, as plain JSON-friendly values."""
    with connect(dsn) as conn:
        with conn.transaction():
            sync = read_sync_state(conn)
            drifted = drifted_since_sync(conn)
            with conn.cursor() as cur:
                cur.execute(_COUNTS)
                params, depegs, scenarios = cur.fetchone() or (0, 0, 0)
    out: dict[str, Any] = {
        key: (value.isoformat() if isinstance(value, dt.datetime) else value)
        for key, value in sync.items()
        if key != "id"
    }
    out["drifted_rows"] = drifted
    out["drift"] = bool(drifted)
    out["parameters"] = params
    out["historical_depegs"] = depegs
    out["stress_scenarios"] = scenarios
    return out


def render_status(status: dict[str, Any]) -> str:
    applied = status.get("applied_commit")
    lines = [
        f"applied commit:  {applied or '(none yet)'}"
        + (f" at {status.get('applied_at')} by {status.get('applied_by')}" if applied else ""),
        f"last attempt:    {status.get('attempted_commit') or '(none)'} -> {status.get('attempt_outcome') or '-'}"
        + (f" at {status.get('attempted_at')}" if status.get("attempted_at") else ""),
    ]
    if status.get("attempt_error"):
        lines.append(f"attempt error:   {status['attempt_error']}")
    lines.append(
        f"contents:        {status['parameters']} parameters, {status['historical_depegs']} depeg events,"
        f" {status['stress_scenarios']} stress scenarios"
    )
    lines.append(
        f"drift:           {status['drifted_rows']} row{'s' if status['drifted_rows'] != 1 else ''}"
        " changed by hand since the last sync"
        if status["drift"]
        else "drift:           none"
    )
    return "\n".join(lines)
