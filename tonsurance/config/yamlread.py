"""Strict YAML reading: plain data only, with the position of every value.

Refused, each with the position of the offending part: invalid UTF-8, syntax errors, more than
one document, duplicate keys, non-string keys, any tag (`!!python/object`, `!custom`, even
`!!float`), any anchor or alias, merge keys, NaN and infinity (`.nan`, `.inf`, `1e999`), integers
outside 64 bits, control characters in keys and the NUL character anywhere (PostgreSQL text and
JSONB cannot hold it).

Scalars resolve by a small YAML 1.2-style table instead of YAML 1.1's: `true`/`false` are the
only booleans (`yes`, `no`, `on`, `off` stay strings), integers are plain decimals (`0777`,
`0x1F`, `1_000` and `1:30` stay strings), and dates stay strings (`2023-03-10`), so a value
never silently turns into another type: where the schema wants a number or a boolean, such a
string is an error that names it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from tonsurance.config.problems import Path, Positions, Problem, format_path

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}

RESOLVERS: list[tuple[str, str, str]] = [
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^[-+]?(?:0|[1-9][0-9]*)$", "-+0123456789"),
    (
        _FLOAT,
        r"^(?:[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    (_NULL, r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
]


class _PlainLoader(_BaseLoader):  # type: ignore[misc]
    """The C-accelerated safe loader with the resolver table above."""


_PlainLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in RESOLVERS:
    _PlainLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_PlainLoader.add_implicit_resolver(_NULL, re.compile(r"^$"), [None])

_MAYBE_TAG_OR_ANCHOR = re.compile(r"[!&*]")
INT_LIMIT = 2**63 - 1
_MAX_INT_DIGITS = len(str(INT_LIMIT))
# Unicode control characters (Cc) and the line and paragraph separators.
KEY_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _shown_number(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def number_problem(tag: str, text: str) -> str | None:
    """Why a plain number cannot be stored, or None: integers must fit in 64 bits (PostgreSQL's
    bigint) and floats in a double; Python's own limit on digits is never reached."""
    if tag == _INT:
        digits = text.lstrip("+-")
        if len(digits) > _MAX_INT_DIGITS or abs(int(text)) > INT_LIMIT:
            return (
                f"integer {_shown_number(text)} is out of range: integers must lie between "
                f"-{INT_LIMIT} and {INT_LIMIT}"
            )
    elif tag == _FLOAT and "n" not in text.lower() and not math.isfinite(float(text)):
        return f"{_shown_number(text)} is not allowed: too large for a 64-bit float"
    return None


def key_problem(key: str) -> str | None:
    """Why a mapping key is refused before any schema sees it, or None."""
    bad = KEY_FORBIDDEN.search(key)
    if bad:
        return f"key {key!r} contains the control character U+{ord(bad.group()):04X}"
    return None


def plain_number(tag: str, text: str) -> int | float | None:
    """Numbers the table above resolved, converted directly (the constructor handles the rest)."""
    if tag == _INT:
        return int(text)
    if tag == _FLOAT and "n" not in text.lower():
        return float(text)
    return None


class YamlProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


class _Builder:
    def __init__(self, loader: Any, positions: Positions) -> None:
        self.loader = loader
        self.positions = positions
        self.seen: set[int] = set()

    def fail(self, node: Any, path: Path, message: str) -> YamlProblem:
        mark = node.start_mark
        return YamlProblem(
            Problem(self.positions.file, mark.line + 1, mark.column + 1, format_path(path), message)
        )

    def build(self, node: Any, path: Path) -> Any:
        if id(node) in self.seen:
            raise self.fail(node, path, "anchors and aliases are not allowed")
        self.seen.add(id(node))
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                raise self.fail(node, path, f"the tag {_short_tag(node.tag)} is not allowed")
            return self.build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(node, path, f"the tag {_short_tag(node.tag)} is not allowed")
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        tag = node.tag
        if tag == _STR:
            if "\x00" in node.value:
                raise self.fail(node, path, "the NUL character (\\0) is not allowed in text")
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(node, path, f"the tag {_short_tag(tag)} is not allowed")
        too_large = number_problem(tag, node.value)
        if too_large:
            raise self.fail(node, path, too_large)
        value = plain_number(tag, node.value)
        if value is None:
            value = self.loader.construct_object(node)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(
                node, path, f"{node.value} is not allowed: NaN and infinity are not numbers"
            )
        return value

    def build_mapping(self, node: Any, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, path, "merge keys (<<) are not allowed")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                raise self.fail(
                    key_node, path, f"key {key_node.value!r} must be a string (quote it)"
                )
            key = key_node.value
            bad_key = key_problem(key)
            if bad_key:
                raise self.fail(key_node, path + (key,), bad_key)
            if key in first_seen:
                raise self.fail(
                    key_node,
                    path + (key,),
                    f"duplicate key (first defined on line {first_seen[key]})",
                )
            first_seen[key] = key_node.start_mark.line + 1
            kmark = key_node.start_mark
            self.positions.keys[path + (key,)] = (kmark.line + 1, kmark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _decode(data: str | bytes, file: str) -> str:
    """UTF-8 text; an invalid byte is a problem at its own line and column."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise YamlProblem(
            Problem(file, line, column, "(document)", f"invalid UTF-8: byte 0x{bad}")
        ) from None


def _refuse_tags_and_anchors(text: str, positions: Positions) -> None:
    """Any explicit tag or anchor, found in the token stream (comments and quoted text don't count)."""
    if not _MAYBE_TAG_OR_ANCHOR.search(text):
        return
    at = {where: path for path, where in positions.values.items()}
    for token in yaml.scan(text, Loader=_PlainLoader):
        if isinstance(token, yaml.TagToken):
            handle, suffix = token.value
            shown = (handle or "") + (suffix or "")
            message = f"the tag {shown} is not allowed: write plain values"
        elif isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            message = "anchors and aliases are not allowed: write each value where it applies"
        else:
            continue
        line, column = token.start_mark.line + 1, token.start_mark.column + 1
        where = format_path(at.get((line, column), ()))
        raise YamlProblem(Problem(positions.file, line, column, where, message))


def read_yaml(data: str | bytes, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data and its positions; raise YamlProblem on bad input."""
    positions = Positions(file)
    text = _decode(data, file)
    loader = _PlainLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = _one_line(exc.problem or exc.context or "invalid YAML")
            raise YamlProblem(
                Problem(file, line, column, "(document)", f"invalid YAML: {reason}")
            ) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(
                Problem(file, 1, 1, "(document)", f"invalid YAML: {_one_line(str(exc))}")
            ) from None
        if node is None:
            return None, positions
        document = _Builder(loader, positions).build(node, ())
        try:
            _refuse_tags_and_anchors(text, positions)
        except yaml.YAMLError as exc:
            raise YamlProblem(
                Problem(file, 1, 1, "(document)", f"invalid YAML: {_one_line(str(exc))}")
            ) from None
        return document, positions
    finally:
        loader.dispose()
