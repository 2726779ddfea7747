"""`syncd compare` as text, markdown or JSON: the plan and impact of moving B to A's values."""

from __future__ import annotations

import json
from collections.abc import Callable

from syncd.render import review as single
from syncd.review.compare import Comparison


def _title(c: Comparison) -> str:
    return f"`{c.b}` → `{c.a}`: what moving {c.b.environment} to {c.a.environment}'s values does"


def render_text(c: Comparison) -> str:
    if c.review.diff.empty:
        return f"{c.a} and {c.b} hold the same configuration."
    header = f"{c.b} -> {c.a} (moving {c.b.environment} to {c.a.environment}'s values):"
    return header + "\n" + single.render_text(c.review)


def render_markdown(c: Comparison) -> str:
    if c.review.diff.empty:
        return f"## {_title(c)}\n\nThe two hold the same configuration.\n"
    return single.render_markdown(c.review, f"## {_title(c)}")


def render_json(c: Comparison) -> str:
    data = single.review_as_dict(c.review)
    data.update(
        a={"environment": c.a.environment, "rev": c.a.rev, "commit": c.review.after.info.sha},
        b={"environment": c.b.environment, "rev": c.b.rev, "commit": c.review.before.info.sha},
    )
    return json.dumps(data, indent=2, sort_keys=True)


RENDERERS: dict[str, Callable[[Comparison], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
