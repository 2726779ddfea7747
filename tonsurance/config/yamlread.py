"""Strict YAML reading: plain data only, with the position of every value.

Refused, each with the position of the offending node: syntax errors, more than one document,
duplicate keys, non-string keys, tags (`!!python/object`, `!custom`, `!!binary`, ...), anchors and
aliases, merge keys, NaN and infinity. Dates stay strings (`2023-03-10`), so the JSON Schema
`format: date` checks them and they round-trip unchanged.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from tonsurance.config.problems import Path, Positions, Problem

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class _PlainLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader without the implicit timestamp type."""


_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _plain_number(tag: str, text: str) -> int | float | None:
    """Plain decimal numbers converted directly; anything else (hex, octal, `.inf`, `1_000`, ...)
    is left to PyYAML's own constructor, so the result is always what PyYAML would give."""
    if tag == "tag:yaml.org,2002:int" and _DECIMAL.fullmatch(text) and "." not in text and "e" not in text.lower():
        return int(text)
    if tag == "tag:yaml.org,2002:float" and _DECIMAL.fullmatch(text) and "." in text:
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
        from tonsurance.config.problems import format_path

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
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(node, path, f"the tag {_short_tag(tag)} is not allowed")
        value = _plain_number(tag, node.value)
        if value is None:
            value = self.loader.construct_object(node)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, path, f"{node.value} is not allowed: NaN and infinity are not numbers")
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
            if key in first_seen:
                raise self.fail(
                    key_node, path + (key,), f"duplicate key (first defined on line {first_seen[key]})"
                )
            first_seen[key] = key_node.start_mark.line + 1
            kmark = key_node.start_mark
            self.positions.keys[path + (key,)] = (kmark.line + 1, kmark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return out


def read_yaml(text: str | bytes, file: str) -> tuple[Any, Positions]:
    """Parse one YAML document into plain data and its positions; raise YamlProblem on bad input."""
    positions = Positions(file)
    loader = _PlainLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reason = exc.problem or exc.context or "invalid YAML"
            raise YamlProblem(Problem(file, line, column, "(document)", f"invalid YAML: {reason}")) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(Problem(file, 1, 1, "(document)", f"invalid YAML: {exc}")) from None
        if node is None:
            return None, positions
        return _Builder(loader, positions).build(node, ()), positions
    finally:
        loader.dispose()
