"""Render a review (plan, impact, guardrails) as pull-request markdown, text or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from syncd.render import plan as planview
from syncd.review.guardrails import OVERRIDE_LABEL, OVERRIDE_TRAILER, GuardrailResult
from syncd.review.impact import FigureMove, Impact
from syncd.review.review import Review

COLLAPSE_ROWS = 20
GROUP_TITLES = {
    "expected_loss": "Expected loss",
    "value_at_risk": "Value at risk",
    "stress": "Stress tests",
    "tranche_apy": "Tranche APYs",
}


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def usd(amount: float, decimals: int = 2) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.{decimals}f}"


def cents(amount: int) -> str:
    return usd(amount / 100)


def percent(rel: float | None) -> str:
    return "" if rel is None else f"{rel * 100:+.1f}%"


def figure_value(f: FigureMove, value: float | None) -> str:
    if value is None:
        return "(none)"
    return f"{value * 100:.3f}%" if f.unit == "fraction" else usd(value)


def figure_change(f: FigureMove) -> str:
    if f.before is None:
        return "new"
    if f.after is None:
        return "gone"
    return percent(f.relative)


def _short(sha: str) -> str:
    return sha[:12]


def grid_text(impact: Impact) -> str:
    s = impact.settings
    trigger = "the base trigger" if s.trigger_price is None else f"trigger {s.trigger_price:g}"
    util = f", {s.utilization * 100:g}% utilization" if s.utilization else ""
    return (
        f"{len(impact.assets)} assets × {len(s.coverages_usd)} coverages × {len(s.durations_days)}"
        f" durations = {impact.grid_size} policies at {trigger}{util}"
    )


def risk_text(impact: Impact) -> str:
    s = impact.settings
    return (
        f"expected loss of a {usd(s.reference_coverage_usd, 0)} policy with trigger"
        f" {s.reference_trigger_price:g}; reference vault of {usd(s.vault.capital_usd, 0)} capital,"
        f" {usd(s.vault.btc_exposure_usd, 0)} BTC and {len(s.vault.policies)} policies;"
        f" VaR from {s.var_simulations:,} simulated years (seed {s.var_seed});"
        f" as of {impact.as_of.isoformat()}"
    )


def _table(header: list[str], rows: list[list[str]], summary: str) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    if len(rows) > COLLAPSE_ROWS:
        return ["<details><summary>" + summary + "</summary>", "", *lines, "", "</details>"]
    return lines


def impact_markdown(impact: Impact) -> list[str]:
    out = ["### Premiums", "", f"Standard grid: {grid_text(impact)}."]
    moved = len(impact.premiums)
    if not moved:
        out += ["", "No premium of the standard grid moved."]
    else:
        out += ["", f"{moved} of {impact.grid_size} premiums moved.", ""]
        rows = [
            [
                p.asset,
                usd(p.coverage_usd, 0),
                str(p.duration_days),
                cents(p.before_cents),
                cents(p.after_cents),
                percent(p.relative),
            ]
            for p in impact.premiums
        ]
        header = ["asset", "coverage", "days", "before", "after", "change"]
        out += _table(header, rows, f"Show the {moved} premiums")
    out += ["", "### Risk", "", f"Figures: {risk_text(impact)}."]
    if not impact.figures:
        return out + ["", "No risk figure moved."]
    rows = [
        [
            GROUP_TITLES[f.group],
            f.label,
            figure_value(f, f.before),
            figure_value(f, f.after),
            figure_change(f),
        ]
        for f in impact.figures
    ]
    header = ["", "figure", "before", "after", "change"]
    return out + [
        "",
        f"{len(rows)} risk figures moved.",
        "",
        *_table(header, rows, f"Show the {len(rows)} figures"),
    ]


def guardrails_markdown(result: GuardrailResult) -> list[str]:
    out = ["### Guardrails", ""]
    if not result.findings:
        return out + ["✅ No guardrail flagged this change."]
    n = len(result.findings)
    noun, them = ("change", "it") if n == 1 else ("changes", "them")
    if result.override is not None:
        out.append(f"⚠️ {n} flagged {noun}, {result.override.describe()}.")
    else:
        out.append(
            f"❌ {n} flagged {noun}: the check fails. To accept {them}, a maintainer adds the"
            f" label `{OVERRIDE_LABEL}` to the pull request (unless the policy turns the label"
            f" off), or an overrider the policy lists, who made none of the change, adds a signed"
            f" commit of their own with a `{OVERRIDE_TRAILER}: <reason>` trailer."
        )
    out.append("")
    out += [f"- `{f.subject}`: {f.detail}: **{f.reason}**" for f in result.findings]
    return out


def render_markdown(review: Review, title: str | None = None) -> str:
    base, new = _short(review.before.info.sha), _short(review.after.info.sha)
    head = title or f"## Configuration plan `{base}` → `{new}`"
    if not review.before.validation.ok:
        return (
            head
            + "\n\nThe base commit does not validate, so there is nothing to compare against.\n"
        )
    flags = review.guardrails.flags() if review.guardrails else None
    out = [head, "", planview.render_markdown(review.diff, flags).rstrip("\n")]
    if review.impact is not None:
        out += ["", *impact_markdown(review.impact)]
    if review.guardrails is not None:
        out += ["", *guardrails_markdown(review.guardrails)]
    return "\n".join(out) + "\n"


def impact_text(impact: Impact) -> list[str]:
    out = [f"Premiums ({grid_text(impact)}): {len(impact.premiums)} moved"]
    out += [
        f"  {p.asset} {usd(p.coverage_usd, 0)} {p.duration_days}d: {cents(p.before_cents)}"
        f" -> {cents(p.after_cents)} ({percent(p.relative)})"
        for p in impact.premiums
    ]
    out.append(f"Risk ({risk_text(impact)}): {len(impact.figures)} moved")
    out += [
        f"  {f.label}: {figure_value(f, f.before)} -> {figure_value(f, f.after)}"
        + (f" ({figure_change(f)})" if figure_change(f) else "")
        for f in impact.figures
    ]
    return out


def render_text(review: Review) -> str:
    if not review.before.validation.ok:
        base = _short(review.before.info.sha)
        return f"The base commit {base} does not validate; nothing to compare."
    flags = review.guardrails.flags() if review.guardrails else None
    out = [planview.render_text(review.diff, flags)]
    if review.impact is not None:
        out += impact_text(review.impact)
    g = review.guardrails
    if g is not None:
        if not g.findings:
            out.append("Guardrails: nothing flagged.")
        else:
            state = g.override.describe() if g.override else "the check fails"
            out.append(f"Guardrails: {len(g.findings)} flagged, {state}.")
    return "\n".join(out)


def review_as_dict(review: Review) -> dict[str, Any]:
    data = planview.diff_as_dict(review.diff)
    data.update(
        base=review.before.info.sha,
        head=review.after.info.sha,
        base_valid=review.before.validation.ok,
        policy=review.policy_source,
        impact=review.impact.as_dict() if review.impact else None,
        guardrails=review.guardrails.as_dict() if review.guardrails else None,
    )
    return data


def render_json(review: Review) -> str:
    return json.dumps(review_as_dict(review), indent=2, sort_keys=True)


RENDERERS: dict[str, Callable[[Review], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}
