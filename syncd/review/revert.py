"""`syncd revert SHA`: the rollback of one change, as a new commit that goes the normal way.

`git revert` is applied without committing first; the result (the index) is validated from a
trial commit object that no branch points at. An invalid result is aborted, leaving the branch,
the index and the working tree as they were. A valid one is committed (or left staged with
`no_commit`), and its review against the commit it sits on (plan, impact and the guardrails of
that commit's policy, as its pull request will be judged) is returned for printing. A merge
commit is reverted against its first parent, the branch it was merged into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import git

from syncd.errors import GitUnavailable, PlanRefused
from syncd.review.guardrails import GuardrailResult, OverridePolicy
from syncd.review.policy import load_policy
from syncd.review.review import EnvironmentReviews, Review, review_between, review_environments
from syncd.sync.gitsource import open_repo, resolve_commit
from syncd.sync.pipeline import prepare, prepare_environments, refusal_reason
from tonsurance.config.environments import DEFAULT_ENVIRONMENT
from tonsurance.errors import InvalidConfig, UsageProblem


@dataclass(frozen=True)
class RevertResult:
    target: str
    target_summary: str
    parent: str
    commit: str | None  # None when the revert is left staged
    review: Review
    overrides: OverridePolicy
    merge: bool = False  # the target was a merge commit, reverted against its first parent
    # Every environment's review, judged as the pull request's check judges the revert.
    judged: EnvironmentReviews = field(default_factory=EnvironmentReviews)

    def flagged(self) -> dict[str, GuardrailResult]:
        """The environments whose guardrails flag the revert, with no override that counts."""
        return {
            name: review.guardrails
            for name, review in self.judged.reviews.items()
            if review.guardrails is not None
            and review.guardrails.findings
            and review.guardrails.override is None
        }


def _git_error(exc: git.GitCommandError) -> str:
    text = exc.stderr if isinstance(exc.stderr, str) else str(exc)
    lines = [line.strip() for line in text.replace("stderr:", "").splitlines() if line.strip()]
    lines = [line.strip("'").removeprefix("error: ").removeprefix("fatal: ") for line in lines]
    return (
        "; ".join(line for line in lines if line and not line.startswith("hint:")) or "git failed"
    )


def _abort(repo: git.Repo) -> None:
    """Undo a revert in progress as far as git allows; never raises, so the first error is kept."""
    try:
        repo.git.revert("--abort")
        return
    except (git.GitError, OSError):
        pass
    try:
        repo.git.reset("--merge")
    except (git.GitError, OSError):
        pass


def revert(
    repo_path: str | Path, rev: str, *, commit: bool = True, environment: str = DEFAULT_ENVIRONMENT
) -> RevertResult:
    """Revert `rev` on top of HEAD; a result invalid in any environment is refused, the
    repository left as it was. The plan shown is `environment`'s."""
    repo = open_repo(repo_path)
    if repo.bare:
        raise UsageProblem(f"{repo_path} is a bare repository; revert in a working clone")
    target = resolve_commit(repo, rev)
    short = target.hexsha[:12]
    try:
        parent = repo.head.commit.hexsha
        staged = repo.git.diff("--cached", "--name-only")
    except (ValueError, git.GitCommandError) as exc:
        raise GitUnavailable(f"cannot read HEAD of {repo_path}: {exc}") from None
    if staged:
        raise UsageProblem("the index has staged changes; commit or unstage them before reverting")
    merge = len(target.parents) > 1
    mainline = ["--mainline", "1"] if merge else []
    try:
        repo.git.revert("--no-commit", *mainline, target.hexsha)
    except git.GitCommandError as exc:
        conflicted = _conflicted(repo)
        _abort(repo)
        if conflicted:
            raise InvalidConfig(_conflict_message(short, conflicted)) from None
        raise InvalidConfig(
            f"git revert {short} failed, nothing changed: {_git_error(exc)}"
        ) from None
    try:
        trial = _checked_trial(repo, short, parent)
        new = _commit(repo, short) if commit else None
    except BaseException:
        _abort(repo)
        raise
    head = new or trial
    judged = review_environments(repo_path, parent, head)
    review = judged.reviews.get(environment) or review_between(
        repo_path, parent, head, environment=environment
    )
    overrides = load_policy(repo, parent, head).overrides
    return RevertResult(
        target.hexsha, _summary(target), parent, new, review, overrides, merge, judged
    )


def _conflicted(repo: git.Repo) -> list[str]:
    """The files a failed revert left in conflict (before it is aborted)."""
    try:
        return str(repo.git.diff("--name-only", "--diff-filter=U")).split()
    except git.GitCommandError:
        return []


def _conflict_message(short: str, files: list[str]) -> str:
    """A conflict, and the runbook's next step: the later commits to revert first, or a fix."""
    names = " ".join(files)
    return (
        f"reverting {short} conflicts with later changes to {names}, so the revert was aborted"
        f" and nothing changed. Next (README, Rollback runbook): `git log --oneline {short}..HEAD"
        f" -- {names}` lists the later commits; revert them first, newest first, then {short},"
        " or fix forward with a normal pull request"
    )


def _checked_trial(repo: git.Repo, short: str, parent: str) -> str:
    """The sha of a trial commit of the index on `parent`; an invalid or empty result raises."""
    try:
        tree = repo.git.write_tree()
        if tree == repo.head.commit.tree.hexsha:
            raise InvalidConfig(
                f"reverting {short} changes nothing on top of {parent[:12]};"
                " was it reverted already?"
            )
        trial = repo.git.commit_tree(tree, "-p", parent, "-m", f"Revert {short} (trial)")
    except git.GitCommandError as exc:
        raise GitUnavailable(
            f"git could not record the revert of {short}: {_git_error(exc)}"
        ) from None
    rendered, _ = prepare_environments(repo, trial)
    for checked in list(rendered.values()) or [prepare(repo, trial)]:
        if not checked.validation.ok:
            raise PlanRefused(
                f"reverting {short} gives an invalid configuration, so the revert was aborted and"
                f" nothing changed: {refusal_reason(checked.validation)}"
            )
    return str(trial)


def _commit(repo: git.Repo, short: str) -> str:
    try:
        repo.git.commit("--no-edit", "--quiet")
    except git.GitCommandError as exc:
        raise InvalidConfig(
            f"committing the revert of {short} failed, nothing changed: {_git_error(exc)}"
        ) from None
    return repo.head.commit.hexsha


def _summary(commit: git.Commit) -> str:
    message = commit.message if isinstance(commit.message, str) else commit.message.decode()
    return message.strip().splitlines()[0] if message.strip() else ""
