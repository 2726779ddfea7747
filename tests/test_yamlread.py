"""Strict YAML reading: plain data with positions, and one clear problem for each bad input."""

import pytest

from tonsurance.config.yamlread import YamlProblem, read_yaml


def _problem(text: str) -> str:
    with pytest.raises(YamlProblem) as info:
        read_yaml(text, "config/x.yaml")
    return str(info.value)


def test_values_and_positions():
    """Values come back as plain data and each value's line and column are recorded."""
    data, where = read_yaml("a: 1\nb:\n  c: [0.5, x]\nd: 2023-03-10\n", "config/x.yaml")
    assert data == {"a": 1, "b": {"c": [0.5, "x"]}, "d": "2023-03-10"}
    assert where.values[("b", "c", 1)] == (3, 12)
    assert where.keys[("b", "c")] == (3, 3)


def test_duplicate_key_names_both_lines():
    """A key given twice is refused at the second one, naming the line of the first."""
    assert (
        _problem("a: 1\nb: 2\na: 3\n")
        == "config/x.yaml:3:1: a: duplicate key (first defined on line 1)"
    )


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a: !!python/object:os.system x\n", "the tag !!python/object:os.system is not allowed"),
        ("a: !custom 1\n", "the tag !custom is not allowed"),
        ("a: !!binary aGk=\n", "the tag !!binary is not allowed"),
        ("a: !!float 0.5\n", "the tag !!float is not allowed: write plain values"),
        ("a: !!set {x}\n", "the tag !!set is not allowed"),
    ],
)
def test_tags_are_refused(text, fragment):
    """Any tag beyond plain scalars, lists and mappings is refused at its position."""
    assert _problem(text) == f"config/x.yaml:1:4: a: {fragment}"


@pytest.mark.parametrize("word", [".nan", ".inf", "-.inf", ".NaN"])
def test_nan_and_infinity_are_refused(word):
    """NaN and infinity are not numbers a parameter can hold."""
    assert "NaN and infinity" in _problem(f"rate: {word}\n")


def test_aliases_are_refused():
    """Anchors and aliases are refused, which also rules out alias bombs."""
    assert "anchors and aliases are not allowed" in _problem("a: &x [1]\nb: *x\n")


def test_syntax_error_has_position():
    """A syntax error names the line where the parser stopped."""
    assert _problem("a: 1\nb: c: d\n").startswith("config/x.yaml:2:5: (document): invalid YAML")


def test_second_document_is_refused():
    """A file holds exactly one YAML document."""
    assert "another document" in _problem("a: 1\n---\nb: 2\n")


def test_non_string_key_is_refused():
    """Keys must be strings, so an unquoted number or boolean key is refused."""
    assert "must be a string" in _problem("true: 1\n")
    assert "must be a string" in _problem("12: 1\n")


def test_merge_key_is_refused():
    """The merge key `<<` is refused: each value must be written where it applies."""
    assert "merge keys" in _problem("<<: {a: 1}\n")


def test_empty_document_is_none():
    """An empty file reads as None, which the schema then rejects."""
    assert read_yaml("", "config/x.yaml")[0] is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10000", 10000),
        ("-3", -3),
        ("0", 0),
        ("+5", 5),
        ("0.04", 0.04),
        ("-0.10", -0.1),
        ("1.5e3", 1500.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("true", True),
        ("false", False),
        ("~", None),
    ],
)
def test_plain_numbers_and_booleans(text, expected):
    """Plain decimals, true/false and ~ read as numbers, booleans and null, with their types."""
    got = read_yaml(f"v: {text}\n", "config/x.yaml")[0]["v"]
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "0777",
        "010",
        "0x1F",
        "0o17",
        "1_000",
        "1:30",
        "190:20:30",
        "yes",
        "no",
        "on",
        "off",
        "Y",
        "2023-03-10",
    ],
)
def test_yaml_11_surprises_stay_strings(text):
    """Octal, hex, sexagesimal, yes/no/on/off and dates are never converted: they stay the text written."""
    assert read_yaml(f"v: {text}\n", "config/x.yaml")[0] == {"v": text}


@pytest.mark.parametrize("text", ["!!float 0.06", "! 0.06", "!!str x", "!!int 3"])
def test_even_standard_tags_are_refused(text):
    """An explicit tag is refused even when it names a plain type."""
    assert "is not allowed: write plain values" in _problem(f"v: {text}\n")


def test_unused_anchor_is_refused():
    """An anchor is refused even when nothing refers to it."""
    assert _problem("a: &x 1\n") == (
        "config/x.yaml:1:4: a: anchors and aliases are not allowed: write each value where it applies"
    )


def test_exponent_overflow_is_infinity_and_refused():
    """1e999 overflows a 64-bit float and is refused, never read as infinity."""
    assert "1e999 is not allowed: too large for a 64-bit float" in _problem("v: 1e999\n")


def test_invalid_utf8_points_at_the_byte():
    """An invalid UTF-8 byte is one line naming its line and column."""
    with pytest.raises(YamlProblem) as info:
        read_yaml(b"a: 1\nb: caf\xe9\n", "config/x.yaml")
    assert str(info.value) == "config/x.yaml:2:7: (document): invalid UTF-8: byte 0xe9"


def test_exclamation_marks_in_text_are_fine():
    """A `!` inside quoted text or a comment is not a tag."""
    assert read_yaml("a: 'wow!' # careful!\nb: R&D *x\n", "config/x.yaml")[0] == {
        "a": "wow!",
        "b": "R&D *x",
    }
