"""The fast YAML reader returns exactly what the strict reader returns, or nothing: generated
documents in every YAML style, mutated copies of the shipped files and the shipped files."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tonsurance.config.fastread import fast_read
from tonsurance.config.yamlread import YamlProblem, read_yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted((ROOT / "config").rglob("*.yaml"))


def typed(value: Any) -> Any:
    """`value` with every scalar's type made explicit: 1, 1.0 and True compare different."""
    if isinstance(value, dict):
        return {"dict": [(k, typed(v)) for k, v in value.items()]}
    if isinstance(value, list):
        return {"list": [typed(v) for v in value]}
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def strict(text: str | bytes) -> Any:
    """The strict reader's data, or the exception class when it refuses the text."""
    try:
        return read_yaml(text, "x.yaml")[0]
    except YamlProblem:
        return YamlProblem


def assert_agrees(text: str | bytes) -> bool:
    """Whenever the fast reader answers, the strict reader gives the very same data."""
    fast = fast_read(text)
    if fast is None:
        return False
    expected = strict(text)
    assert expected is not YamlProblem, f"strict reader refuses what the fast one read: {text!r}"
    assert typed(fast) == typed(expected), text
    return True


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_shipped_files_read_the_same(path: Path):
    """Every shipped configuration file is read by the fast reader, with the strict one's data
    (a file of comments only, an empty document, goes to the strict reader)."""
    data = path.read_bytes()
    assert assert_agrees(data) or strict(data) is None


TEXT = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ019 -_.:#'\"?!&*@`%|>{}[],~=+/\\é€😀") + ["\t", "\n", "\r", "\x85", "\u2028"]
    ),
    max_size=30,
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
    | st.sampled_from(["yes", "No", "0x1F", "0777", "1_000", "1:30", "2023-03-10", "<<", "", "~"])
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
STYLES = [
    {},
    {"default_style": '"'},
    {"default_style": "'"},
    {"default_style": "|"},
    {"default_style": ">"},
    {"width": 12},
    {"indent": 4, "width": 20},
    {"default_flow_style": True},
    {"allow_unicode": True, "width": 16},
    {"explicit_start": True, "explicit_end": True},
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=DATA, style=st.sampled_from(STYLES))
def test_generated_documents_read_the_same(data: Any, style: dict[str, Any]):
    """Documents of any shape, written in every style PyYAML emits, read the same or go to the
    strict reader."""
    assert_agrees(yaml.safe_dump(data, sort_keys=False, **style))


SIGNIFICANT = list(" :-#'\"?!&*@`%|>{}[],\n\t\\") + ["  ", "- ", ": ", "\n  ", "---\n", "'", "0"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32), edits=st.integers(min_value=1, max_value=4))
def test_mutated_shipped_files_read_the_same(seed: int, edits: int):
    """Copies of the shipped files with characters inserted, deleted, lines duplicated or
    re-indented: when the fast reader answers, the strict reader agrees."""
    rng = random.Random(seed)
    path = rng.choice(CONFIG_FILES)
    text = path.read_text()
    for _ in range(edits):
        at = rng.randrange(len(text) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            text = text[:at] + rng.choice(SIGNIFICANT) + text[at:]
        elif kind == 1:
            text = text[:at] + text[at + rng.randint(1, 3) :]
        else:
            lines = text.splitlines(keepends=True)
            i = rng.randrange(len(lines))
            if kind == 2:
                lines.insert(i, lines[i])
            else:
                lines[i] = " " * rng.choice([1, 2, 4]) + lines[i]
            text = "".join(lines)
    assert_agrees(text)


def test_unusual_input_goes_to_the_strict_reader():
    """Input the strict reader refuses or that needs its care is never answered here."""
    for text in [
        "a: 1\na: 2\n",
        "a: &x 1\nb: *x\n",
        "a: !!float 1\n",
        "a: [1, 2]\n",
        "a: {b: 1}\n",
        'a: "x\\ty"\n',
        "a:\n\tb: 1\n",
        "a: 1\n---\nb: 2\n",
        "a: .nan\n",
        "a: 1e999\n",
        "a: " + "1" * 5000 + "\n",
        "1: x\n",
        "true: x\n",
        "<<: {a: 1}\n",
        '"a\\nb": 1\n',
        "a: b: c\n",
        "a: @x\n",
        "",
        "# only a comment\n",
    ]:
        assert fast_read(text) is None, text
        assert fast_read(text.encode()) is None, text
    assert fast_read(b"a: \xff\n") is None
