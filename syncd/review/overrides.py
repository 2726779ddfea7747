"""Overrides of flagged changes: the `Config-Override:` trailer, and when it counts.

A trailer counts only when its commit changes nothing under config/, is signed by a trusted key
of a principal the base policy lists, config/ at the head is what it saw, and every other commit
of the change carries a good signature of someone else (two people, proven by signatures).
"""

from __future__ import annotations

from dataclasses import dataclass

import git

from syncd.errors import GitUnavailable
from syncd.sync.signatures import Signature, TrustedKeys, Verdict, verify_commit

OVERRIDE_LABEL = "config-override"
OVERRIDE_TRAILER = "Config-Override"
CONFIG_PREFIX = "config/"


@dataclass(frozen=True)
class OverridePolicy:
    """Who may override flagged changes by a signed trailer, and whether the label counts."""

    principals: frozenset[str] = frozenset()
    label: bool = True


@dataclass(frozen=True, slots=True)
class Override:
    source: str  # "flag" or "trailer"
    reason: str
    commit: str | None = None
    granted_by: str | None = None
    overridden: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.source == "flag":
            return f"overridden by --override (the pull-request label {OVERRIDE_LABEL})"
        where = str(self.commit)[:12]
        return (
            f"overridden by the {OVERRIDE_TRAILER} trailer of {where}, signed by"
            f" {self.granted_by}: {self.reason}"
        )


def trailer_overrides(repo: git.Repo, base: str, head: str) -> list[Override]:
    """The `Config-Override: <reason>` trailers of the commits in base..head, newest first."""
    fmt = f"%H%x00%(trailers:key={OVERRIDE_TRAILER},valueonly,separator=%x1f)%x1e"
    out = repo.git.log(f"--format={fmt}", f"{base}..{head}", "--")
    found: list[Override] = []
    for record in out.split("\x1e"):
        sha, _, values = record.strip().partition("\x00")
        for reason in values.split("\x1f"):
            if sha and reason.strip():
                found.append(Override("trailer", " ".join(reason.split()), sha))
    return found


def _people(repo: git.Repo, sha: str) -> set[str]:
    """The author's and committer's e-mails as git records them, case-folded."""
    commit = repo.commit(sha)
    return {email.casefold() for email in (commit.author.email, commit.committer.email) if email}


def _config_tree(commit: git.Commit) -> str | None:
    """The id of the commit's config/ tree (None without one): equal ids, equal configuration."""
    try:
        return str((commit.tree / CONFIG_PREFIX.rstrip("/")).hexsha)
    except KeyError:
        return None


def _touches_config(repo: git.Repo, sha: str) -> bool:
    """Whether the commit's config/ differs from its first parent's (a root commit's: has one)."""
    commit = repo.commit(sha)
    parent = _config_tree(commit.parents[0]) if commit.parents else None
    return _config_tree(commit) != parent


def _checked(repo: git.Repo, sha: str, keys: TrustedKeys) -> Signature:
    """The commit's signature; GitUnavailable when it cannot be checked now (a key file
    mid-rewrite, a hung check), so a passing fault never becomes a refusal for good."""
    signature = verify_commit(repo.git_dir, sha, keys)
    if signature.verdict is Verdict.UNVERIFIABLE:
        raise GitUnavailable(f"signature check: {signature.describe()}")
    return signature


def signed_override(
    repo: git.Repo,
    trailer: Override,
    policy: OverridePolicy,
    base: str,
    head: str,
    keys: TrustedKeys | None,
) -> tuple[Override | None, str]:
    """The override a trailer grants, or None and why it does not count.

    It counts when its commit changes nothing under config/, carries a good signature of a
    principal the base policy lists, config/ at the head is what the override commit saw (it
    approves nothing pushed after it), and every other commit of the change carries a good
    signature by a trusted key of someone else: who made a commit is proven by its signature,
    since an unsigned commit's author is whatever was typed. Names compare case-insensitively.
    """
    sha = str(trailer.commit)
    if keys is None:
        return (
            None,
            "cannot be proven: no trusted keys were given (--allowed-signers, --gpg-keyring)",
        )
    signature = _checked(repo, sha, keys)
    if not signature.good:
        return None, f"does not count: {signature.describe()}"
    overrider = signature.principal.strip().casefold()
    if overrider not in {p.strip().casefold() for p in policy.principals}:
        return None, f"is signed by {signature.principal}, who is not an overrider in the policy"
    if _touches_config(repo, sha):
        return None, "is on a commit that also changes config/: an override must stand alone"
    if _config_tree(repo.commit(sha)) != _config_tree(repo.commit(head)):
        return None, "does not count: config/ changed after it, and it approves only what it saw"
    overridden: set[str] = set()
    for other in repo.git.rev_list(f"{base}..{head}").split():
        if other == sha:
            continue
        other_signature = _checked(repo, other, keys)
        if not other_signature.good:
            return None, (
                f"does not count: {other[:12]} has no good signature by a trusted key, so who"
                " made it is not proven: two people are needed"
            )
        people = _people(repo, other) | {other_signature.principal.strip().casefold()}
        if overrider in people:
            return (
                None,
                f"is signed by {signature.principal}, who also made {other[:12]}: two people are needed",
            )
        overridden |= people
    override = Override(
        "trailer", trailer.reason, sha, signature.principal, tuple(sorted(overridden))
    )
    return override, ""
