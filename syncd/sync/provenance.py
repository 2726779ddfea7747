"""Who a commit comes from, as far as syncd can prove it: recorded beside the audit rows.

The git author is what the committer typed; the signer is what a verified signature proves; a
commit applied without signature checks is `unverified` and names no signer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg

PULL_REQUEST = re.compile(r"^Merge pull request #(\d+) |\(#(\d+)\)\s*$", re.MULTILINE)


class Verification(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Override:
    """A guardrail override that counted: its reason, who granted it and whose change it covers."""

    reason: str
    granted_by: str
    commit: str
    overridden: tuple[str, ...]


@dataclass(frozen=True)
class Provenance:
    commit: str
    author: str
    verification: Verification = Verification.UNVERIFIED
    signer: str | None = None
    signer_key: str | None = None
    pull_request: int | None = None
    override: Override | None = None

    def describe(self) -> str:
        """`signed by P (KEY)` or `unverified`, then the pull request and any override."""
        who = (
            f"signed by {self.signer} ({self.signer_key})"
            if self.verification is Verification.VERIFIED
            else "unverified"
        )
        if self.pull_request is not None:
            who += f", pull request #{self.pull_request}"
        if self.override is not None:
            who += f", guardrails overridden by {self.override.granted_by}: {self.override.reason}"
        return who


def pull_request_number(message: str) -> int | None:
    """The pull request a merge or squash commit names (`Merge pull request #12 from …`, `… (#12)`)."""
    found = PULL_REQUEST.search(message.strip().splitlines()[0] if message.strip() else "")
    if not found:
        return None
    return int(found.group(1) or found.group(2))


_UPSERT = """
insert into commit_provenance (commit_sha, author, verification, signer, signer_key, pull_request,
                               override_reason, override_by, override_commit, overridden_principals)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
on conflict (commit_sha) do update
   set author = excluded.author, verification = excluded.verification, signer = excluded.signer,
       signer_key = excluded.signer_key, pull_request = excluded.pull_request,
       override_reason = excluded.override_reason, override_by = excluded.override_by,
       override_commit = excluded.override_commit,
       overridden_principals = excluded.overridden_principals, recorded_at = now()
"""


def record_provenance(conn: psycopg.Connection[Any], provenance: Provenance) -> None:
    """Write (or update) the commit's provenance inside the caller's transaction."""
    override = provenance.override
    with conn.cursor() as cur:
        cur.execute(
            _UPSERT,
            (
                provenance.commit,
                provenance.author,
                str(provenance.verification),
                provenance.signer,
                provenance.signer_key,
                provenance.pull_request,
                override.reason if override else None,
                override.granted_by if override else None,
                override.commit if override else None,
                list(override.overridden) if override else None,
            ),
        )


def read_provenance(conn: psycopg.Connection[Any], shas: list[str]) -> dict[str, str]:
    """For each recorded commit of `shas`, the one-line description of its provenance."""
    if not shas:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "select commit_sha, author, verification, signer, signer_key, pull_request,"
            " override_reason, override_by, override_commit, overridden_principals"
            " from commit_provenance where commit_sha = any(%s)",
            (shas,),
        )
        rows = cur.fetchall()
    out = {}
    for sha, author, verification, signer, key, pr, reason, by, commit, overridden in rows:
        override = Override(reason, by, commit, tuple(overridden or ())) if reason else None
        out[sha] = Provenance(
            sha, author, Verification(verification), signer, key, pr, override
        ).describe()
    return out
