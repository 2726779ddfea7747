"""What changed inside a table row: the leaves that differ, by path (`price_impacts.USDT`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from syncd.sync.diff import RowChange, show

ABSENT = "(absent)"
# A row whose change touches more leaves than this shows the first ones and a count.
MAX_LEAVES = 8


@dataclass(frozen=True)
class LeafChange:
    path: str
    old: str
    new: str

    def text(self) -> str:
        return f"{self.path}: {self.old} -> {self.new}"


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path and not part.startswith("[") else f"{path}{part}"


def _leaves(path: str, old: Any, new: Any, present: tuple[bool, bool]) -> Iterator[LeafChange]:
    """The differing leaves below `path`; dicts by key and lists by index are walked into."""
    if present == (True, True) and old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from _leaves(
                _join(path, str(key)), old.get(key), new.get(key), (key in old, key in new)
            )
        return
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _leaves(
                _join(path, f"[{i}]"),
                old[i] if i < len(old) else None,
                new[i] if i < len(new) else None,
                (i < len(old), i < len(new)),
            )
        return
    yield LeafChange(
        path,
        show(old) if present[0] else ABSENT,
        show(new) if present[1] else ABSENT,
    )


def leaf_changes(change: RowChange) -> list[LeafChange]:
    """Every leaf that differs between the old and the new row, in the row's column order."""
    if change.old is None or change.new is None:
        return []
    return list(_leaves("", change.old, change.new, (True, True)))


def describe(change: RowChange, limit: int = MAX_LEAVES) -> list[str]:
    """The leaf changes as `path: old -> new`, at most `limit`, then `and N more`."""
    leaves = [leaf.text() for leaf in leaf_changes(change)]
    if len(leaves) > limit:
        return [*leaves[:limit], f"and {len(leaves) - limit} more"]
    return leaves
