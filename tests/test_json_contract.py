"""The JSON shapes that scripts read: `syncd status --format json` and `syncd plan --format json`.

Other keys may be added over time, but the keys here and their types are a contract with the
README; a rename or a changed type fails this test.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from syncd.cli.main import main
from tests.support import ConfigRepo, make_config_repo

STATUS_KEYS = {
    "applied_commit": str,
    "applied_at": str,
    "applied_by": str,
    "attempted_commit": str,
    "attempted_at": str,
    "attempt_outcome": str,
    "attempt_error": type(None),
    "drifted_rows": int,
    "drift": bool,
    "parameters": int,
    "historical_depegs": int,
    "stress_scenarios": int,
}
PLAN_PARAMETER_KEYS = {"action", "category", "key", "old", "new", "relative_change"}
PLAN_ROW_KEYS = {"action", "table", "id", "old", "new", "columns"}


def _syncd(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _applied_repo(tmp_path: Path, dsn: str) -> ConfigRepo:
    repo = make_config_repo(tmp_path)
    _syncd("apply", "--repo", str(repo.path), "--dsn", dsn)
    return repo


def test_status_json_keeps_its_keys_and_types(tmp_path: Path, db_dsn: str) -> None:
    """After an apply, status JSON has exactly the documented keys, each of its documented type."""
    repo = _applied_repo(tmp_path, db_dsn)
    status = json.loads(_syncd("status", "--dsn", db_dsn, "--format", "json"))
    for key, kind in STATUS_KEYS.items():
        assert isinstance(status.get(key), kind), (key, status.get(key))
    assert status["applied_commit"] == repo.head()
    assert status["attempt_outcome"] == "applied"


def test_plan_json_keeps_its_keys(tmp_path: Path, db_dsn: str) -> None:
    """A plan with a parameter change and a row change has the documented keys on both."""
    repo = _applied_repo(tmp_path, db_dsn)
    repo.change("config/pricing.yaml", "USDC: 0.04", "USDC: 0.045", push=False)
    repo.change("config/stress_scenarios.yaml", "USDT: -0.03", "USDT: -0.05", push=False)
    plan = json.loads(
        _syncd("plan", "--repo", str(repo.path), "--dsn", db_dsn, "--format", "json")
    )
    assert set(plan) == {"counts", "parameters", "rows"}
    assert plan["counts"] == {"add": 0, "change": 2, "remove": 0}
    (param,) = plan["parameters"]
    assert set(param) == PLAN_PARAMETER_KEYS
    assert (param["key"], param["old"], param["new"]) == ("base_rate_USDC", 0.04, 0.045)
    (row,) = plan["rows"]
    assert set(row) == PLAN_ROW_KEYS
    assert row["columns"] == ["price_impacts"]
