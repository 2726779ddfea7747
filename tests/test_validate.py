"""`syncd validate`: the repository's config passes, and every kind of bad input fails with one
line naming file, line, column and the value's path."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's config/ and schemas/ to break."""
    for folder in ("config", "schemas"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args], catch_exceptions=False)
    return result.exit_code, result.output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def test_repository_config_is_valid():
    """The config/ shipped in this repository passes schema and business rules."""
    code, out = run("--repo", str(ROOT))
    assert code == 0, out
    assert out.splitlines()[-1].startswith("ok: ")


def test_negative_base_rate_points_at_its_line(tree: Path):
    """A value out of range names file, line, column and path, in the documented format."""
    pricing = tree / "config/pricing.yaml"
    edit(pricing, "USDC: 0.04", "USDC: -0.04")
    line = line_of(pricing, "USDC: -0.04")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert (
        f"config/pricing.yaml:{line}:9: base_rates.USDC: -0.04 is less than the minimum of 0" in out
    )


def test_all_errors_of_all_files_in_one_run(tree: Path):
    """Problems in several files are all reported by one run, not just the first."""
    edit(tree / "config/pricing.yaml", "USDC: 0.04", "USDC: 1.5")
    edit(
        tree / "config/risk.yaml", "monte_carlo_simulations: 10000", "monte_carlo_simulations: many"
    )
    edit(tree / "config/tranche.yaml", "curve_type: linear", "curve_type: wiggly")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert (
        "config/pricing.yaml" in out and "config/risk.yaml" in out and "config/tranche.yaml" in out
    )
    assert out.splitlines()[-1].startswith("3 problems in 3 files")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("USDC: 0.04", "USDC: 0.04\n  USDC: 0.05", "duplicate key"),
        (
            "USDC: 0.04",
            "USDC: !!python/object:os.system 0.04",
            "the tag !!python/object:os.system is not allowed",
        ),
        ("USDC: 0.04", "USDC: .nan", "NaN and infinity"),
        ("USDC: 0.04", "USDC: [0.04", "invalid YAML"),
        (
            "duration_base_days: 90",
            "duration_base_days: 90\nsurge_pricing: 2",
            "surge_pricing: unknown key",
        ),
        ("duration_base_days: 90", "duration_base_days: 90.5", "is not of type 'integer'"),
    ],
)
def test_bad_pricing_input(tree: Path, old: str, new: str, message: str):
    """Each kind of bad input in a file gives one line with file and position, and exit 1."""
    edit(tree / "config/pricing.yaml", old, new)
    code, out = run("--repo", str(tree))
    assert code == 1
    lines = [l for l in out.splitlines() if message in l]
    assert lines and lines[0].startswith("config/pricing.yaml:"), out


def test_unknown_file_is_refused(tree: Path):
    """A file in config/ that no category owns is an error, not silently ignored."""
    (tree / "config/extras.yaml").write_text("a: 1\n")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "config/extras.yaml:1:1: (file): unknown file in config/" in out


def test_symlink_is_refused(tree: Path):
    """A config file that is a symlink is refused and never followed."""
    target = tree / "elsewhere.yaml"
    shutil.move(tree / "config/risk.yaml", target)
    os.symlink(target, tree / "config/risk.yaml")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "config/risk.yaml:1:1: (file): is a symlink" in out


def test_file_over_one_mebibyte_is_refused(tree: Path):
    """A config file over the 1 MiB limit is refused without being parsed."""
    risk = tree / "config/risk.yaml"
    risk.write_text(risk.read_text() + "#" * (1024 * 1024) + "\n")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert (
        f"config/risk.yaml:1:1: (file): file is {risk.stat().st_size} bytes, larger than the limit of 1048576 bytes"
        in out
    )


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "duration_base_days: 90",
            "duration_base_days: 0132",
            "duration_base_days: '0132' is not of type 'integer'",
        ),
        (
            "duration_base_days: 90",
            "duration_base_days: 1:30",
            "duration_base_days: '1:30' is not of type 'integer'",
        ),
        ("USDT: 0.06", "USDT: !!float 0.06", "base_rates.USDT: the tag !!float is not allowed"),
        ("USDT: 0.06", "USDT: 1e999", "base_rates.USDT: 1e999 is not allowed"),
    ],
)
def test_yaml_surprises_in_pricing(tree: Path, old: str, new: str, message: str):
    """YAML 1.1 readings (octal, sexagesimal), explicit tags and overflow are errors at the value."""
    edit(tree / "config/pricing.yaml", old, new)
    code, out = run("--repo", str(tree))
    assert code == 1 and message in out, out


def test_yes_no_on_off_are_not_booleans(tree: Path):
    """`verified: on` is the string 'on', which the schema refuses, not a silent true."""
    edit(tree / "config/historical_depegs.yaml", "verified: true", "verified: on")
    code, out = run("--repo", str(tree))
    assert code == 1 and "verified: 'on' is not of type 'boolean'" in out


def test_invalid_utf8_is_one_line(tree: Path):
    """An invalid UTF-8 byte gives one line at its line and column."""
    risk = tree / "config/risk.yaml"
    lines = risk.read_bytes().split(b"\n")
    lines[3] = lines[3] + b" \xff"
    risk.write_bytes(b"\n".join(lines))
    code, out = run("--repo", str(tree))
    assert code == 1
    assert f"config/risk.yaml:4:{len(lines[3])}: (document): invalid UTF-8: byte 0xff" in out


def test_business_rule_allocation_sum(tree: Path):
    """Tranche allocations that do not sum to 100% fail the business rules."""
    edit(tree / "config/tranche.yaml", "allocation_percent: 25", "allocation_percent: 30")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "tranches: allocations sum to 105%, not 100%" in out


def test_business_rule_tier_order(tree: Path):
    """A larger size-discount threshold must carry a larger discount."""
    edit(tree / "config/pricing.yaml", "discount: 0.05", "discount: 0.25")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "size_discounts.tier3.discount: discount 0.25" in out


def test_business_rule_unpriced_asset_in_history(tree: Path):
    """A depeg event for an asset without a base rate is refused at the asset."""
    edit(tree / "config/historical_depegs.yaml", "asset: GHO", "asset: XYZ")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "events[" in out and "asset 'XYZ' has no base rate" in out


def test_business_rule_future_date(tree: Path):
    """A depeg event that starts in the future is refused."""
    edit(tree / "config/historical_depegs.yaml", "start_date: 2023-03-10", "start_date: 2999-03-10")
    code, out = run("--repo", str(tree))
    assert code == 1
    assert "2999-03-10 is in the future" in out


def test_github_format(tree: Path):
    """--format github prints workflow annotations with file, line and column."""
    edit(tree / "config/pricing.yaml", "USDC: 0.04", "USDC: -0.04")
    code, out = run("--repo", str(tree), "--format", "github")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("::error file=config/pricing.yaml,line=")
    assert ",col=9,title=base_rates.USDC::base_rates.USDC%3A" not in first
    assert first.endswith("::base_rates.USDC: -0.04 is less than the minimum of 0")


def test_json_format(tree: Path):
    """--format json gives a machine-readable list of problems."""
    edit(tree / "config/risk.yaml", "risk_free_rate: 0.05", "risk_free_rate: 7")
    code, out = run("--repo", str(tree), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["problems"][0]["file"] == "config/risk.yaml"
    assert report["problems"][0]["path"] == "risk_free_rate"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_validate_a_commit_ignores_the_working_tree(tree: Path):
    """--commit reads the commit's blobs, so a broken working tree does not affect it."""
    _git(tree, "init", "-q", "-b", "main")
    _git(tree, "add", "config", "schemas")
    _git(tree, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "config")
    edit(tree / "config/pricing.yaml", "USDC: 0.04", "USDC: -0.04")
    assert run("--repo", str(tree), "--commit", "HEAD")[0] == 0
    assert run("--repo", str(tree))[0] == 1


def test_option_looking_revision_is_a_usage_error(tree: Path):
    """A revision that looks like an option is refused with exit code 2."""
    _git(tree, "init", "-q", "-b", "main")
    result = CliRunner().invoke(
        main, ["validate", "--repo", str(tree), "--commit", "--output=/tmp/x"]
    )
    assert result.exit_code == 2
