"""The console's reads of history: one parameter's changes, the audit log, and the data tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from syncd.console.catalog import parameter
from syncd.console.charts import hour_bars, value_chart
from syncd.console.database import Capabilities
from syncd.console.pages import AuditPage, ParameterPage, TablesPage
from syncd.console.queries import change_columns, to_change

HISTORY_SHOWN = 500
AUDIT_PAGE = 100
RESULTS_SHOWN = 100


def _now(conn: psycopg.Connection[Any]) -> dt.datetime:
    with conn.cursor() as cur:
        cur.execute("select now()")
        row = cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def parameter_page(
    conn: psycopg.Connection[Any], caps: Capabilities, category: str, key: str
) -> ParameterPage | None:
    """The parameter, its newest changes and a chart of its value; None when the database never
    held it (neither a row nor an audit row)."""
    row = parameter(conn, category, key)
    changes = []
    if caps.audit:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "select {} from {} where category = %s and key = %s"
                    " order by changed_at desc, id desc limit %s"
                ).format(change_columns(caps), sql.Identifier(caps.audit)),
                (category, key, HISTORY_SHOWN + 1),
            )
            changes = [to_change(r) for r in cur.fetchall()]
    if row is None and not changes:
        return None
    more = len(changes) > HISTORY_SHOWN
    changes = changes[:HISTORY_SHOWN]
    points = [(c.when, c.new, c.kind.value) for c in reversed(changes)]
    if not points and row is not None:
        points = [(row.updated_at, row.value, "commit" if row.commit else "hand edit")]
    return ParameterPage(row, category, key, tuple(changes), more, value_chart(points, _now(conn)))


def audit_page(
    conn: psycopg.Connection[Any], caps: Capabilities, before: int | None, days: int
) -> AuditPage:
    """Changes per hour over the last `days` days and one page of the log, newest first."""
    now = _now(conn)
    if not caps.audit:
        return AuditPage(days, hour_bars({}, days, now), 0, (), before, None, False)
    relation = sql.Identifier(caps.audit)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "select date_trunc('hour', changed_at), count(*) from {}"
                " where changed_at > date_trunc('hour', now()) - make_interval(hours => %s)"
                " group by 1"
            ).format(relation),
            (days * 24 - 1,),
        )
        counts = {hour: count for hour, count in cur.fetchall()}
        cur.execute(
            sql.SQL("select {} from {} where id < %s order by id desc limit %s").format(
                change_columns(caps), relation
            ),
            (before if before is not None else 2**63 - 1, AUDIT_PAGE + 1),
        )
        changes = [to_change(r) for r in cur.fetchall()]
    older = changes[AUDIT_PAGE - 1].id if len(changes) > AUDIT_PAGE else None
    return AuditPage(
        days,
        hour_bars(counts, days, now),
        sum(counts.values()),
        tuple(changes[:AUDIT_PAGE]),
        before,
        older,
        True,
    )


def tables_page(conn: psycopg.Connection[Any], caps: Capabilities) -> TablesPage:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select id, asset, low_price, start_date, duration_hours, cause, source, verified,"
            " commit from historical_depegs order by start_date, id"
        )
        depegs = tuple(cur.fetchall())
        cur.execute(
            "select id, name, description, severity, annual_probability, btc_change,"
            ' price_impacts, commit from stress_scenarios order by id collate "C"'
        )
        scenarios = tuple(cur.fetchall())
        results = None
        total = 0
        if caps.can("stress_test_results"):
            cur.execute("select count(*) as n from stress_test_results")
            total = int((cur.fetchone() or {"n": 0})["n"])
            cur.execute(
                "select id, scenario_id, total_payout, btc_pnl, capital_after, solvent,"
                " tested_by, tested_at from stress_test_results order by id desc limit %s",
                (RESULTS_SHOWN,),
            )
            results = tuple(cur.fetchall())
    return TablesPage(depegs, scenarios, results, total)
