"""Edit an overlay file in place with a round-trip YAML library, so that comments, key order and
formatting outside the edited values survive: set a value, drop an override, put or drop a row."""

from __future__ import annotations

import io
from collections.abc import Mapping, MutableMapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

Path = tuple[str, ...]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _plain(value: Any) -> Any:
    """Plain data as ruamel's round-trip types, so it dumps in block style."""
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _plain(item)
        return out
    if isinstance(value, list):
        return CommentedSeq([_plain(item) for item in value])
    return value


class OverlayDocument:
    """One overlay file's text, loaded for round-trip editing. Each edit names `prefix`, the path
    of the edited base file's part inside this file (`("pricing",)` in a one-file overlay)."""

    def __init__(self, text: str) -> None:
        self.original = text
        self._yaml = _yaml()
        loaded = self._yaml.load(text) if text.strip() else None
        self.empty_at_start = loaded is None
        self.root: CommentedMap = loaded if loaded is not None else CommentedMap()

    def _node(self, path: Path, create: bool) -> Any:
        node: Any = self.root
        for part in path:
            if not isinstance(node, MutableMapping):
                return None
            if part not in node:
                if not create:
                    return None
                node[part] = CommentedMap()
            node = node[part]
        return node

    def set_value(self, prefix: Path, path: Path, value: Any) -> None:
        full = prefix + path
        parent = self._node(full[:-1], create=True)
        parent[full[-1]] = _plain(value)

    def drop(self, prefix: Path, path: Path) -> None:
        """Remove the override at `path`, and every mapping above it that it leaves empty."""
        full = prefix + path
        while full:
            parent = self._node(full[:-1], create=False)
            if not isinstance(parent, MutableMapping) or full[-1] not in parent:
                return
            del parent[full[-1]]
            if parent or len(full) == 1:
                return
            full = full[:-1]

    def _rows(self, prefix: Path, list_key: str, create: bool) -> CommentedSeq | None:
        table = self._node(prefix, create=create) if prefix else self.root
        if not isinstance(table, MutableMapping):
            return None
        if list_key not in table:
            if not create:
                return None
            table[list_key] = CommentedSeq()
        rows = table[list_key]
        return rows if isinstance(rows, CommentedSeq) else None

    def put_row(self, prefix: Path, list_key: str, row: Mapping[str, Any]) -> None:
        """Replace the overlay's row with `row`'s id where it stands, else add it at the end."""
        rows = self._rows(prefix, list_key, create=True)
        assert rows is not None
        for i, existing in enumerate(rows):
            if isinstance(existing, Mapping) and existing.get("id") == row["id"]:
                rows[i] = _plain(row)
                return
        rows.append(_plain(row))

    def drop_row(self, prefix: Path, list_key: str, row_id: str) -> None:
        rows = self._rows(prefix, list_key, create=False)
        if rows is None:
            return
        for i, existing in enumerate(rows):
            if isinstance(existing, Mapping) and existing.get("id") == row_id:
                del rows[i]
                break
        if not rows:
            self.drop(prefix, (list_key,))

    def text(self) -> str:
        """The edited file. A file that held only comments keeps them above the new content."""
        if not self.root:
            return self.original if self.empty_at_start else _header(self.original)
        out = io.StringIO()
        self._yaml.dump(self.root, out)
        if self.empty_at_start:
            head = self.original
            if head and not head.endswith("\n"):
                head += "\n"
            return head + out.getvalue()
        return out.getvalue()


def _header(text: str) -> str:
    """The comment lines at the top of `text`."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "".join(lines)
