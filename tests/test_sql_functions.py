"""The audit trigger, the value-type check, and the SQL risk functions and views, by hand-computed
numbers on small known data."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb


def run(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in its own transaction and return its rows (if any)."""
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(query, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def with_commit(conn: psycopg.Connection[Any], sha: str, author: str, message: str) -> None:
    """Record the current transaction as the apply of a commit, the way the applier does."""
    conn.execute(
        "insert into sync_apply_transactions (commit_sha, commit_author, commit_message, reason)"
        " values (%s, %s, %s, 'commit')",
        (sha, author, message),
    )


def audit_rows(dsn: str) -> list[tuple[Any, ...]]:
    return run(
        dsn,
        "select table_name, category, key, action, old_value, new_value, commit_sha,"
        " commit_author, commit_message, is_drift, db_role from config_audit_log order by id",
    )


def add_depeg(
    conn: psycopg.Connection[Any],
    id: str,
    asset: str,
    low: float,
    start: dt.date,
    verified: bool = True,
) -> None:
    conn.execute(
        "insert into historical_depegs (id, asset, low_price, start_date, duration_hours,"
        " cause, source, verified) values (%s, %s, %s, %s, 24, 'test', 'test', %s)",
        (id, asset, low, start, verified),
    )


def add_scenario(
    conn: psycopg.Connection[Any], id: str, btc_change: float, impacts: dict[str, float]
) -> None:
    conn.execute(
        "insert into stress_scenarios (id, name, severity, annual_probability, btc_change,"
        " price_impacts) values (%s, %s, 'high', 0.01, %s, %s)",
        (id, id, btc_change, Jsonb(impacts)),
    )


# --- the audit trigger ---------------------------------------------------------------------


def test_audit_records_commit_metadata_and_drift(db_dsn: str) -> None:
    """A change carrying commit metadata is audited with it; a hand edit without it is drift."""
    with psycopg.connect(db_dsn) as conn:
        with_commit(conn, "a" * 40, "Ada <ada@example.com>", "Raise USDC rate")
        conn.execute(
            "insert into config_parameters (category, key, value, value_type, commit)"
            " values ('pricing', 'base_rate_USDC', '0.04', 'float', %s)",
            ("a" * 40,),
        )
    run(db_dsn, "update config_parameters set value = '0.05' where key = 'base_rate_USDC'")
    first, second = audit_rows(db_dsn)
    assert first == (
        "config_parameters",
        "pricing",
        "base_rate_USDC",
        "INSERT",
        None,
        0.04,
        "a" * 40,
        "Ada <ada@example.com>",
        "Raise USDC rate",
        False,
        "postgres",
    )
    assert second[3:10] == ("UPDATE", 0.04, 0.05, None, None, None, True)


def test_commit_metadata_does_not_outlive_its_transaction(db_dsn: str) -> None:
    """Metadata set for one transaction is gone in the next one on the same connection."""
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        with conn.transaction():
            with_commit(conn, "b" * 40, "Bo", "first")
            conn.execute(
                "insert into config_parameters values ('risk', 'risk_free_rate', '0.05', 'float')"
            )
        conn.execute("update config_parameters set value = '0.06'")
    assert [(r[6], r[9]) for r in audit_rows(db_dsn)] == [("b" * 40, False), (None, True)]


def test_update_that_changes_nothing_writes_no_audit_row(db_dsn: str) -> None:
    """An update touching only commit and updated_at, or rewriting 0.04 as 0.040, is not audited."""
    run(db_dsn, "insert into config_parameters values ('pricing', 'k', '0.04', 'float')")
    with psycopg.connect(db_dsn) as conn:
        with_commit(conn, "c" * 40, "Cy", "re-apply")
        conn.execute("update config_parameters set commit = %s, updated_at = now()", ("c" * 40,))
        conn.execute("update config_parameters set value = '0.040'")
    with psycopg.connect(db_dsn) as conn:
        add_depeg(conn, "e-1", "USDC", 0.9, dt.date(2023, 3, 10))
    run(db_dsn, "update historical_depegs set commit = 'x', updated_at = now(), low_price = 0.90")
    assert [(r[0], r[3]) for r in audit_rows(db_dsn)] == [
        ("config_parameters", "INSERT"),
        ("historical_depegs", "INSERT"),
    ]


def test_table_rows_are_audited_as_json_without_commit(db_dsn: str) -> None:
    """Depeg and scenario rows are audited under their table name and id, as JSON rows."""
    with psycopg.connect(db_dsn) as conn:
        with_commit(conn, "d" * 40, "Di", "add data")
        add_depeg(conn, "usdc-svb-2023", "USDC", 0.88, dt.date(2023, 3, 10))
        add_scenario(conn, "banking_crisis", 0.27, {"USDC": -0.12})
    run(db_dsn, "delete from stress_scenarios")
    depeg, scenario, deleted = audit_rows(db_dsn)
    assert depeg[1:4] == ("historical_depegs", "usdc-svb-2023", "INSERT")
    assert depeg[5] == {
        "id": "usdc-svb-2023",
        "asset": "USDC",
        "low_price": 0.88,
        "start_date": "2023-03-10",
        "duration_hours": 24,
        "cause": "test",
        "source": "test",
        "verified": True,
    }
    assert scenario[1:4] == ("stress_scenarios", "banking_crisis", "INSERT")
    assert scenario[5]["price_impacts"] == {"USDC": -0.12}
    assert "commit" not in scenario[5] and "updated_at" not in scenario[5]
    assert deleted[3:6] == ("DELETE", scenario[5], None)
    assert deleted[9] is True


# --- the value-type check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "value_type", "ok"),
    [
        ("0.04", "float", True),
        ("25", "float", True),
        ('"0.04"', "float", False),
        ("10000", "int", True),
        ("25.0", "int", True),
        ("2.5", "int", False),
        ('"flat"', "string", True),
        ("1", "string", False),
        ('{"a": [1]}', "json", True),
        ("1", "decimal", False),
    ],
)
def test_value_must_match_its_declared_type(
    db_dsn: str, value: str, value_type: str, ok: bool
) -> None:
    """config_parameters accepts a value only when its JSON type matches value_type."""
    insert = "insert into config_parameters values ('pricing', 'k', %s, %s)"
    if ok:
        run(db_dsn, insert, (value, value_type))
    else:
        with pytest.raises(psycopg.errors.CheckViolation):
            run(db_dsn, insert, (value, value_type))


# --- depeg probability, severity, expected loss --------------------------------------------

AS_OF = dt.date(2025, 1, 1)


def count_recent(events: list[tuple[float, dt.date]], threshold: float, years: float) -> int:
    """n of the probability formula, computed in Python from its definition."""
    cutoff = dt.datetime.combine(AS_OF, dt.time()) - dt.timedelta(days=years * 365.25)
    return sum(
        1
        for low, start in events
        if low < threshold and dt.datetime.combine(start, dt.time()) > cutoff
    )


def test_annual_depeg_probability(db_dsn: str) -> None:
    """P = 1 - exp(-n / years), counting verified events below the threshold inside the window."""
    five_years_back = AS_OF - dt.timedelta(days=1826)  # the cutoff is 18:00 the day before
    verified = [
        (0.90, dt.date(2024, 6, 1)),
        (0.95, dt.date(2023, 3, 10)),
        (0.96, five_years_back),
        (0.80, five_years_back - dt.timedelta(days=1)),
        (0.80, dt.date(2019, 1, 1)),
    ]
    with psycopg.connect(db_dsn) as conn:
        for i, (low, start) in enumerate(verified):
            add_depeg(conn, f"tst-{i}", "TST", low, start)
        add_depeg(conn, "tst-unverified", "TST", 0.85, dt.date(2024, 1, 1), verified=False)
        add_depeg(conn, "other-asset", "OTH", 0.50, dt.date(2024, 1, 1))

    def sql_p(threshold: float, years: float) -> float:
        rows = run(
            db_dsn,
            "select calculate_annual_depeg_probability('TST', %s, %s, %s)",
            (threshold, years, AS_OF),
        )
        return float(rows[0][0])

    assert count_recent(verified, 0.97, 5) == 3
    assert sql_p(0.97, 5) == pytest.approx(1 - math.exp(-3 / 5))
    assert sql_p(0.92, 5) == pytest.approx(1 - math.exp(-1 / 5))
    assert sql_p(0.97, 1) == pytest.approx(1 - math.exp(-1 / 1))
    assert sql_p(0.97, 10) == pytest.approx(1 - math.exp(-5 / 10))
    assert sql_p(0.5, 5) == 0.0
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        sql_p(0.97, 0)


def test_expected_severity(db_dsn: str) -> None:
    """Severity is the mean of 1 - low_price over verified events below the peg, 0 with none."""
    with psycopg.connect(db_dsn) as conn:
        add_depeg(conn, "a", "TST", 0.90, dt.date(2024, 1, 1))
        add_depeg(conn, "b", "TST", 0.95, dt.date(2022, 5, 1))
        add_depeg(conn, "c", "TST", 0.80, dt.date(2015, 1, 1))
        add_depeg(conn, "d", "TST", 1.01, dt.date(2021, 1, 1))
        add_depeg(conn, "e", "TST", 0.50, dt.date(2020, 1, 1), verified=False)
    severity = run(
        db_dsn, "select calculate_expected_severity('TST'), calculate_expected_severity('NONE')"
    )
    assert severity[0][0] == pytest.approx((0.10 + 0.05 + 0.20) / 3)
    assert severity[0][1] == 0.0


def test_expected_loss_per_policy(db_dsn: str) -> None:
    """EL = P(asset, trigger, historical_data_years) * coverage * mean depth below the trigger."""
    (today,) = run(db_dsn, "select current_date")[0]
    with psycopg.connect(db_dsn) as conn:
        add_depeg(conn, "recent", "TST", 0.90, today - dt.timedelta(days=100))
        add_depeg(conn, "last-year", "TST", 0.96, today - dt.timedelta(days=400))
        add_depeg(conn, "long-ago", "TST", 0.85, today - dt.timedelta(days=3000))
        add_depeg(conn, "shallow", "TST", 0.98, today - dt.timedelta(days=50))
    depth = (0.10 + 0.04 + 0.15) / 3
    query = "select calculate_expected_loss_per_policy('TST', 100000, 0.97)"

    assert run(db_dsn, query)[0][0] == pytest.approx((1 - math.exp(-2 / 5)) * 100000 * depth)
    run(
        db_dsn,
        "insert into config_parameters values ('risk', 'historical_data_years', '1.0', 'float')",
    )
    assert run(db_dsn, query)[0][0] == pytest.approx((1 - math.exp(-1 / 1)) * 100000 * depth)
    assert run(db_dsn, "select calculate_expected_loss_per_policy('NONE', 1e6, 0.97)")[0][0] == 0


def test_depeg_views(db_dsn: str) -> None:
    """The frequency and severity views summarize verified events per asset."""
    with psycopg.connect(db_dsn) as conn:
        add_depeg(conn, "a", "TST", 0.90, dt.date(2024, 1, 1))
        add_depeg(conn, "b", "TST", 0.96, dt.date(2022, 5, 1))
        add_depeg(conn, "c", "TST", 0.50, dt.date(2020, 1, 1), verified=False)
    frequency = run(
        db_dsn,
        "select event_count, first_event, last_event, total_duration_hours"
        " from depeg_frequency_by_asset where asset = 'TST'",
    )
    assert frequency == [(2, dt.date(2022, 5, 1), dt.date(2024, 1, 1), 48.0)]
    severity = run(
        db_dsn,
        "select event_count, worst_low_price, avg_low_price, expected_severity"
        " from depeg_severity_by_asset where asset = 'TST'",
    )
    assert severity[0][:2] == (2, 0.90)
    assert severity[0][2:] == pytest.approx((0.93, 0.07))


# --- stress scenarios ----------------------------------------------------------------------

VAULT = {
    "capital_usd": 50000,
    "btc_exposure_usd": 20000,
    "policies": [
        {"asset": "TST", "coverage_usd": 100000, "trigger_price": 0.97},
        {"asset": "UP", "coverage_usd": 50000, "trigger_price": 0.95},
        {"asset": "ABSENT", "coverage_usd": 1000, "trigger_price": 0.97},
    ],
}


@pytest.fixture
def scenarios(db_dsn: str) -> str:
    """Two scenarios: a crash that makes TST pay out, and a mild one that pays nothing."""
    with psycopg.connect(db_dsn) as conn:
        add_scenario(conn, "crash", -0.5, {"TST": -0.12, "UP": 0.001})
        add_scenario(conn, "mild", 0.27, {"TST": -0.01, "UP": 0.0})
    return db_dsn


def test_stressed_price_and_payout(scenarios: str) -> None:
    """Stressed price is 1 + impact (NULL if absent); below the trigger it pays coverage * drop."""
    rows = run(
        scenarios,
        "select get_stressed_asset_price('crash', 'TST'), get_stressed_asset_price('crash', 'NO'),"
        " get_stressed_asset_price('nope', 'TST'),"
        " calculate_stress_payout('TST', 100000, 0.97, 'crash'),"
        " calculate_stress_payout('UP', 50000, 0.95, 'crash'),"
        " calculate_stress_payout('NO', 1000, 0.97, 'crash'),"
        " calculate_stress_payout('TST', 100000, 0.97, 'mild')",
    )
    stressed, absent, no_scenario, payout, up, none, mild = rows[0]
    assert stressed == pytest.approx(0.88)
    assert (absent, no_scenario) == (None, None)
    assert payout == pytest.approx(100000 * 0.12)
    assert (up, none, mild) == (0, 0, 0)


def test_run_stress_test_stores_and_returns_the_result(scenarios: str) -> None:
    """A stress test sums payouts, adds the BTC P&L, and records the row it returns."""
    rows = run(
        scenarios,
        "select scenario_id, total_payout, btc_pnl, capital_after, solvent, tested_by"
        " from run_stress_test('crash', %s, 'tester')",
        (Jsonb(VAULT),),
    )
    payout, pnl = 100000 * 0.12, 20000 * -0.5
    assert rows[0][0] == "crash"
    assert rows[0][1:4] == pytest.approx((payout, pnl, 50000 + pnl - payout))
    assert rows[0][4:] == (True, "tester")
    stored = run(scenarios, "select scenario_id, vault_snapshot from stress_test_results")
    assert stored == [("crash", VAULT)]


def test_run_stress_test_reports_insolvency_and_unknown_scenarios(scenarios: str) -> None:
    """Capital below zero after the shock is insolvent; an unknown scenario is an error."""
    poor = {**VAULT, "capital_usd": 1000}
    rows = run(
        scenarios,
        "select capital_after, solvent from run_stress_test('crash', %s, 't')",
        (Jsonb(poor),),
    )
    assert rows[0][0] == pytest.approx(1000 - 10000 - 12000)
    assert rows[0][1] is False
    with pytest.raises(psycopg.errors.NoDataFound, match="unknown stress scenario nope"):
        run(scenarios, "select run_stress_test('nope', '{}', 't')")


def test_run_all_stress_tests(scenarios: str) -> None:
    """Every scenario is run once, in id order, and each result is stored."""
    rows = run(
        scenarios,
        "select scenario_id, total_payout, capital_after from run_all_stress_tests(%s, 't')",
        (Jsonb(VAULT),),
    )
    assert [r[0] for r in rows] == ["crash", "mild"]
    assert rows[1][1:] == pytest.approx((0, 50000 + 20000 * 0.27))
    assert run(scenarios, "select count(*) from stress_test_results") == [(2,)]
