"""The SQL risk functions and tonsurance.risk give the same numbers: on the shipped configuration,
and on generated histories, lookbacks, days and collations (Hypothesis, bounded examples)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from seed_values import RISK, snapshot

from syncd.sync.pipeline import apply_commit
from tonsurance import risk
from tonsurance.config.layout import default_root
from tonsurance.config.model import DepegEvent, Snapshot, StressScenario
from tonsurance.config.rules import utc_today
from tonsurance.config.snapshot import snapshot_from_state
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources
from tests.support import make_config_repo

THRESHOLDS = (0.9, 0.95, 0.97, 0.99, 1.0)
LOOKBACKS = (1.0, 3.0, 5.0, 10.0)
AS_OF = (dt.date(2022, 6, 1), dt.date(2023, 12, 31), utc_today())
ASSETS = ("AAA", "BBB")
BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def filled(db_dsn: str, tmp_path: Path) -> tuple[str, Snapshot]:
    """A database filled by syncd from the shipped configuration, and the same configuration's snapshot."""
    repo = make_config_repo(tmp_path / "repo")
    apply_commit(repo.path, "HEAD", db_dsn)
    state = validate_sources(read_directory(default_root())).state
    assert state is not None
    return db_dsn, snapshot_from_state(state)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_depeg_probability_and_severity_match(filled: tuple[str, Snapshot]):
    """For every asset, threshold, lookback and date, the SQL and Python probabilities and severities agree."""
    dsn, snap = filled
    assets = sorted(snap.pricing.base_rate)
    mismatches = []
    nonzero = 0
    with psycopg.connect(dsn) as conn:
        for asset in assets:
            for threshold in THRESHOLDS:
                for years in LOOKBACKS:
                    for as_of in AS_OF:
                        (sql,) = conn.execute(
                            "select calculate_annual_depeg_probability(%s, %s, %s, %s)",
                            (asset, threshold, years, as_of),
                        ).fetchone()
                        python = risk.annual_depeg_probability(
                            snap.depegs, asset, threshold, years, as_of
                        )
                        nonzero += python > 0
                        if not close(sql, python):
                            mismatches.append((asset, threshold, years, as_of, sql, python))
            (sql_severity,) = conn.execute(
                "select calculate_expected_severity(%s)", (asset,)
            ).fetchone()
            if not close(sql_severity, risk.expected_severity(snap.depegs, asset)):
                mismatches.append((asset, "severity", sql_severity))
    assert mismatches == []
    assert nonzero > 50, "the comparison must cover assets that did depeg"


def test_expected_loss_per_policy_matches(filled: tuple[str, Snapshot]):
    """The expected loss of a policy is the same in SQL and Python for every asset and trigger."""
    dsn, snap = filled
    with psycopg.connect(dsn) as conn:
        for asset in sorted(snap.pricing.base_rate):
            for trigger in (0.9, 0.97, 0.99):
                for as_of in AS_OF:
                    (sql,) = conn.execute(
                        "select calculate_expected_loss_per_policy(%s, %s, %s, %s)",
                        (asset, 1_000_000.0, trigger, as_of),
                    ).fetchone()
                    python = risk.expected_loss_per_policy(snap, asset, 1_000_000.0, trigger, as_of)
                    assert close(sql, python), (asset, trigger, as_of)


def test_stress_tests_match(filled: tuple[str, Snapshot]):
    """Stressed prices, payouts and whole stress tests of a vault agree between SQL and Python."""
    dsn, snap = filled
    policies = tuple(
        risk.Policy(asset, 1_000_000.0 * (i + 1), 0.97 if i % 2 else 0.99)
        for i, asset in enumerate(sorted(snap.pricing.base_rate))
    )
    vault = risk.VaultSnapshot(
        capital_usd=25_000_000.0, btc_exposure_usd=5_000_000.0, policies=policies
    )
    with psycopg.connect(dsn) as conn:
        for scenario in snap.scenarios:
            for policy in policies:
                (price,) = conn.execute(
                    "select get_stressed_asset_price(%s, %s)", (scenario.id, policy.asset)
                ).fetchone()
                assert close(price, risk.stressed_price(scenario, policy.asset))
                (payout,) = conn.execute(
                    "select calculate_stress_payout(%s, %s, %s, %s)",
                    (policy.asset, policy.coverage_usd, policy.trigger_price, scenario.id),
                ).fetchone()
                assert close(
                    payout,
                    risk.stress_payout(
                        policy.asset, policy.coverage_usd, policy.trigger_price, scenario
                    ),
                )
            row = conn.execute(
                "select total_payout, btc_pnl, capital_after, solvent from run_stress_test(%s, %s::jsonb, 'parity test')",
                (scenario.id, vault.to_json()),
            ).fetchone()
            python = risk.run_stress_test(scenario, vault)
            assert row is not None
            assert close(row[0], python.total_payout) and close(row[1], python.btc_pnl)
            assert close(row[2], python.capital_after) and row[3] == python.solvent


lookbacks = st.one_of(
    st.floats(min_value=1e-6, max_value=60.0),
    st.sampled_from([5e-324, 1e-300, 0.001, 1.0, 5.0, 1e306, math.inf]),
)
thresholds = st.one_of(st.floats(min_value=0.0, max_value=2.0), st.sampled_from([0.97, 1.0]))
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2035, 12, 31))


@st.composite
def histories(draw: st.DrawFn) -> tuple[dt.date, tuple[DepegEvent, ...]]:
    """A day and verified or unverified events around it, many of them days or weeks before."""
    as_of = draw(days)
    count = draw(st.integers(min_value=0, max_value=25))
    events = []
    for i in range(count):
        offset = draw(st.one_of(st.integers(-5, 5), st.integers(-4000, 400)))
        events.append(
            DepegEvent(
                id=f"e{i}",
                asset=draw(st.sampled_from(ASSETS)),
                low_price=draw(st.floats(min_value=0.01, max_value=1.99)),
                start_date=as_of + dt.timedelta(days=offset),
                duration_hours=24.0,
                cause="generated",
                source="generated",
                verified=draw(st.booleans()),
            )
        )
    return as_of, tuple(events)


def load_events(conn: psycopg.Connection, events: tuple[DepegEvent, ...]) -> None:
    conn.execute("delete from historical_depegs")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into historical_depegs (id, asset, low_price, start_date, duration_hours,"
            " cause, source, verified) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (e.id, e.asset, e.low_price, e.start_date, e.duration_hours, "", "", e.verified)
                for e in events
            ],
        )


@pytest.fixture
def conn(db_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection to a migrated database whose every change a test rolls back."""
    with psycopg.connect(db_dsn, autocommit=True) as connection:
        yield connection


def test_depeg_figures_agree_on_generated_histories(conn: psycopg.Connection):
    """Probability (exactly), severity and expected loss agree for any events, lookback and day."""

    @BOUNDED
    @given(
        histories(),
        st.lists(st.tuples(thresholds, lookbacks), min_size=1, max_size=3),
        st.floats(min_value=0.01, max_value=60.0),
    )
    @example(  # 40 events in a year at one day: n / lookback = 800, past exp's underflow in SQL
        (
            dt.date(2024, 1, 1),
            tuple(
                DepegEvent(f"u{i}", "AAA", 0.9, dt.date(2024, 1, 1), 1.0, "", "", True)
                for i in range(20)
            ),
        ),
        [(0.97, 0.025)],
        5.0,
    )
    @example(  # an event after as_of: not known yet on that day
        (
            dt.date(2022, 6, 1),
            (DepegEvent("later", "AAA", 0.88, dt.date(2023, 3, 10), 48.0, "", "", True),),
        ),
        [(0.99, 5.0)],
        5.0,
    )
    def check(history, queries, years):
        as_of, events = history
        snap = snapshot(risk=dataclasses.replace(RISK, historical_data_years=years), depegs=events)
        with conn.transaction(force_rollback=True):
            load_events(conn, events)
            conn.execute(
                "insert into config_parameters (category, key, value, value_type)"
                " values ('risk', 'historical_data_years', %s, 'float')",
                (Jsonb(years),),
            )
            for asset in ASSETS:
                for threshold, lookback in queries:
                    (sql,) = conn.execute(
                        "select calculate_annual_depeg_probability(%s, %s, %s, %s)",
                        (asset, threshold, lookback, as_of),
                    ).fetchone()
                    python = risk.annual_depeg_probability(
                        events, asset, threshold, lookback, as_of
                    )
                    assert sql == python, (asset, threshold, lookback, as_of)
                    (sql_loss,) = conn.execute(
                        "select calculate_expected_loss_per_policy(%s, %s, %s, %s)",
                        (asset, 1_000_000.0, threshold, as_of),
                    ).fetchone()
                    python_loss = risk.expected_loss_per_policy(
                        snap, asset, 1_000_000.0, threshold, as_of
                    )
                    assert math.isclose(sql_loss, python_loss, rel_tol=1e-12, abs_tol=1e-9)
                (severity,) = conn.execute(
                    "select calculate_expected_severity(%s)", (asset,)
                ).fetchone()
                assert math.isclose(
                    severity, risk.expected_severity(events, asset), rel_tol=1e-12, abs_tol=1e-15
                )

    check()


def test_point_in_time_ignores_events_after_as_of(conn: psycopg.Connection):
    """On a day before an event, neither side counts it, in the probability or the loss."""
    events = (DepegEvent("later", "AAA", 0.88, dt.date(2023, 3, 10), 48.0, "", "", True),)
    before, after = dt.date(2022, 6, 1), dt.date(2023, 6, 1)
    with conn.transaction(force_rollback=True):
        load_events(conn, events)
        for day, counted in ((before, 0), (after, 1)):
            (sql,) = conn.execute(
                "select calculate_annual_depeg_probability('AAA', 0.99, 5, %s)", (day,)
            ).fetchone()
            (loss,) = conn.execute(
                "select calculate_expected_loss_per_policy('AAA', 1000000, 0.99, %s)", (day,)
            ).fetchone()
            expected = 1 - math.exp(-counted / 5)
            assert sql == risk.annual_depeg_probability(events, "AAA", 0.99, 5.0, day) == expected
            python_loss = risk.expected_loss_per_policy(
                snapshot(depegs=events), "AAA", 1_000_000.0, 0.99, day
            )
            assert math.isclose(loss, python_loss) and (loss > 0) == bool(counted)


@pytest.fixture
def timezone() -> Iterator[None]:
    """Restores the process time zone after a test changes TZ."""
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


def test_default_as_of_is_the_utc_date_on_both_sides(conn: psycopg.Connection, timezone: None):
    """Without as_of both sides judge from today's UTC date, whatever the local time zone."""
    today = utc_today()
    # a one-year window (365.25 days) holds the event 365 days back and not the one 366 days
    # back; from a date behind UTC it holds both, from a date ahead of it neither, and at any
    # hour one of the zones below is a day off UTC
    events = (
        DepegEvent("in", "AAA", 0.9, today - dt.timedelta(days=365), 1.0, "", "", True),
        DepegEvent("out", "AAA", 0.9, today - dt.timedelta(days=366), 1.0, "", "", True),
    )
    expected = risk.annual_depeg_probability(events, "AAA", 0.99, 1.0, today)
    loss = risk.expected_loss_per_policy(snapshot(depegs=events), "AAA", 1e6, 0.99, today)
    with conn.transaction(force_rollback=True):
        load_events(conn, events)
        for zone in ("Etc/GMT+12", "Etc/GMT-14"):  # UTC-12 and UTC+14
            conn.execute(f"set local timezone = '{zone}'")
            (sql,) = conn.execute(
                "select calculate_annual_depeg_probability('AAA', 0.99, 1)"
            ).fetchone()
            (sql_loss,) = conn.execute(
                "select calculate_expected_loss_per_policy('AAA', 1000000, 0.99)"
            ).fetchone()
            os.environ["TZ"] = zone
            time.tzset()
            python = risk.annual_depeg_probability(events, "AAA", 0.99, 1.0)
            python_loss = risk.expected_loss_per_policy(snapshot(depegs=events), "AAA", 1e6, 0.99)
            if utc_today() != today:  # midnight UTC passed during the test
                pytest.skip("the UTC date changed while the test ran")
            assert sql == python == expected, zone
            assert math.isclose(sql_loss, loss) and math.isclose(python_loss, loss), zone


scenario_ids = st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=6, unique=True
)


def _collation_works(conn: psycopg.Connection, name: str) -> bool:
    """Whether this server can use the collation (a server built without ICU lists ICU ones)."""
    try:
        with conn.transaction():
            conn.execute(f"select 'a' < 'b' collate \"{name}\"")
        return True
    except psycopg.errors.FeatureNotSupported:
        return False


def test_stress_tests_run_in_the_same_order_under_any_collation(conn: psycopg.Connection):
    """run_all_stress_tests lists scenarios in Python's code-point order whatever the collation."""
    collations = [
        name
        for (name,) in conn.execute(
            "select collname from pg_collation where collisdeterministic"
            " and collencoding in (-1, pg_char_to_encoding(getdatabaseencoding()))"
            ' order by collname collate "C"'
        )
    ]
    collations = [name for name in collations if _collation_works(conn, name)]
    assert "C" in collations
    vault = risk.VaultSnapshot(1_000_000.0, 100_000.0, (risk.Policy("AAA", 500_000.0, 0.97),))

    @BOUNDED
    @given(scenario_ids, st.sampled_from(collations), st.randoms(use_true_random=False))
    @example(["a_b", "a0", "ab", "a1"], "und-x-icu" if "und-x-icu" in collations else "C", None)
    def check(ids, collation, rnd):
        scenarios = [
            StressScenario(i, i, "", "high", 0.01, 0.1 * n, {"AAA": -0.01 * (n + 1)})
            for n, i in enumerate(ids)
        ]
        if rnd is not None:
            rnd.shuffle(scenarios)
        with conn.transaction(force_rollback=True):
            conn.execute(
                f'alter table stress_scenarios alter column id type text collate "{collation}"'
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into stress_scenarios (id, name, severity, annual_probability,"
                    " btc_change, price_impacts) values (%s, %s, %s, %s, %s, %s)",
                    [
                        (
                            s.id,
                            s.name,
                            s.severity,
                            s.annual_probability,
                            s.btc_change,
                            Jsonb(dict(s.price_impacts)),
                        )
                        for s in scenarios
                    ],
                )
            rows = conn.execute(
                "select scenario_id, total_payout, btc_pnl from run_all_stress_tests(%s, 'parity')",
                (Jsonb(vault.to_dict()),),
            ).fetchall()
            python = risk.run_all_stress_tests(snapshot(scenarios=scenarios), vault)
            assert [r[0] for r in rows] == [r.scenario_id for r in python], collation
            for row, result in zip(rows, python):
                assert math.isclose(row[1], result.total_payout)
                assert math.isclose(row[2], result.btc_pnl)

    check()
