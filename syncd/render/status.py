"""`syncd status` for people (text) and programs (JSON)."""

from __future__ import annotations

import json

from syncd.sync.status import SyncStatus


def render_text(status: SyncStatus) -> str:
    applied = status.applied_commit
    lines = [
        f"environment:     {status.environment or '(none yet: recorded by the first apply)'}",
        f"applied commit:  {applied or '(none yet)'}"
        + (f" at {status.applied_at} by {status.applied_by}" if applied else ""),
        f"last attempt:    {status.attempted_commit or '(none)'} -> {status.attempt_outcome or '-'}"
        + (f" at {status.attempted_at}" if status.attempted_at else ""),
    ]
    if status.attempt_error:
        lines.append(f"attempt error:   {status.attempt_error}")
    lines.append(
        f"contents:        {status.parameters} parameters, {status.historical_depegs} depeg events,"
        f" {status.stress_scenarios} stress scenarios"
    )
    rows = status.drifted_rows
    lines.append(
        f"drift:           {rows} row{'s' if rows != 1 else ''} changed by hand since the last sync"
        if status.drift
        else "drift:           none"
    )
    return "\n".join(lines)


def render_json(status: SyncStatus) -> str:
    return json.dumps(status.as_json(), indent=2)


RENDERERS = {"text": render_text, "json": render_json}
