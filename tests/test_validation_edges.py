"""Validation at the edges: whole-string patterns, control characters, numbers too large to
store, and date rules judged against the commit's own date, the same on every host."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tonsurance.config.sources import read_directory
from tonsurance.config.validation import validate_sources

ROOT = Path(__file__).resolve().parents[1]
SYNCD = [sys.executable, "-c", "from syncd.cli.main import main; main()"]
IDENTITY = ("-c", "user.name=Test Analyst", "-c", "user.email=analyst@tonsurance.test")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the repository's config/ and schemas/ to break."""
    for folder in ("config", "schemas"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


def problems(root: Path) -> list[str]:
    return [str(p) for p in validate_sources(read_directory(root)).problems]


def syncd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCD, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_dollar_matches_only_at_the_end_of_the_text():
    """`$` in a schema pattern matches only at the very end, as in ECMA 262, not before a
    final newline as with Python's re.search."""
    from tonsurance.config.schemacheck import EcmaValidator

    validator = EcmaValidator(
        {
            "type": "object",
            "properties": {"id": {"pattern": "^[a-z]+$"}},
            "patternProperties": {"^[A-Z]+$": {"type": "number"}},
            "additionalProperties": False,
        }
    )
    assert validator.is_valid({"id": "abc", "USDC": 1})
    assert not validator.is_valid({"id": "abc\n"})
    assert not validator.is_valid({"USDC\n": 1})


@pytest.mark.parametrize(
    "file, old, new, path, message",
    [
        (
            "config/historical_depegs.yaml",
            "id: usdc-svb-2023",
            'id: "usdc-svb-2023\\n"',
            "events[0].id",
            "does not match",
        ),
        (
            "config/stress_scenarios.yaml",
            "id: banking_crisis",
            'id: "banking_crisis\\n"',
            "scenarios[0].id",
            "does not match",
        ),
        (
            "config/stress_scenarios.yaml",
            'name: "Banking Crisis (SVB)"',
            'name: "Banking Crisis\\t(SVB)"',
            "scenarios[0].name",
            "does not match",
        ),
        (
            "config/historical_depegs.yaml",
            "asset: USDC",
            'asset: "USDC\\n"',
            "events[0].asset",
            "does not match",
        ),
    ],
)
def test_values_with_a_trailing_newline_or_control_character_are_refused(
    tree: Path, file: str, old: str, new: str, path: str, message: str
):
    """An id, asset or name ending in a newline or holding a tab is refused at its line."""
    edit(tree / file, old, new)
    line = line_of(tree / file, new)
    found = problems(tree)
    assert any(
        p.startswith(f"{file}:{line}:") and f": {path}: " in p and message in p for p in found
    ), found


@pytest.mark.parametrize("key", ["USDX\\n", "USDX\\r", "US\\tDX", "USDX\\u0085", "USDX\\u2028"])
def test_keys_with_control_characters_are_refused(tree: Path, key: str):
    """A mapping key holding a control character is refused at the key, on one line."""
    pricing = tree / "config/pricing.yaml"
    edit(pricing, "  default: 0.10\n", f'  "{key}": 0.05\n  default: 0.10\n')
    line = line_of(pricing, f'"{key}"')
    found = problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"config/pricing.yaml:{line}:3: base_rates['US")
    assert "contains the control character U+" in found[0]
    assert "\n" not in found[0] and "\r" not in found[0]


def test_nul_character_in_text_is_refused(tree: Path):
    """A NUL character, which PostgreSQL text and JSONB cannot hold, is refused where it is."""
    scenarios = tree / "config/stress_scenarios.yaml"
    edit(scenarios, 'name: "Banking Crisis (SVB)"', 'name: "Banking\\0Crisis"')
    line = line_of(scenarios, "Banking\\0Crisis")
    found = problems(tree)
    assert len(found) == 1, found
    assert found[0].startswith(f"config/stress_scenarios.yaml:{line}:11: scenarios[0].name: ")
    assert "the NUL character" in found[0]


@pytest.mark.parametrize(
    "number, message",
    [
        ("1" * 5000, "integer 111111111111... (5000 characters) is out of range"),
        ("-" + "9" * 4301, "integer -99999999999... (4302 characters) is out of range"),
        ("9223372036854775808", "integer 9223372036854775808 is out of range"),
        ("1" * 400 + ".5", "is not allowed: too large for a 64-bit float"),
        ("1e400", "1e400 is not allowed: too large for a 64-bit float"),
    ],
)
def test_numbers_too_large_to_store_are_one_problem_line(tree: Path, number: str, message: str):
    """A number too large for 64 bits is an ordinary problem with file, line, column and path,
    reported by the command with exit 1, never an unexpected error."""
    pricing = tree / "config/pricing.yaml"
    edit(pricing, "USDC: 0.04", f"USDC: {number}")
    line = line_of(pricing, "USDC: ")
    done = syncd("validate", "--repo", str(tree))
    assert done.returncode == 1, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"config/pricing.yaml:{line}:9: base_rates.USDC: "), first
    assert message in first and len(first) < 200, first
    assert "unexpected" not in done.stdout + done.stderr


def test_largest_64_bit_integer_reaches_the_schema(tree: Path):
    """An integer that fits in 64 bits is read and judged by the schema's range as usual."""
    risk = tree / "config/risk.yaml"
    edit(risk, "monte_carlo_simulations: 10000", "monte_carlo_simulations: 9223372036854775807")
    found = problems(tree)
    assert len(found) == 1 and "is greater than the maximum" in found[0], found


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return done.stdout.strip()


def _commit_event_dated(tree: Path, start: str, committed_at: str) -> str:
    """Commit the tree with the USDC SVB event moved to `start`, dated `committed_at`."""
    depegs = tree / "config/historical_depegs.yaml"
    text = depegs.read_text()
    depegs.write_text(text.replace("start_date: 2023-03-10", f"start_date: {start}", 1))
    if not (tree / ".git").exists():
        _git(tree, "init", "-q", "-b", "main")
    _git(tree, "add", "-A")
    stamp = {"GIT_COMMITTER_DATE": committed_at, "GIT_AUTHOR_DATE": committed_at}
    _git(tree, "commit", "-q", "-m", f"event on {start}", env=stamp)
    depegs.write_text(text)
    return _git(tree, "rev-parse", "HEAD")


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14", "UTC"])
def test_future_rule_judges_against_the_commit_date_in_utc(tree: Path, zone: str):
    """Whether an event lies in the future is judged against the commit's committer date in
    UTC: a commit made at 05:00 UTC on 2031-01-01 may hold an event of that day, not of the next,
    whatever the host's clock and time zone say."""
    same_day = _commit_event_dated(tree, "2031-01-01", "2031-01-01T05:00:00+00:00")
    next_day = _commit_event_dated(tree, "2031-01-02", "2031-01-01T23:30:00-12:00")
    ok = syncd("validate", "--repo", str(tree), "--commit", same_day, env={"TZ": zone})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # 23:30 at UTC-12 is 11:30 UTC on 2031-01-02: an event of that day is not in the future.
    ok = syncd("validate", "--repo", str(tree), "--commit", next_day, env={"TZ": zone})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    later = _commit_event_dated(tree, "2031-01-03", "2031-01-02T11:30:00+00:00")
    refused = syncd("validate", "--repo", str(tree), "--commit", later, env={"TZ": zone})
    assert refused.returncode == 1
    assert "2031-01-03 is in the future" in refused.stdout


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_working_tree_is_judged_against_todays_utc_date(tree: Path, zone: str):
    """A working tree (no commit) is judged against the current UTC date, not the host's local
    date: an event of today (UTC) passes and one of tomorrow (UTC) is refused, in the zones
    twelve hours behind and fourteen ahead."""
    depegs = tree / "config/historical_depegs.yaml"
    original = depegs.read_text()
    today = dt.datetime.now(dt.timezone.utc).date()
    depegs.write_text(original.replace("start_date: 2023-03-10", f"start_date: {today}", 1))
    ok = syncd("validate", "--repo", str(tree), env={"TZ": zone})
    tomorrow = today + dt.timedelta(days=1)
    depegs.write_text(original.replace("start_date: 2023-03-10", f"start_date: {tomorrow}", 1))
    refused = syncd("validate", "--repo", str(tree), env={"TZ": zone})
    if dt.datetime.now(dt.timezone.utc).date() != today:
        pytest.skip("the UTC date changed during the test")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert refused.returncode == 1 and f"{tomorrow} is in the future" in refused.stdout


def _all_verified(tree: Path) -> Path:
    depegs = tree / "config/historical_depegs.yaml"
    depegs.write_text(depegs.read_text().replace("verified: false", "verified: true"))
    return depegs


def test_unverified_event_is_a_warning_in_every_format(tree: Path):
    """An unverified depeg event is a warning with file, line and column in the text, JSON and
    GitHub reports; the configuration still passes."""
    depegs = _all_verified(tree)
    clean = syncd("validate", "--repo", str(tree))
    assert clean.returncode == 0 and "warning" not in clean.stdout, clean.stdout
    edit(depegs, "verified: true", "verified: false")
    line = line_of(depegs, "verified: false")
    text = syncd("validate", "--repo", str(tree))
    assert text.returncode == 0, text.stdout + text.stderr
    lines = text.stdout.splitlines()
    assert lines[-2].startswith(
        f"config/historical_depegs.yaml:{line}:15: warning: events[0].verified: "
        "event 'usdc-svb-2023' of USDC is not verified"
    ), lines
    assert lines[-1].startswith("ok: ") and lines[-1].endswith("(1 warning)")
    report = syncd("validate", "--repo", str(tree), "--format", "json")
    assert report.returncode == 0
    parsed = json.loads(report.stdout)
    assert parsed["ok"] is True and parsed["problems"] == []
    assert [(w["file"], w["line"], w["path"]) for w in parsed["warnings"]] == [
        ("config/historical_depegs.yaml", line, "events[0].verified")
    ]
    github = syncd("validate", "--repo", str(tree), "--format", "github")
    assert github.returncode == 0
    assert github.stdout.startswith(
        f"::warning file=config/historical_depegs.yaml,line={line},col=15,"
    ), github.stdout


def test_warnings_are_reported_beside_problems(tree: Path):
    """A configuration with a problem still lists its warnings, and fails on the problem only."""
    depegs = _all_verified(tree)
    edit(depegs, "verified: true", "verified: false")
    edit(tree / "config/pricing.yaml", "USDC: 0.04", "USDC: -0.04")
    done = syncd("validate", "--repo", str(tree))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("config/pricing.yaml:") and "-0.04 is less than" in lines[0]
    assert "warning: events[0].verified" in lines[1]
    assert lines[-1] == "1 problem in 1 file (1 warning)"
