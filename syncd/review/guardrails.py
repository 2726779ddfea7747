"""Guardrails on a configuration change: the findings of the review policy's rules
(`syncd.review.policy`) and whether an override lets them pass.

A flagged change fails the check unless it is overridden: by `--override` (the workflow passes it
when the pull request has the label `config-override` and the policy accepts it), or by a
signed `Config-Override: <reason>` trailer between base and head that `syncd.review.overrides`
accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import git

from syncd.review.overrides import (
    CONFIG_PREFIX,
    OVERRIDE_LABEL,
    OVERRIDE_TRAILER,
    Override,
    OverridePolicy,
    signed_override,
    trailer_overrides,
)
from syncd.review.policy import (
    ReviewPolicy,
    Rules,
)
from syncd.sync.diff import Diff, ParamChange, relative_text, show
from syncd.sync.signatures import TrustedKeys

MINIMUM_PREMIUM_KEYS = frozenset({"min_premium_absolute_usd", "min_premium_rate"})


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    subject: str
    detail: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "detail": self.detail,
            "reason": self.reason,
        }


def _detail(change: ParamChange) -> str:
    old = show(change.old.value) if change.old else "(none)"
    new = show(change.new.value) if change.new else "(none)"
    rel = relative_text(change)
    return f"{old} -> {new}" + (f" ({rel})" if rel else "")


def _relative_finding(change: ParamChange, limit: float) -> Finding | None:
    assert change.old is not None and change.new is not None
    old, new = change.old.value, change.new.value
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
    if not numbers or old == new:
        return None
    rel = change.relative
    limit_text = f"the {change.category} limit of {limit * 100:g}%"
    if rel is None:
        return Finding(
            "max_relative_change",
            change.name,
            _detail(change),
            f"a change from 0 exceeds {limit_text}",
        )
    if abs(rel) <= limit:
        return None
    return Finding(
        "max_relative_change", change.name, _detail(change), f"moves by more than {limit_text}"
    )


def check_diff(diff: Diff, rules: Rules) -> list[Finding]:
    """Every change of `diff` that the rules flag, in the order of the diff."""
    findings: list[Finding] = []
    for change in diff.params:
        if change.action == "remove":
            if rules.parameter_removed:
                findings.append(
                    Finding("parameter_removed", change.name, _detail(change), "parameter removed")
                )
            continue
        if change.action != "change":
            continue
        limit = rules.max_relative_change.get(change.category)
        found = _relative_finding(change, limit) if limit is not None else None
        if found:
            findings.append(found)
        if (
            rules.minimum_premium_lowered
            and change.category == "pricing"
            and change.key in MINIMUM_PREMIUM_KEYS
            and _lowered(change)
        ):
            findings.append(
                Finding(
                    "minimum_premium_lowered",
                    change.name,
                    _detail(change),
                    "minimum premium lowered",
                )
            )
    if rules.row_removed:
        for row in diff.rows:
            if row.action == "remove":
                subject = f"{row.table}[{row.id}]"
                findings.append(
                    Finding("row_removed", subject, "row removed", f"{row.table} row removed")
                )
    return findings


def _lowered(change: ParamChange) -> bool:
    assert change.old is not None and change.new is not None
    old, new = change.old.value, change.new.value
    return isinstance(old, (int, float)) and isinstance(new, (int, float)) and new < old


@dataclass(frozen=True)
class GuardrailResult:
    findings: list[Finding]
    override: Override | None
    rejected: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.findings or self.override is not None

    def flags(self) -> dict[str, str]:
        """Subject -> reasons, for printing next to the values of the change table."""
        out: dict[str, str] = {}
        for f in self.findings:
            out[f.subject] = f"{out[f.subject]}; {f.reason}" if f.subject in out else f.reason
        return out

    def as_dict(self) -> dict[str, Any]:
        o = self.override
        return {
            "passed": self.passed,
            "findings": [f.as_dict() for f in self.findings],
            "override": None
            if o is None
            else {
                "source": o.source,
                "reason": o.reason,
                "commit": o.commit,
                "granted_by": o.granted_by,
                "overridden": list(o.overridden),
            },
            "rejected_overrides": list(self.rejected),
        }


def run_guardrails(
    repo: git.Repo,
    diff: Diff,
    policy: ReviewPolicy,
    base: str,
    head: str,
    *,
    override_flag: bool = False,
    keys: TrustedKeys | None = None,
    environment: str | None = None,
) -> GuardrailResult:
    """Check `diff` against the rules and look for an override that counts.

    The flag (the pull-request label) counts when the policy allows it; a trailer counts only
    when `signed_override` accepts it. Trailers that do not count are listed with the reason.
    The rules are those of `environment` where the policy gives it its own.
    """
    findings = check_diff(diff, policy.rules_for(environment))
    if not findings:
        return GuardrailResult(findings, None)
    rejected: list[str] = []
    if override_flag:
        if policy.overrides.label:
            return GuardrailResult(findings, Override("flag", f"label {OVERRIDE_LABEL}"))
        rejected.append(f"the policy does not accept the label {OVERRIDE_LABEL}")
    for trailer in trailer_overrides(repo, base, head):
        override, why = signed_override(repo, trailer, policy.overrides, base, head, keys)
        if override is not None:
            return GuardrailResult(findings, override, tuple(rejected))
        rejected.append(f"the {OVERRIDE_TRAILER} trailer of {str(trailer.commit)[:12]} {why}")
    return GuardrailResult(findings, None, tuple(rejected))


__all__ = [
    "CONFIG_PREFIX",
    "OVERRIDE_LABEL",
    "OVERRIDE_TRAILER",
    "Override",
    "OverridePolicy",
    "signed_override",
    "trailer_overrides",
]
