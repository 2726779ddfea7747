"""`syncd status`: the applied commit, the last attempt, and whether the database has drifted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tonsurance.db import connect

from syncd.dbstate import read_sync_state

_DRIFT_SQL = """
select count(distinct (table_name, category, key))
  from config_audit_log
 where is_drift
   and changed_at > coalesce(
       (select max(finished_at) from sync_runs where outcome in ('applied', 'unchanged')),
       '-infinity')
"""


def read_status(dsn: str | None) -> dict[str, Any]:
    """The sync record plus counts, as plain JSON-friendly values."""
    with connect(dsn) as conn:
        with conn.transaction():
            sync = read_sync_state(conn)
            with conn.cursor() as cur:
                cur.execute(_DRIFT_SQL)
                drifted = cur.fetchone()
                cur.execute("select count(*) from config_parameters")
                params = cur.fetchone()
                cur.execute("select count(*) from historical_depegs")
                depegs = cur.fetchone()
                cur.execute("select count(*) from stress_scenarios")
                scenarios = cur.fetchone()
    out: dict[str, Any] = {
        key: (value.isoformat() if isinstance(value, dt.datetime) else value)
        for key, value in sync.items()
        if key != "id"
    }
    out["drifted_rows"] = drifted[0] if drifted else 0
    out["drift"] = bool(out["drifted_rows"])
    out["parameters"] = params[0] if params else 0
    out["historical_depegs"] = depegs[0] if depegs else 0
    out["stress_scenarios"] = scenarios[0] if scenarios else 0
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
