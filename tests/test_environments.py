"""Environment overlays: the merge rules, and every bad overlay as one line at its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from syncd.cli.main import main
from tonsurance.config.render import validate_environment, validate_repository
from tonsurance.config.sources import read_directory

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's config/ and schemas/ to change."""
    for folder in ("config", "schemas"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def write(tree: Path, rel: str, text: str) -> Path:
    path = tree / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def problems(tree: Path) -> list[str]:
    return [str(p) for p in validate_repository(read_directory(tree)).all_problems]


def state(tree: Path, name: str):
    result = validate_environment(read_directory(tree), name)
    assert result.ok, [str(p) for p in result.problems]
    return result.state


def test_shipped_environments_render_their_overlays():
    """Each shipped environment is the base with exactly its overlay's values changed."""
    base = validate_repository(read_directory(ROOT))
    assert base.ok, [str(p) for p in base.all_problems]
    dev_overlay = yaml.safe_load((ROOT / "config/environments/dev.yaml").read_text())
    staging_overlay = yaml.safe_load((ROOT / "config/environments/staging/risk.yaml").read_text())
    base_values = base.base.state.values()
    for name, changed in (
        ("dev", {("risk", k): v for k, v in dev_overlay["risk"].items()}),
        ("staging", {("risk", k): v for k, v in staging_overlay.items()}),
        ("production", {}),
    ):
        values = base.environments[name].state.values()
        assert {k: v for k, v in values.items() if base_values[k] != v} == changed


def test_a_value_override_replaces_only_that_value(tree: Path):
    """A single value in an overlay replaces the base's; its neighbours keep the base values."""
    write(tree, "config/environments/staging/pricing.yaml", "base_rates:\n  USDT: 0.07\n")
    base = validate_repository(read_directory(tree)).base.state.values()
    staging = state(tree, "staging").values()
    assert staging[("pricing", "base_rate_USDT")] == 0.07
    assert {k for k in base if base[k] != staging[k]} == {
        ("pricing", "base_rate_USDT"),
        ("risk", "monte_carlo_simulations"),
    }


def test_rows_are_replaced_added_and_removed_by_id(tree: Path):
    """A row with a base id replaces that row, a new id is added, and $remove removes one."""
    base = validate_repository(read_directory(tree)).base.state.tables["stress_scenarios"]
    first, second = list(base)[:2]
    row = dict(yaml.safe_load((tree / "config/stress_scenarios.yaml").read_text())["scenarios"][0])
    row["annual_probability"] = 0.03
    added = dict(
        row, id="staging_drill", name="Staging drill", price_impacts=dict(row["price_impacts"])
    )
    write(
        tree,
        "config/environments/staging/stress_scenarios.yaml",
        yaml.safe_dump(
            {"scenarios": [row, added, {"id": second, "$remove": True}]}, sort_keys=False
        ),
    )
    rows = state(tree, "staging").tables["stress_scenarios"]
    assert rows[first]["annual_probability"] == 0.03
    assert "staging_drill" in rows and second not in rows
    assert set(rows) == (set(base) - {second}) | {"staging_drill"}
    assert next(iter(rows)) == first  # a replaced row keeps its place


@pytest.mark.parametrize(
    ("text", "fragment", "message"),
    [
        (
            "base_rates:\n  USDX: 0.05\n",
            "USDX",
            "unknown key: config/pricing.yaml has no base_rates.USDX",
        ),
        (
            "base_ratez:\n  USDC: 0.05\n",
            "base_ratez",
            "unknown key: config/pricing.yaml has no base_ratez",
        ),
        ("base_rates: 0.05\n", "base_rates", "is a single value; the base has a mapping here"),
        ("base_rates:\n  USDC: {x: 1}\n", "USDC", "is a mapping; the base has a single value here"),
        ("base_rates:\n  USDC: -0.04\n", "USDC", "-0.04 is less than the minimum of 0"),
    ],
)
def test_bad_overrides_point_at_the_overlay_line(
    tree: Path, text: str, fragment: str, message: str
):
    """An unknown key, a wrong shape or an out-of-range value is one problem at the overlay's line."""
    path = write(tree, "config/environments/staging/pricing.yaml", text)
    found = problems(tree)
    line = line_of(path, fragment)
    assert len(found) == 1, found
    assert found[0].startswith(f"config/environments/staging/pricing.yaml:{line}:"), found
    assert message in found[0]


def test_a_rule_broken_only_once_merged_points_at_the_overlay(tree: Path):
    """An overlay value that breaks a business rule against a base value is blamed on the overlay."""
    path = write(tree, "config/environments/dev.yaml", "pricing:\n  base_rates:\n    USDC: 0.2\n")
    found = problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"config/environments/dev.yaml:{line_of(path, 'USDC')}:")
    assert "in environment dev:" in found[0] and "config/pricing.yaml:" in found[0]


def test_a_bad_added_row_is_reported_at_its_overlay_row(tree: Path):
    """A row an overlay adds is checked by the schema and rules at its own lines."""
    path = write(
        tree,
        "config/environments/staging/historical_depegs.yaml",
        "events:\n  - id: xyz-2024\n    asset: XYZ\n    low_price: 0.9\n    start_date: '2024-01-02'\n"
        "    duration_hours: 3\n    cause: test\n    source: test\n    verified: false\n",
    )
    found = problems(tree)
    assert found == [
        (
            f"config/environments/staging/historical_depegs.yaml:{line_of(path, 'XYZ')}:12:"
            " events[0].asset: asset 'XYZ' has no base rate in config/pricing.yaml"
        )
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("  - id: nope\n    $remove: true\n", "cannot remove 'nope'"),
        ("  - id: banking_crisis\n    $remove: yes\n", "a removal is exactly"),
        ("  - name: x\n", "each overlay row is a mapping with an 'id'"),
    ],
)
def test_bad_table_overlays(tree: Path, rows: str, message: str):
    """A removal of an unknown row, a malformed marker or a row without id is one problem."""
    write(tree, "config/environments/staging/stress_scenarios.yaml", "scenarios:\n" + rows)
    found = problems(tree)
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith("config/environments/staging/stress_scenarios.yaml:2:")


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        (
            "config/environments/qa.yaml",
            "overlay for environment 'qa', which config/environments.yaml does not declare",
        ),
        ("config/environments/Prod!.yaml", "environment name 'Prod!' is not allowed"),
        ("config/environments/staging.yaml", "two overlays for environment 'staging'"),
        ("config/environments/staging/limits.yaml", "unknown file in an overlay folder"),
        ("config/environments/dev.yml", "unknown file in config/environments/"),
    ],
)
def test_bad_overlay_files_are_one_line_each(tree: Path, rel: str, message: str):
    """Undeclared, oddly named, doubled or unknown overlay files are each one problem naming the file."""
    write(tree, rel, "risk:\n  monte_carlo_simulations: 2000\n")
    found = problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(rel + ":1:1: ") or found[0].startswith(
        "config/environments/staging.yaml:1:1:"
    )
    assert message in found[0]


def test_unknown_file_key_in_a_one_file_overlay(tree: Path):
    """A one-file overlay's top-level keys must name base files."""
    path = write(tree, "config/environments/dev.yaml", "limits:\n  x: 1\n")
    found = problems(tree)
    assert found == [
        (
            f"config/environments/dev.yaml:{line_of(path, 'limits')}:1: limits: unknown key: the base"
            " files are pricing, risk, tranche, historical_depegs, stress_scenarios"
        )
    ]


def test_undeclared_environment_and_bad_declaration(tree: Path):
    """Rendering an undeclared environment, or a declaration with an odd name, is refused."""
    result = validate_environment(read_directory(tree), "qa")
    assert [p.message for p in result.problems] == [
        "environment 'qa' is not declared (declared: dev, staging, production)"
    ]
    write(tree, "config/environments.yaml", "environments: [dev, staging, production, 'a b']\n")
    found = problems(tree)
    assert len(found) == 1 and found[0].startswith("config/environments.yaml:1:"), found


def test_validate_command_checks_every_environment(tree: Path):
    """`syncd validate` fails with the overlay's line when only an environment is invalid."""
    path = write(tree, "config/environments/staging/risk.yaml", "var_confidence_99: 0.9\n")
    result = CliRunner().invoke(main, ["validate", "--repo", str(tree)], catch_exceptions=False)
    assert result.exit_code == 1
    assert (
        f"config/environments/staging/risk.yaml:{line_of(path, 'var_confidence_99')}:"
        in result.output
    )
    ok = CliRunner().invoke(main, ["validate", "--repo", str(ROOT)], catch_exceptions=False)
    assert ok.exit_code == 0 and "environments dev, staging, production" in ok.output
