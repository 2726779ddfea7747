"""Which environment a configuration database serves, as recorded by syncd's first apply."""

from __future__ import annotations

from tonsurance.db import connect
from tonsurance.errors import InvalidConfig


def served_environment(dsn: str | None) -> str | None:
    """The environment the database records (None before the first apply)."""
    with connect(dsn) as conn:
        row = conn.execute("select environment from sync_state").fetchone()
    return str(row[0]) if row and row[0] else None


def check_served(dsn: str | None, environment: str) -> None:
    """InvalidConfig (one line) when the database serves another environment than `environment`."""
    served = served_environment(dsn)
    if served is not None and served != environment:
        raise InvalidConfig(
            f"the database serves the environment {served!r}, not {environment!r};"
            f" pass --environment {served} or another --dsn"
        )
