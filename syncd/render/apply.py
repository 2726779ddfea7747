"""What `syncd apply` prints: a warning about the commit's lineage, the plan, and one verdict line."""

from __future__ import annotations

from syncd.render.plan import render_text
from syncd.sync.outcomes import Lineage, Outcome
from syncd.sync.pipeline import ApplyReport

VERDICTS = {
    Outcome.APPLIED: "applied",
    Outcome.UNCHANGED: "unchanged (the database holds this configuration already; nothing written)",
    Outcome.DRY_RUN: "dry run; nothing changed",
}


def lineage_warning(report: ApplyReport) -> str | None:
    """A sentence when the commit does not move the database forward along the branch."""
    short, previous = report.result.commit[:12], str(report.result.previous)[:12]
    if report.lineage is Lineage.REWRITTEN:
        return (
            f"{short} does not descend from the applied commit {previous};"
            " the branch history was rewritten"
        )
    if report.lineage is Lineage.BACKWARD:
        return f"{short} is older than the applied commit {previous}"
    return None


def superseded(report: ApplyReport) -> str:
    """The line for an apply that lost the race to a commit it does not descend from."""
    result = report.result
    return (
        f"{result.commit[:12]}: superseded: another writer applied {str(result.previous)[:12]}"
        " first, which this commit does not descend from; nothing written"
    )


def refusal(report: ApplyReport) -> str:
    return f"{report.result.commit[:12]} not applied: {report.result.reason}"


def render_applied(report: ApplyReport) -> str:
    """The plan that was applied (or would be), then `<sha>: <verdict>`."""
    result = report.result
    verdict = VERDICTS.get(result.outcome, str(result.outcome))
    drift = (
        " (drift in the database was put back)"
        if result.drift and result.outcome is Outcome.APPLIED
        else ""
    )
    return f"{render_text(result.diff)}\n{result.commit[:12]}: {verdict}{drift}"
