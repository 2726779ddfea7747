"""The review of a change between two commits: its plan, its impact and its guardrails, for each
environment whose rendered configuration it moves.

`review_environments` is what `syncd plan --base --head` runs; no database is involved, both
sides come from git objects. A change to the base moves every environment that does not override
what changed; a change to one overlay moves only that environment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from syncd.review.guardrails import GuardrailResult, run_guardrails
from syncd.review.impact import Impact, compute_impact
from syncd.review.policy import ReviewPolicy, load_policy
from syncd.sync.diff import Diff, diff_states
from syncd.sync.gitsource import open_repo
from syncd.sync.pipeline import PreparedCommit, prepare_environments
from syncd.sync.signatures import TrustedKeys
from tonsurance.config.environments import DEFAULT_ENVIRONMENT
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

    @property
    def environment(self) -> str:
        return self.after.environment


@dataclass(frozen=True)
class EnvironmentReviews:
    """One review per environment; `changed` lists those the change moves (or cannot judge)."""

    reviews: dict[str, Review] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        return [
            name
            for name, review in self.reviews.items()
            if not review.comparable or not review.diff.empty
        ]

    @property
    def passed(self) -> bool:
        return all(review.passed for review in self.reviews.values())


def as_of_date(prepared: PreparedCommit) -> dt.date:
    """The day the head commit was authored (UTC): the date risk figures are computed for.

    Pinned to the commit, not the clock, so the same pull request always shows the same figures.
    """
    return dt.datetime.fromtimestamp(prepared.info.authored_at, dt.UTC).date()


def judge(
    repo_path: str | Path,
    before: PreparedCommit,
    after: PreparedCommit,
    policy: ReviewPolicy,
    *,
    guardrails: bool = True,
    override: bool = False,
    keys: TrustedKeys | None = None,
) -> Review:
    """The review of one environment's two sides: diff, and where both are valid its impact and
    the guardrails of that environment."""
    if not (before.validation.ok and after.validation.ok):
        return Review(before, after, Diff())
    diff = diff_states(before.state, after.state)
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
            open_repo(repo_path),
            diff,
            policy,
            before.info.sha,
            after.info.sha,
            override_flag=override,
            keys=keys,
            environment=after.environment,
        )
    return Review(before, after, diff, impact, checks, policy.source)


def review_environments(
    repo_path: str | Path,
    base: str,
    head: str,
    *,
    policy_path: str | Path | None = None,
    guardrails: bool = True,
    override: bool = False,
    keys: TrustedKeys | None = None,
    only: str | None = None,
) -> EnvironmentReviews:
    """Plan base..head for every environment the head declares (or just `only`)."""
    repo = open_repo(repo_path)
    names = [only] if only else None
    after, declared = prepare_environments(repo, head, names)
    if not after:
        after, declared = prepare_environments(repo, head, [DEFAULT_ENVIRONMENT])
    before, _ = prepare_environments(repo, base, list(after))
    policy = load_policy(repo, base, head, policy_path)
    return EnvironmentReviews(
        {
            name: judge(
                repo_path,
                before[name],
                after[name],
                policy,
                guardrails=guardrails,
                override=override,
                keys=keys,
            )
            for name in after
        }
    )


def review_between(
    repo_path: str | Path,
    base: str,
    head: str,
    *,
    policy_path: str | Path | None = None,
    guardrails: bool = True,
    override: bool = False,
    keys: TrustedKeys | None = None,
    environment: str = DEFAULT_ENVIRONMENT,
) -> Review:
    """Plan base..head for one environment, with its impact and guardrail findings."""
    reviews = review_environments(
        repo_path,
        base,
        head,
        policy_path=policy_path,
        guardrails=guardrails,
        override=override,
        keys=keys,
        only=environment,
    )
    return reviews.reviews[environment]
