"""What `syncd revert` says after its review: where the revert goes next, and when the
guardrails flag it, the exact label or trailer that accepts it under the policy's rules."""

from __future__ import annotations

from syncd.review.guardrails import OVERRIDE_LABEL, OVERRIDE_TRAILER
from syncd.review.policy import POLICY_PATH
from syncd.review.revert import RevertResult


def override_advice(result: RevertResult) -> list[str]:
    """How the flagged revert can be accepted: the label when the policy allows it, a signed
    trailer commit by a listed overrider who made none of the change; empty when nothing is
    flagged or an override already counts."""
    flagged = result.flagged()
    if not flagged:
        return []
    short = result.target[:12]
    n = sum(len(checks.findings) for checks in flagged.values())
    lines = [
        (
            f"The guardrails flag this revert ({n} finding{'s' if n != 1 else ''} in"
            f" {', '.join(flagged)}), so its pull-request check fails (and a daemon that judges"
            " guardrails refuses it) until it is accepted:"
        )
    ]
    policy = result.overrides
    if policy.label:
        lines.append(f"  - add the label {OVERRIDE_LABEL} to its pull request, or")
    if policy.principals:
        who = ", ".join(sorted(policy.principals))
        lines += [
            (
                f"  - ask an overrider of {POLICY_PATH} ({who}) who made none of this change to sign"
                " a commit of its own on top, with git 2.32 or later:"
            ),
            (
                f'      git commit --allow-empty -S -m "Accept the rollback of {short}"'
                f' --trailer "{OVERRIDE_TRAILER}: rollback of {short}"'
            ),
        ]
    else:
        lines.append(
            f"  - ({POLICY_PATH} lists no overriders under overrides.principals, so no"
            f" {OVERRIDE_TRAILER} trailer counts)"
        )
    if not policy.label and not policy.principals:
        lines.append("  The policy allows no override: fix forward with a normal pull request.")
    return lines


def next_step(result: RevertResult) -> str:
    """The line after the review: what was done and where it goes next."""
    merged = " (a merge: reverted against its first parent)" if result.merge else ""
    what = f"revert of {result.target[:12]}{merged} ({result.target_summary})"
    if result.commit is None:
        return f"Staged the {what}; commit it with `git commit --no-edit`, then push."
    return (
        f"Committed the {what} as {result.commit[:12]}. Push it (git push origin HEAD:main, or a"
        " branch and a pull request) and syncd applies it like any other commit."
    )


def finding_lines(result: RevertResult) -> list[str]:
    """One `guardrail: ENV: finding` line per finding of every environment that flags it."""
    return [
        f"guardrail: {name}: {finding}"
        for name, checks in result.flagged().items()
        for finding in checks.findings
    ]
