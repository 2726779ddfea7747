"""The SQL risk functions and tonsurance.risk give the same numbers on the shipped configuration."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import psycopg
import pytest

from syncd.sync.pipeline import apply_commit
from tonsurance import risk
from tonsurance.config.layout import default_root
from tonsurance.config.model import Snapshot
from tonsurance.config.snapshot import snapshot_from_state
from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources
from tests.support import make_config_repo

THRESHOLDS = (0.9, 0.95, 0.97, 0.99, 1.0)
LOOKBACKS = (1.0, 3.0, 5.0, 10.0)
AS_OF = (dt.date(2022, 6, 1), dt.date(2023, 12, 31), dt.date.today())


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
                (sql,) = conn.execute(
                    "select calculate_expected_loss_per_policy(%s, %s, %s)",
                    (asset, 1_000_000.0, trigger),
                ).fetchone()
                assert close(
                    sql, risk.expected_loss_per_policy(snap, asset, 1_000_000.0, trigger)
                ), (asset, trigger)


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
