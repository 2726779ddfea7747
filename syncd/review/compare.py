"""`syncd compare A B`: two environments (or one environment at two commits) side by side.

A side is `NAME` (the environment at HEAD) or `NAME@REV`. The comparison is the plan of moving B
to A's values: every parameter and row that differs, and its premium and risk impact, computed
as for a pull request (`syncd.review.review.judge`, without guardrails).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from syncd.review.policy import load_policy
from syncd.review.review import Review, judge
from syncd.sync.gitsource import check_rev, open_repo
from syncd.sync.pipeline import PreparedCommit, prepare, refusal_reason
from tonsurance.config.environments import check_name
from tonsurance.errors import InvalidConfig


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: an environment at a revision."""

    environment: str
    rev: str

    @classmethod
    def parse(cls, text: str, default_rev: str = "HEAD") -> Side:
        """`staging` or `staging@main~3`; a malformed name or revision is a UsageProblem."""
        name, at, rev = text.partition("@")
        return cls(check_name(name), check_rev(rev) if at else default_rev)

    def __str__(self) -> str:
        return f"{self.environment}@{self.rev}"


@dataclass(frozen=True)
class Comparison:
    """B moved to A's values: `review.before` is B, `review.after` is A."""

    a: Side
    b: Side
    review: Review


def _valid(prepared: PreparedCommit, side: Side) -> PreparedCommit:
    if not prepared.validation.ok:
        raise InvalidConfig(f"{side}: {refusal_reason(prepared.validation)}")
    return prepared


def compare(
    repo_path: str | Path, a: str, b: str, *, policy_path: str | Path | None = None
) -> Comparison:
    """Compare the sides `a` and `b` (texts as `Side.parse` reads them)."""
    side_a, side_b = Side.parse(a), Side.parse(b)
    repo = open_repo(repo_path)
    after = _valid(prepare(repo, side_a.rev, side_a.environment), side_a)
    before = _valid(prepare(repo, side_b.rev, side_b.environment), side_b)
    policy = load_policy(repo, after.info.sha, after.info.sha, policy_path)
    review = judge(repo_path, before, after, policy, guardrails=False)
    return Comparison(side_a, side_b, review)
