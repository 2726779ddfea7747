"""A fast reader for large, well-formed YAML files; anything unusual goes to the strict reader.

The strict reader (yamlread) builds every node through PyYAML's Python layer, about 10 µs per
value; a 50,000-value file takes half a second. This reader parses with rapidyaml (C++) and walks
its tree, resolving scalars by the same table. It returns the same plain data as `read_yaml`, or
None whenever it is not certain to: any syntax error, tag, anchor, alias, flow collection,
escape sequence, tab, carriage return, control character, duplicate key, non-string key, number
out of range, NaN or infinity, empty document or more than one. The strict reader then reads
the file and reports the problem with its position. Positions are not recorded here; they are
read (by the strict reader) only when a problem needs one.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ryml
from ryml import _ryml

from tonsurance.config.gcpause import collector_paused
from tonsurance.config.yamlread import (
    KEY_FORBIDDEN,
    RESOLVERS,
    number_problem,
    plain_number,
)

_NONE = ryml.NONE
_MAP, _SEQ, _VAL = ryml.MAP, ryml.SEQ, ryml.VAL
_STREAM = ryml.STREAM & ~ryml.SEQ  # STREAM is defined as a sequence of documents
_REFUSED_FLAGS = (
    ryml.KEYREF
    | ryml.VALREF
    | ryml.KEYANCH
    | ryml.VALANCH
    | ryml.KEYTAG
    | ryml.VALTAG
    | ryml.FLOW_SL
    | ryml.FLOW_ML
)
_KEY_QUOTED = ryml.KEYQUO
_VAL_QUOTED = ryml.VALQUO | ryml.VAL_LITERAL | ryml.VAL_FOLDED
# Text the fast reader leaves to the strict one: tabs, carriage returns, escapes, a byte order
# mark, the line and paragraph separators (line breaks to PyYAML, not to rapidyaml), directives,
# and every character YAML does not allow in a stream.
_UNUSUAL_TEXT = re.compile(
    "[\t\r\\\\\ufeff\u2028\u2029\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]|^%",
    re.MULTILINE,
)
# Characters that cannot start a plain scalar (the strict reader reports them).
_INDICATORS = frozenset("@`%!&*|>{}[],#'\"?:-")
_MAX_KEY = 1000
# The resolver table by first character, as PyYAML consults it.
_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag_name, _pattern, _first in RESOLVERS:
    for _char in _first:
        _BY_FIRST.setdefault(_char, []).append((_tag_name, re.compile(_pattern)))
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


class _NotSure(Exception):
    """The strict reader must read this file."""


def _tag(text: str) -> str:
    for tag, pattern in _BY_FIRST.get(text[0], ()):
        if pattern.match(text):
            return tag
    return _STR


def _plain(text: str) -> Any:
    if not text:
        return None
    if text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " "):
        raise _NotSure
    tag = _tag(text)
    if tag == _STR:
        return text
    if tag == _BOOL:
        return text[0] in "tT"
    if tag == _NULL:
        return None
    if number_problem(tag, text) is not None:
        raise _NotSure
    value = plain_number(tag, text)
    if value is None:  # .nan, .inf, the merge key
        raise _NotSure
    return value


_quiet_lock = threading.Lock()


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml prints its own parse errors on file descriptor 2 before raising; hold them
    back, and pass on anything else written there meanwhile."""
    with _quiet_lock:
        try:
            sys.stderr.flush()
            sink = tempfile.TemporaryFile()
        except (OSError, ValueError):  # nowhere to hold it: let it through
            yield
            return
        with sink:
            try:
                saved = os.dup(2)
            except OSError:  # no standard error to protect
                yield
                return
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                caught = sink.read().decode("utf-8", "replace")
        kept = [
            line
            for line in caught.splitlines(keepends=True)
            if ": ERROR: [" not in line and "(detected here)" not in line
        ]
        if kept:
            sys.stderr.write("".join(kept))


def fast_read(data: str | bytes) -> Any | None:
    """The plain data of one YAML document, or None when the strict reader must read it."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        raw = data
    else:
        text, raw = data, data.encode("utf-8")
    if not text.strip() or _UNUSUAL_TEXT.search(text):
        return None
    try:
        with _quiet_stderr():
            try:
                tree = ryml.parse_in_arena(raw)
            except ryml.ExceptionBasic:
                raise _NotSure from None
        with collector_paused():
            return _Walker(tree).document()
    except _NotSure:
        return None


class _Walker:
    def __init__(self, tree: Any) -> None:
        # The extension's functions, bound to this tree: the Python methods of ryml.Tree only
        # forward to them, at the price of one more call per node.
        self.tree = tree
        self.type = functools.partial(_ryml.Tree_type, tree)
        self.first = functools.partial(_ryml.Tree_first_child, tree)
        self.next = functools.partial(_ryml.Tree_next_sibling, tree)
        self.key_of = functools.partial(_ryml.Tree_key, tree)
        self.val_of = functools.partial(_ryml.Tree_val, tree)
        # Keys and plain values repeat (field names, common figures): each is resolved once.
        self.keys: dict[tuple[str, bool], str] = {}
        self.plains: dict[str, Any] = {}

    def document(self) -> Any:
        root = self.tree.root_id()
        kind = self.type(root)
        if kind & _STREAM:
            docs = []
            child = self.first(root)
            while child != _NONE:
                docs.append(child)
                child = self.next(child)
            if len(docs) != 1:
                raise _NotSure
            root = docs[0]
            kind = self.type(root)
        if not kind & (_MAP | _SEQ | _VAL):
            raise _NotSure
        return self.node(root, kind)

    def key(self, raw: Any, kind: int) -> str:
        if raw is None:
            raise _NotSure
        key = str(raw, "utf-8")
        quoted = bool(kind & _KEY_QUOTED)
        if not quoted:
            if not key or _tag(key) != _STR or key[0] in _INDICATORS:
                raise _NotSure
        if len(key) > _MAX_KEY or KEY_FORBIDDEN.search(key):
            raise _NotSure
        self.keys[(key, quoted)] = key
        return key

    def scalar(self, raw: Any, kind: int) -> Any:
        text = "" if raw is None else str(raw, "utf-8")
        if kind & _VAL_QUOTED:
            if "\x00" in text:
                raise _NotSure
            return text
        plains = self.plains
        if text in plains:
            return plains[text]
        value = plains[text] = _plain(text)
        return value

    def node(self, node: int, kind: int) -> Any:
        if kind & _REFUSED_FLAGS:
            raise _NotSure
        if kind & (_MAP | _SEQ):
            type_of, next_of, key_of, val_of = self.type, self.next, self.key_of, self.val_of
            keys, plains, is_map = self.keys, self.plains, bool(kind & _MAP)
            out: dict[str, Any] = {}
            items: list[Any] = []
            child = self.first(node)
            while child != _NONE:
                child_kind = type_of(child)
                if child_kind & (_MAP | _SEQ | _REFUSED_FLAGS) or child_kind & _VAL_QUOTED:
                    value = self.node(child, child_kind)
                else:
                    raw = val_of(child)
                    text = "" if raw is None else str(raw, "utf-8")
                    value = plains[text] if text in plains else self.scalar(raw, child_kind)
                if is_map:
                    raw_key = key_of(child)
                    text = "" if raw_key is None else str(raw_key, "utf-8")
                    key = keys.get((text, bool(child_kind & _KEY_QUOTED)))
                    if key is None:
                        key = self.key(raw_key, child_kind)
                    if key in out:
                        raise _NotSure
                    out[key] = value
                else:
                    items.append(value)
                child = next_of(child)
            return out if is_map else items
        return self.scalar(self.val_of(node), kind)
