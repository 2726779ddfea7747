"""The sync engine's entry points: read a commit, validate it, plan it, apply it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import git
import psycopg
from psycopg import sql

from syncd.errors import Blocked, PlanRefused
from syncd.sync.database_diff import diff_database
from syncd.sync.database_state import read_sync_state
from syncd.sync.diff import Diff, diff_states
from syncd.sync.gitsource import CommitInfo, open_repo, read_commit, resolve_commit
from syncd.sync.outcomes import Lineage, Outcome, Refusal
from syncd.sync.provenance import Provenance, pull_request_number
from syncd.sync.transaction import ApplyResult, apply_state, record_refusal, wrong_environment
from tonsurance.config.environments import DEFAULT_ENVIRONMENT, find_environments
from tonsurance.config.render import render_environment, validate_environment
from tonsurance.config.state import ConfigState
from tonsurance.config.validation import ValidationResult, conclude, parse_sources
from tonsurance.db import connect, connect_primary

DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass
class PreparedCommit:
    """One environment's configuration at one commit, validated."""

    info: CommitInfo
    validation: ValidationResult

    @property
    def state(self) -> ConfigState:
        assert self.validation.state is not None
        return self.validation.state

    @property
    def environment(self) -> str:
        return self.validation.environment or DEFAULT_ENVIRONMENT


def prepare(repo: git.Repo, rev: str, environment: str = DEFAULT_ENVIRONMENT) -> PreparedCommit:
    """Read `rev`'s configuration from git objects and render and validate `environment`."""
    commit = resolve_commit(repo, rev)
    return PreparedCommit(
        CommitInfo.of(commit), validate_environment(read_commit(commit), environment)
    )


def prepare_environments(
    repo: git.Repo, rev: str, names: list[str] | None = None
) -> tuple[dict[str, PreparedCommit], tuple[str, ...]]:
    """Every environment `rev` declares (or `names`), read and parsed once, rendered each; and
    the names `rev` declares. A commit that declares no environments at all (one from before
    they existed) renders the base for every name asked for."""
    commit = resolve_commit(repo, rev)
    info = CommitInfo.of(commit)
    sources = read_commit(commit)
    parsed, envs = parse_sources(sources), find_environments(sources)
    wanted = list(envs.declared) if names is None else names
    out: dict[str, PreparedCommit] = {}
    for name in wanted:
        if not envs.present:
            result = conclude(
                parsed, parsed.documents, parsed.positions, parsed.problems, parsed.valid
            )
            result.environment = name
        else:
            result = render_environment(parsed, envs, name)
        out[name] = PreparedCommit(info, result)
    return out, envs.declared


def served_environment(conn: psycopg.Connection[Any]) -> str | None:
    """The environment the database records as the one it serves (None before the first apply)."""
    served = read_sync_state(conn).get("environment")
    return str(served) if served else None


def lineage(repo: git.Repo, previous: str | None, sha: str) -> Lineage:
    """How `sha` relates to the applied commit."""
    if not previous:
        return Lineage.FIRST
    if previous == sha:
        return Lineage.SAME
    try:
        old, new = repo.commit(previous), repo.commit(sha)
        if repo.is_ancestor(old, new):
            return Lineage.FORWARD
        if repo.is_ancestor(new, old):
            return Lineage.BACKWARD
    except (git.GitCommandError, git.BadName, ValueError):
        pass
    return Lineage.REWRITTEN


def refusal_reason(validation: ValidationResult) -> str:
    first = validation.problems[0] if validation.problems else None
    more = len(validation.problems) - 1
    text = str(first) if first else "validation failed"
    return text + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class GateVerdict:
    """What a gate decided about a commit: who it comes from, and a refusal when it may not apply."""

    provenance: Provenance
    refusal: Refusal | None = None
    reason: str = ""


class ApplyGate(Protocol):
    """Judges a commit before it is applied (signatures, guardrails); see syncd.review.gate."""

    def judge(
        self, repo: git.Repo, applied: str | None, prepared: PreparedCommit
    ) -> GateVerdict: ...


def unproven(info: CommitInfo) -> Provenance:
    """The provenance of a commit applied without signature checks: the author, unverified."""
    return Provenance(info.sha, info.author, pull_request=pull_request_number(info.message))


@dataclass
class ApplyReport:
    """One apply of a prepared commit: its result, and how the commit relates to the applied one."""

    result: ApplyResult
    lineage: Lineage

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome


def apply_prepared(
    conn: psycopg.Connection[Any],
    repo: git.Repo,
    prepared: PreparedCommit,
    *,
    allow_empty: bool = False,
    dry_run: bool = False,
    wait_for_lock: bool = True,
    base: PreparedCommit | None = None,
    gate: ApplyGate | None = None,
) -> ApplyReport:
    """Apply a prepared commit; an invalid one is recorded as refused and changes nothing.

    `base`, the last commit this caller applied, lets an unchanged database be diffed in memory.
    `gate` judges a commit other than the applied one before it is applied; a refusal is
    recorded like an invalid commit.
    """
    sync = read_sync_state(conn)
    conn.commit()
    previous, served = sync.get("applied_commit"), sync.get("environment")
    relation = lineage(repo, previous, prepared.info.sha)
    if served and served != prepared.environment:
        reason = wrong_environment(served, prepared.environment)
        return ApplyReport(
            ApplyResult(Outcome.REFUSED, prepared.info.sha, previous=previous, reason=reason),
            relation,
        )
    if not prepared.validation.ok:
        reason = refusal_reason(prepared.validation)
        if not dry_run:
            record_refusal(conn, prepared.info, reason)
        outcome = ApplyResult(
            Outcome.REFUSED,
            prepared.info.sha,
            previous=previous,
            reason=reason,
            problems=list(prepared.validation.problems),
            refusal=Refusal.INVALID,
        )
        return ApplyReport(outcome, relation)
    if gate is not None and prepared.info.sha != previous:
        verdict = gate.judge(repo, previous, prepared)
    else:
        verdict = GateVerdict(unproven(prepared.info))
    if verdict.refusal is not None:
        if not dry_run:
            record_refusal(conn, prepared.info, verdict.reason)
        refused = ApplyResult(
            Outcome.REFUSED,
            prepared.info.sha,
            previous=previous,
            reason=verdict.reason,
            refusal=verdict.refusal,
        )
        return ApplyReport(refused, relation)
    outcome = apply_state(
        conn,
        prepared.info,
        prepared.state,
        allow_empty=allow_empty,
        dry_run=dry_run,
        expected_applied=previous,
        wait_for_lock=wait_for_lock,
        base=(base.info.sha, base.state) if base is not None and base.validation.ok else None,
        provenance=verdict.provenance,
        environment=prepared.environment,
    )
    return ApplyReport(outcome, relation)


def apply_commit(
    repo_path: str | Path,
    rev: str = "HEAD",
    dsn: str | None = None,
    *,
    allow_empty: bool = False,
    dry_run: bool = False,
    gate: ApplyGate | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    environment: str = DEFAULT_ENVIRONMENT,
) -> ApplyReport:
    """`syncd apply`: make the database equal to `rev`'s rendering of `environment`.

    No wait for a lock (the apply lock, a row an open transaction holds) lasts longer than
    `lock_timeout` seconds: then Blocked is raised and nothing is written.

    When another writer moves the applied commit first, this apply is retried once only if the
    commit it moved to is an ancestor of `rev` (moving on from it is still forward); otherwise
    the result stays `superseded` and nothing is written: an older commit never wins a race.
    """
    repo = open_repo(repo_path)
    prepared = prepare(repo, rev, environment)
    with connect_primary(dsn) as conn:
        conn.execute(sql.SQL("set lock_timeout = {}").format(f"{int(lock_timeout * 1000)}ms"))
        conn.commit()
        try:
            report = apply_prepared(
                conn, repo, prepared, allow_empty=allow_empty, dry_run=dry_run, gate=gate
            )
            if report.outcome is Outcome.SUPERSEDED:
                moved_to = report.result.previous
                if lineage(repo, moved_to, prepared.info.sha) not in (
                    Lineage.FORWARD,
                    Lineage.SAME,
                ):
                    return report
                report = apply_prepared(
                    conn, repo, prepared, allow_empty=allow_empty, dry_run=dry_run, gate=gate
                )
        except psycopg.errors.LockNotAvailable as exc:
            raise Blocked(
                f"gave up after waiting {lock_timeout:g} s for a lock held by another session"
                f" ({' '.join((exc.diag.message_primary or str(exc)).split())}); nothing was"
                " written: end that session's transaction (pg_stat_activity shows it) or retry"
            ) from None
    return report


def plan_against_database(
    repo_path: str | Path, rev: str, dsn: str | None, environment: str = DEFAULT_ENVIRONMENT
) -> tuple[PreparedCommit, Diff]:
    """The difference between `rev`'s rendering of `environment` and what the database holds;
    PlanRefused when the database serves another environment."""
    prepared = prepare(open_repo(repo_path), rev, environment)
    if not prepared.validation.ok:
        return prepared, Diff()
    with connect(dsn) as conn:
        with conn.transaction():
            served = served_environment(conn)
            if served and served != environment:
                raise PlanRefused(wrong_environment(served, environment))
            return prepared, diff_database(conn, prepared.state)


def plan_between(
    repo_path: str | Path, base: str, head: str, environment: str = DEFAULT_ENVIRONMENT
) -> tuple[PreparedCommit, PreparedCommit, Diff]:
    """The difference between two commits' renderings of `environment`, without a database."""
    repo = open_repo(repo_path)
    before, after = prepare(repo, base, environment), prepare(repo, head, environment)
    if not (before.validation.ok and after.validation.ok):
        return before, after, Diff()
    return before, after, diff_states(before.state, after.state)
