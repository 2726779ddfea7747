"""The gate a commit passes before syncd applies it: a trusted signature, and the guardrails.

The daemon and `syncd apply` judge the change from the applied commit to the head exactly as the
pull-request check does: the policy of the applied commit, the same findings, the same override
rule. What the gate proves (the verified signer, the override and its two people) is recorded
beside the audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

from syncd.errors import GitUnavailable
from syncd.review.guardrails import run_guardrails
from syncd.review.policy import load_policy
from syncd.sync.diff import diff_states
from syncd.sync.outcomes import Refusal
from syncd.sync.pipeline import GateVerdict, PreparedCommit, prepare, unproven
from syncd.sync.provenance import Override, Provenance, Verification
from syncd.sync.signatures import TrustedKeys, Verdict, verify_commit


@dataclass
class TrustGate:
    """The head's signature checked against `keys` when `verify_signatures`; the change judged by
    the guardrails when `guardrails`, where `keys` also prove override trailers."""

    keys: TrustedKeys | None = None
    verify_signatures: bool = False
    guardrails: bool = False
    policy_path: Path | None = None

    def judge(self, repo: git.Repo, applied: str | None, prepared: PreparedCommit) -> GateVerdict:
        info = prepared.info
        provenance = unproven(info)
        if self.verify_signatures and self.keys is not None:
            signature = verify_commit(repo.git_dir, info.sha, self.keys)
            if signature.verdict is Verdict.UNVERIFIABLE:
                # Not a property of the commit (a key file mid-rewrite, a hung gpg): a fault that
                # the next cycle retries, never a refusal recorded for good.
                raise GitUnavailable(f"signature check: {signature.describe()}")
            if not signature.good:
                return GateVerdict(
                    provenance, Refusal.SIGNATURE, f"signature: {signature.describe()}"
                )
            provenance = Provenance(
                info.sha,
                info.author,
                Verification.VERIFIED,
                signature.principal,
                signature.fingerprint,
                provenance.pull_request,
            )
        if not self.guardrails or applied is None:
            return GateVerdict(provenance)
        return self._judge_change(repo, applied, prepared, provenance)

    def _judge_change(
        self, repo: git.Repo, applied: str, prepared: PreparedCommit, provenance: Provenance
    ) -> GateVerdict:
        before = prepare(repo, applied, prepared.environment)
        if not before.validation.ok:
            return GateVerdict(provenance)
        diff = diff_states(before.state, prepared.state)
        policy = load_policy(repo, applied, prepared.info.sha, self.policy_path)
        checks = run_guardrails(
            repo,
            diff,
            policy,
            applied,
            prepared.info.sha,
            keys=self.keys,
            environment=prepared.environment,
        )
        if not checks.passed:
            findings = "; ".join(str(finding) for finding in checks.findings)
            rejected = "".join(f" ({why})" for why in checks.rejected)
            return GateVerdict(provenance, Refusal.GUARDRAIL, f"guardrail: {findings}{rejected}")
        granted = checks.override
        if granted is None or granted.granted_by is None or granted.commit is None:
            return GateVerdict(provenance)
        override = Override(granted.reason, granted.granted_by, granted.commit, granted.overridden)
        return GateVerdict(
            Provenance(
                provenance.commit,
                provenance.author,
                provenance.verification,
                provenance.signer,
                provenance.signer_key,
                provenance.pull_request,
                override,
            )
        )
