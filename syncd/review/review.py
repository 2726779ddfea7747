"""The review of a change between two commits: its plan, its impact and its guardrails.

`review_between` is what `syncd plan --base --head` runs; no database is involved, both sides
come from git objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from syncd.review.guardrails import GuardrailResult, load_policy, run_guardrails
from syncd.review.impact import Impact, compute_impact
from syncd.sync.diff import Diff
from syncd.sync.gitsource import open_repo
from syncd.sync.pipeline import PreparedCommit, plan_between
from syncd.sync.signatures import TrustedKeys
from tonsurance.config.snapshot import snapshot_from_state


@dataclass(frozen=True)
class Review:
    before: PreparedCommit
    after: PreparedCommit
    diff: Diff
    impact: Impact | None = None
    guardrails: GuardrailResult | None = None
    policy_source: str | None = None

    @property
    def comparable(self) -> bool:
        """Both sides are valid, so the diff, impact and guardrails mean something."""
        return self.before.validation.ok and self.after.validation.ok

    @property
    def passed(self) -> bool:
        return self.guardrails is None or self.guardrails.passed


def as_of_date(prepared: PreparedCommit) -> dt.date:
    """The day the head commit was authored (UTC): the date risk figures are computed for.

    Pinned to the commit, not the clock, so the same pull request always shows the same figures.
    """
    return dt.datetime.fromtimestamp(prepared.info.authored_at, dt.UTC).date()


def review_between(
    repo_path: str | Path,
    base: str,
    head: str,
    *,
    policy_path: str | Path | None = None,
    guardrails: bool = True,
    override: bool = False,
    keys: TrustedKeys | None = None,
) -> Review:
    """Plan base..head, and where both sides are valid add its impact and guardrail findings."""
    before, after, diff = plan_between(repo_path, base, head)
    if not (before.validation.ok and after.validation.ok):
        return Review(before, after, diff)
    repo = open_repo(repo_path)
    policy = load_policy(repo, before.info.sha, after.info.sha, policy_path)
    impact = None
    if not diff.empty:
        impact = compute_impact(
            snapshot_from_state(before.state, commit=before.info.sha, source="git"),
            snapshot_from_state(after.state, commit=after.info.sha, source="git"),
            policy.impact,
            as_of_date(after),
        )
    checks = None
    if guardrails:
        checks = run_guardrails(
            repo, diff, policy, before.info.sha, after.info.sha, override_flag=override, keys=keys
        )
    return Review(before, after, diff, impact, checks, policy.source)
