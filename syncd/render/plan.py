"""Render a diff for people (text, markdown) and for programs (JSON)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from syncd.sync import rowdiff
from syncd.sync.diff import Diff, ParamChange, RowChange, relative_text, show

_SIGN = {"add": "+", "change": "~", "remove": "-"}


def _param_line(change: ParamChange) -> str:
    old = show(change.old.value) if change.old else ""
    new = show(change.new.value) if change.new else ""
    if change.action == "add":
        return f"  + {change.name} = {new}"
    if change.action == "remove":
        return f"  - {change.name} (was {old})"
    rel = relative_text(change)
    detail = f"{old} -> {new}" + (f" ({rel})" if rel else "")
    if not change.value_changed:
        detail = "description or type changed"
    return f"  ~ {change.name}: {detail}"


def _row_line(change: RowChange) -> str:
    if change.action == "change":
        return f"  ~ {change.table}[{change.id}]: " + "; ".join(rowdiff.describe(change))
    return f"  {_SIGN[change.action]} {change.table}[{change.id}]"


def summary_line(diff: Diff) -> str:
    c = diff.counts()
    if diff.empty:
        return "No changes."
    return f"Plan: {c['add']} to add, {c['change']} to change, {c['remove']} to remove."


def _flagged(line: str, name: str, flags: Mapping[str, str] | None) -> str:
    return f"{line}  [flagged: {flags[name]}]" if flags and name in flags else line


def render_text(diff: Diff, flags: Mapping[str, str] | None = None) -> str:
    """One line per change; `flags` maps a change's name to a reason printed beside it."""
    lines = [_flagged(_param_line(c), c.name, flags) for c in diff.params]
    lines += [_flagged(_row_line(r), f"{r.table}[{r.id}]", flags) for r in diff.rows]
    lines.append(summary_line(diff))
    return "\n".join(lines)


def diff_as_dict(diff: Diff) -> dict[str, Any]:
    return {
        "counts": diff.counts(),
        "parameters": [
            {
                "action": c.action,
                "category": c.category,
                "key": c.key,
                "old": c.old.value if c.old else None,
                "new": c.new.value if c.new else None,
                "relative_change": c.relative,
            }
            for c in diff.params
        ],
        "rows": [
            {
                "action": r.action,
                "table": r.table,
                "id": r.id,
                "old": r.old,
                "new": r.new,
                "columns": r.columns,
            }
            for r in diff.rows
        ],
    }


def render_json(diff: Diff) -> str:
    return json.dumps(diff_as_dict(diff), indent=2, sort_keys=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _flag_cell(name: str, flags: Mapping[str, str] | None) -> str:
    return f" ⚠️ **{_cell(flags[name])}**" if flags and name in flags else ""


def render_markdown(diff: Diff, flags: Mapping[str, str] | None = None) -> str:
    """Tables of changed parameters and rows; `flags` maps a change's name to a reason beside it."""
    if diff.empty:
        return "No configuration changes.\n"
    out = ["| | parameter | old | new | change |", "|---|---|---|---|---|"]
    for c in diff.params:
        old = show(c.old.value) if c.old else ""
        new = show(c.new.value) if c.new else ""
        change = (relative_text(c) + _flag_cell(c.name, flags)).strip()
        out.append(
            f"| {_SIGN[c.action]} | `{_cell(c.name)}` | {_cell(old)} | {_cell(new)} | {change} |"
        )
    if diff.rows:
        out += ["", "| | table | row | what changed |", "|---|---|---|---|"]
        for r in diff.rows:
            what = "; ".join(rowdiff.describe(r)) if r.action == "change" else r.action
            what = _cell(what) + _flag_cell(f"{r.table}[{r.id}]", flags)
            out.append(f"| {_SIGN[r.action]} | {r.table} | `{_cell(r.id)}` | {what} |")
    out += ["", summary_line(diff)]
    return "\n".join(out) + "\n"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
