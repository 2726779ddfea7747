"""The parameter list (filtered, paged by a cursor) and one parameter's current row."""

from __future__ import annotations

from typing import Any

import psycopg

from syncd.console.pages import ParameterRow, ParametersPage
from syncd.console.units import unit_of

PAGE_SIZE = 200


def _one(conn: psycopg.Connection[Any], query: Any, params: Any = ()) -> Any:
    with conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


def _parameter_row(row: tuple[Any, ...]) -> ParameterRow:
    category, key, value, value_type, description, commit, updated_at = row
    return ParameterRow(
        category, key, value, value_type, unit_of(description), description, commit, updated_at
    )


_PARAMETER_COLUMNS = "category, key, value, value_type, description, commit, updated_at"


# Case folding in the "C" collation folds ASCII only (names are ASCII) and costs a fraction of
# the database collation's: a filter over 100k parameters reads them once, in about 0.1 s.
_MATCHES = (
    "strpos(lower((category || '.' || key || ' ' || description) collate \"C\"),"
    ' lower(%s collate "C")) > 0'
)


def parameters(
    conn: psycopg.Connection[Any], query: str, after: tuple[str, str] | None
) -> ParametersPage:
    """A page of parameters in (category, key) order whose name or description contains `query`
    (ASCII letters in any case); `after` is the last (category, key) of the previous page.

    The number of matches is counted on the first page only (later pages carry None)."""
    where = ["(category, key) > (%s, %s)"] if after is not None else []
    params: list[Any] = list(after) if after is not None else []
    if query:
        where.append(_MATCHES)
        params.append(query)
    condition = (" where " + " and ".join(where)) if where else ""
    counted = "count(*) over ()" if query else "null::bigint"
    with conn.cursor() as cur:
        cur.execute(
            f"select {_PARAMETER_COLUMNS}, {counted} from config_parameters{condition}"
            " order by category, key limit %s",
            [*params, PAGE_SIZE + 1],
        )
        found = cur.fetchall()
    total: int | None = None
    if after is None:
        if query:
            total = int(found[0][-1]) if found else 0
        else:
            total = int(_one(conn, "select count(*) from config_parameters")[0])
    rows = [_parameter_row(r[:-1]) for r in found]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    categories = tuple(dict.fromkeys(r.category for r in rows))
    cursor = f"{rows[-1].category}\t{rows[-1].key}" if more and rows else None
    return ParametersPage(query, tuple(rows), categories, total, cursor)


def parameter(conn: psycopg.Connection[Any], category: str, key: str) -> ParameterRow | None:
    with conn.cursor() as cur:
        cur.execute(
            f"select {_PARAMETER_COLUMNS} from config_parameters where category = %s and key = %s",
            (category, key),
        )
        row = cur.fetchone()
    return _parameter_row(row) if row else None
