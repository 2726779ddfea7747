"""Guardrails on a configuration change, and the review policy file that sets them.

The policy (`.github/config-policy.yaml`, schema `schemas/policy.schema.json`) is read with the
same strict YAML reader and JSON Schema checker as config/. It is taken from the base commit of a
change, so a pull request cannot loosen the checks that judge it; a base without one falls back
to the head commit, then to the policy shipped with the package.

A flagged change fails the check unless it is overridden: by `--override` (the workflow passes it
when the pull request has the label `config-override` and the policy accepts it), or by a
signed `Config-Override: <reason>` trailer between base and head that `syncd.review.overrides`
accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
from syncd.sync.diff import Diff, ParamChange, relative_text, show
from syncd.sync.signatures import TrustedKeys
from tonsurance.config.layout import default_root
from tonsurance.config.schemacheck import SchemaUnusable, check_document, compile_schema
from tonsurance.config.yamlread import YamlProblem, read_yaml
from tonsurance.errors import InvalidConfig, UsageProblem
from tonsurance.risk import Policy as VaultPolicy
from tonsurance.risk import VaultSnapshot

POLICY_PATH = ".github/config-policy.yaml"
POLICY_SCHEMA_PATH = "schemas/policy.schema.json"
MINIMUM_PREMIUM_KEYS = frozenset({"min_premium_absolute_usd", "min_premium_rate"})
MAX_POLICY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Rules:
    max_relative_change: Mapping[str, float]
    parameter_removed: bool
    row_removed: bool
    minimum_premium_lowered: bool


@dataclass(frozen=True)
class ImpactSettings:
    assets: tuple[str, ...]
    coverages_usd: tuple[float, ...]
    durations_days: tuple[int, ...]
    trigger_price: float | None
    utilization: float
    reference_coverage_usd: float
    reference_trigger_price: float
    vault: VaultSnapshot
    var_seed: int
    var_simulations: int
    tranche_utilizations: tuple[float, ...]


@dataclass(frozen=True)
class ReviewPolicy:
    rules: Rules
    impact: ImpactSettings
    source: str
    overrides: OverridePolicy = field(default_factory=OverridePolicy)
    environment_rules: Mapping[str, Rules] = field(default_factory=dict)

    def rules_for(self, environment: str | None) -> Rules:
        """The guardrails of `environment`: its own settings where the policy gives them."""
        return self.environment_rules.get(environment or "", self.rules)


def _environment_rules(general: Rules, doc: Mapping[str, Any]) -> dict[str, Rules]:
    out: dict[str, Rules] = {}
    for name, own in doc.get("environments", {}).items():
        limits = dict(general.max_relative_change)
        limits.update({k: float(v) for k, v in own.get("max_relative_change", {}).items()})
        out[name] = Rules(
            max_relative_change=limits,
            parameter_removed=bool(own.get("parameter_removed", general.parameter_removed)),
            row_removed=bool(own.get("row_removed", general.row_removed)),
            minimum_premium_lowered=bool(
                own.get("minimum_premium_lowered", general.minimum_premium_lowered)
            ),
        )
    return out


def _schema_bytes() -> bytes:
    data: bytes = (default_root() / POLICY_SCHEMA_PATH).read_bytes()
    return data


def parse_policy(data: bytes | str, source: str) -> ReviewPolicy:
    """Check a policy document against its schema and build the settings; InvalidConfig if bad."""
    try:
        validator = compile_schema(_schema_bytes(), POLICY_SCHEMA_PATH)
        document, positions = read_yaml(data, source)
    except (SchemaUnusable, YamlProblem) as exc:
        raise InvalidConfig(f"review policy: {exc.problem}") from None
    problems = check_document(validator, document, positions)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidConfig(f"review policy: {problems[0]}{more}")
    return _build(document, source)


def _build(doc: Mapping[str, Any], source: str) -> ReviewPolicy:
    g, i = doc["guardrails"], doc["impact"]
    rules = Rules(
        max_relative_change={k: float(v) for k, v in g["max_relative_change"].items()},
        parameter_removed=bool(g["parameter_removed"]),
        row_removed=bool(g["row_removed"]),
        minimum_premium_lowered=bool(g["minimum_premium_lowered"]),
    )
    grid, ref, vault = i["grid"], i["reference_policy"], i["reference_vault"]
    trigger = grid.get("trigger_price")
    settings = ImpactSettings(
        assets=tuple(grid["assets"]),
        coverages_usd=tuple(float(c) for c in grid["coverages_usd"]),
        durations_days=tuple(int(d) for d in grid["durations_days"]),
        trigger_price=None if trigger is None else float(trigger),
        utilization=float(grid.get("utilization", 0.0)),
        reference_coverage_usd=float(ref["coverage_usd"]),
        reference_trigger_price=float(ref["trigger_price"]),
        vault=VaultSnapshot(
            float(vault["capital_usd"]),
            float(vault["btc_exposure_usd"]),
            tuple(
                VaultPolicy(p["asset"], float(p["coverage_usd"]), float(p["trigger_price"]))
                for p in vault["policies"]
            ),
        ),
        var_seed=int(i["value_at_risk"]["seed"]),
        var_simulations=int(i["value_at_risk"]["simulations"]),
        tranche_utilizations=tuple(float(u) for u in i["tranche_utilizations"]),
    )
    o = doc.get("overrides", {})
    overrides = OverridePolicy(frozenset(o.get("principals", ())), bool(o.get("label", True)))
    return ReviewPolicy(rules, settings, source, overrides, _environment_rules(rules, g))


def _policy_blob(commit: git.Commit) -> bytes | None:
    try:
        item = commit.tree / POLICY_PATH
    except KeyError:
        return None
    if item.type != "blob" or item.mode == 0o120000:
        raise InvalidConfig(f"{POLICY_PATH} at {commit.hexsha[:12]} must be a regular file")
    if item.size > MAX_POLICY_BYTES:
        raise InvalidConfig(
            f"{POLICY_PATH} at {commit.hexsha[:12]} is larger than {MAX_POLICY_BYTES} bytes"
        )
    data: bytes = item.data_stream.read()
    return data


def load_policy(
    repo: git.Repo, base: str, head: str, explicit: str | Path | None = None
) -> ReviewPolicy:
    """The policy judging base..head: an explicit file, else the base's, the head's, the shipped one.

    A head that changes the policy must still carry a valid one, even though the base's applies.
    """
    head_data = _policy_blob(repo.commit(head))
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise UsageProblem(f"policy file {path} does not exist")
        policy = parse_policy(path.read_bytes(), str(path))
    else:
        base_data = _policy_blob(repo.commit(base))
        if base_data is not None:
            policy = parse_policy(base_data, f"{POLICY_PATH}@{base[:12]}")
        elif head_data is not None:
            return parse_policy(head_data, f"{POLICY_PATH}@{head[:12]}")
        else:
            shipped = default_root() / POLICY_PATH
            return parse_policy(shipped.read_bytes(), str(shipped))
    if head_data is not None:
        parse_policy(head_data, POLICY_PATH)
    return policy


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
