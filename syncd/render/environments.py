"""`syncd plan --base --head` over every environment: one section per environment it moves."""

from __future__ import annotations

import json
from collections.abc import Callable

from syncd.render import review as single
from syncd.review.review import EnvironmentReviews


def _sides(reviews: EnvironmentReviews) -> tuple[str, str]:
    first = next(iter(reviews.reviews.values()))
    return first.before.info.sha[:12], first.after.info.sha[:12]


def _unchanged(reviews: EnvironmentReviews) -> list[str]:
    return [name for name in reviews.reviews if name not in reviews.changed]


def render_markdown(reviews: EnvironmentReviews) -> str:
    base, head = _sides(reviews)
    changed, same = reviews.changed, _unchanged(reviews)
    out = [f"# Configuration plan `{base}` → `{head}`", ""]
    if changed:
        out.append(f"Environments this change moves: {', '.join(f'`{n}`' for n in changed)}.")
    else:
        out.append("No environment's configuration changes.")
    if same:
        out.append(f"Unchanged: {', '.join(f'`{n}`' for n in same)}.")
    text = "\n".join(out) + "\n"
    for name in changed:
        title = f"## Environment `{name}`"
        text += "\n" + single.render_markdown(reviews.reviews[name], title)
    return text


def render_text(reviews: EnvironmentReviews) -> str:
    changed = reviews.changed
    if not changed:
        return "No changes in any environment (" + ", ".join(reviews.reviews) + ")."
    parts = []
    for name in changed:
        parts.append(f"== environment {name} ==\n{single.render_text(reviews.reviews[name])}")
    same = _unchanged(reviews)
    if same:
        parts.append(f"Unchanged: {', '.join(same)}.")
    return "\n\n".join(parts)


def render_json(reviews: EnvironmentReviews) -> str:
    first = next(iter(reviews.reviews.values()))
    data = {
        "base": first.before.info.sha,
        "head": first.after.info.sha,
        "changed": reviews.changed,
        "environments": {
            name: single.review_as_dict(review) for name, review in reviews.reviews.items()
        },
    }
    return json.dumps(data, indent=2, sort_keys=True)


RENDERERS: dict[str, Callable[[EnvironmentReviews], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}
