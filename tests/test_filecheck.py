"""Large configurations take the fast path (fast reader, compiled validator, positions read only
when needed) and a file is checked once per content; the verdicts, rows and every problem's
file:line:col are those of the strict path."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonsurance.config import filecheck
from tonsurance.config.layout import CONFIG_FILES, schema_path
from tonsurance.config.schemacheck import compile_schema, fast_validator
from tonsurance.config.sources import SourceFiles, read_directory
from tonsurance.config.validation import ValidationResult, validate_sources
from tonsurance.config.yamlread import read_yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = read_directory(ROOT)
ASSETS = 2000


def _large(files: dict[str, bytes]) -> dict[str, bytes]:
    """The shipped files with ASSETS more priced assets: pricing.yaml and stress_scenarios.yaml
    grow past the fast path's threshold."""
    out = dict(files)
    names = [f"SYN{i:05d}" for i in range(ASSETS)]
    pricing = out["config/pricing.yaml"].decode()
    rates = "".join(f"  {n}: {0.01 + (i % 50) / 1000}\n" for i, n in enumerate(names))
    pricing = pricing.replace("  default: 0.10\n", rates + "  default: 0.10\n")
    out["config/pricing.yaml"] = pricing.encode()
    lines = []
    for line in out["config/stress_scenarios.yaml"].decode().splitlines(keepends=True):
        lines.append(line)
        if line.strip() == "price_impacts:":
            indent = " " * (len(line) - len(line.lstrip()) + 2)
            lines.extend(f"{indent}{n}: -0.01\n" for n in names)
    out["config/stress_scenarios.yaml"] = "".join(lines).encode()
    assert len(out["config/pricing.yaml"]) >= filecheck.FAST_PATH_BYTES
    return out


LARGE = _large(SHIPPED.files)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    filecheck.forget()
    yield
    filecheck.forget()


def validate(files: dict[str, bytes], *, fast: bool) -> ValidationResult:
    """Validate with the fast path on (the default threshold) or off for every size."""
    filecheck.forget()
    saved = filecheck.FAST_PATH_BYTES
    filecheck.FAST_PATH_BYTES = saved if fast else 2**62
    try:
        return validate_sources(SourceFiles(files=dict(files), origin="test"))
    finally:
        filecheck.FAST_PATH_BYTES = saved


def _edit(files: dict[str, bytes], path: str, old: str, new: str) -> dict[str, bytes]:
    text = files[path].decode()
    assert old in text, (path, old)
    return {**files, path: text.replace(old, new, 1).encode()}


def test_large_valid_configuration_gives_the_same_rows_both_ways():
    """A large valid configuration passes on the fast path with exactly the rows the strict
    path builds, and its positions are never read."""
    fast = validate(LARGE, fast=True)
    strict = validate(LARGE, fast=False)
    assert fast.ok and strict.ok, fast.problems[:3]
    assert fast.state == strict.state
    assert len(fast.state.parameters) >= ASSETS
    pricing = validate_sources(SourceFiles(files=dict(LARGE))).documents["pricing"]
    assert pricing["base_rates"]["SYN00007"] == 0.017


@pytest.mark.parametrize(
    "path, old, new",
    [
        ("config/pricing.yaml", "  SYN01234: ", "  SYN01234: -"),
        ("config/stress_scenarios.yaml", "SYN01999: -0.01", "SYN01999: -1.5"),
        ("config/stress_scenarios.yaml", "SYN00500: -0.01", "SYN00500: lots"),
        ("config/pricing.yaml", "  SYN00042: ", '  "SYN00042\\n": 0.02\n  SYN00043b: '),
        ("config/pricing.yaml", "  SYN00010: ", "  SYN00010: 0.01\n  SYN00010: "),
        ("config/stress_scenarios.yaml", "SYN00003: -0.01", "SYN00003: [1, 2]"),
        ("config/pricing.yaml", "  SYN00100: ", "  SYN00100: &a 0.01\n  SYN00101x: "),
    ],
)
def test_problems_in_a_large_file_are_those_of_the_strict_path(path: str, old: str, new: str):
    """A schema or YAML problem in a large file is reported with the same file, line, column,
    path and message as by the strict path alone."""
    broken = _edit(LARGE, path, old, new)
    fast = validate(broken, fast=True)
    strict = validate(broken, fast=False)
    assert not fast.ok
    assert [str(p) for p in fast.problems] == [str(p) for p in strict.problems]
    assert any(p.file == path and p.line > 1 for p in fast.problems), fast.problems


def test_rule_problem_in_a_large_file_reads_its_position():
    """A business-rule problem in a file that passed the fast path still names its line: the
    positions are read when the rule needs one."""
    broken = _edit(LARGE, "config/pricing.yaml", "  default: 0.10\n", "  default: 0.012\n")
    fast = validate(broken, fast=True)
    strict = validate(broken, fast=False)
    assert [str(p) for p in fast.problems] == [str(p) for p in strict.problems]
    (problem,) = fast.problems
    text = broken["config/pricing.yaml"].decode().splitlines()
    assert text[problem.line - 1].strip() == "default: 0.012"
    assert problem.where == "base_rates.default"


def test_a_file_is_checked_once_per_content():
    """Checking the same bytes again returns the kept verdict; a changed file is checked again
    while the others keep theirs."""
    first = _file_checks(LARGE)
    again = _file_checks(LARGE)
    assert all(a is b for a, b in zip(first.values(), again.values()))
    changed = _file_checks(_edit(LARGE, "config/risk.yaml", "0.05", "0.06"))
    assert changed["config/risk.yaml"] is not first["config/risk.yaml"]
    others = [p for p in first if p != "config/risk.yaml"]
    assert all(changed[p] is first[p] for p in others)


def _file_checks(files: dict[str, bytes]) -> dict[str, filecheck.FileCheck]:
    out = {}
    for path in CONFIG_FILES.values():
        spath = schema_path(path)
        validator = compile_schema(files[spath], spath)
        out[path] = filecheck.check_file(files[path], path, spath, files[spath], validator)
    return out


# The compiled validator must agree with the full one on every document: generated edits of the
# shipped documents (values of every type and size, unknown and missing keys, odd strings).
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["usdc-svb-2023\n", "USDC\n", "2023-02-30", "2023-03-10", "2023-3-10", "SURE-X+", "high"]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
DOCUMENTS = {
    name: read_yaml(SHIPPED.files[path], path)[0] for name, path in CONFIG_FILES.items()
}


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, path + (i,))


def _mutate(document: Any, rng: random.Random, value: Any, key: str) -> Any:
    document = copy.deepcopy(document)
    paths = [p for p in _leaves(document) if p]
    target = rng.choice(paths)
    parent = document
    for part in target[:-1]:
        parent = parent[part]
    action = rng.randrange(3)
    if action == 0:
        parent[target[-1]] = value
    elif action == 1 and isinstance(parent, dict):
        del parent[target[-1]]
    elif isinstance(parent, dict):
        parent[key] = value
    return document


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(CONFIG_FILES)),
    seed=st.integers(min_value=0, max_value=2**32),
    value=ODD_VALUES,
    key=st.text(min_size=1, max_size=8) | st.sampled_from(["USDX", "USDX\n", "tier4", "SURE-NEW"]),
)
def test_compiled_validator_agrees_with_the_full_one(name: str, seed: int, value: Any, key: str):
    """The compiled validator passes a document exactly when the full validator finds no error."""
    path = CONFIG_FILES[name]
    spath = schema_path(path)
    validator = compile_schema(SHIPPED.files[spath], spath)
    quick = fast_validator(validator)
    assert quick is not None
    document = _mutate(DOCUMENTS[name], random.Random(seed), value, key)
    errors = [e.message for e in validator.iter_errors(document)]
    assert quick.is_valid(document) == (not errors), (json.dumps(document)[:300], errors[:3])


def test_a_parse_error_in_a_large_file_prints_one_problem_line_only(tmp_path: Path):
    """rapidyaml's own report of a syntax error never reaches standard error: `syncd validate`
    prints the strict reader's problem line and nothing else."""
    import subprocess
    import sys

    broken = _edit(LARGE, "config/pricing.yaml", "  SYN01000: ", "  SYN01000: a: ")
    for rel, data in broken.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-m", "syncd.cli.main", "validate", "--repo", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == "", done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("config/pricing.yaml:") and "invalid YAML" in first, first


def test_kept_verdicts_are_bounded_in_count_and_bytes():
    """However many distinct files are checked, only a bounded number of verdicts (and of
    source bytes) is kept, the most recent ones."""
    path, spath = "config/risk.yaml", schema_path("config/risk.yaml")
    schema = SHIPPED.files[spath]
    validator = compile_schema(schema, spath)
    base = SHIPPED.files[path]
    for i in range(filecheck._KEEP + 8):
        filecheck.check_file(base + f"# {i}\n".encode(), path, spath, schema, validator)
    assert len(filecheck._checked) == filecheck._KEEP
    large = base + b"#" * filecheck._KEEP_BYTES + b"\n"
    filecheck.check_file(large, path, spath, schema, validator)
    assert len(filecheck._checked) == 1
    last = base + b"# last\n"
    first = filecheck.check_file(last, path, spath, schema, validator)
    assert filecheck.check_file(last, path, spath, schema, validator) is first
