"""The review policy (`.github/config-policy.yaml`, schema `schemas/policy.schema.json`): the
guardrail rules, per environment, the overriders, and the reference figures of the impact.

It is read with the same strict YAML reader and JSON Schema checker as config/, and taken from
the base commit of a change, so a pull request cannot loosen the checks that judge it; a base
without one falls back to the head commit, then to the policy shipped with the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from syncd.review.overrides import (
    OverridePolicy,
)
from tonsurance.config.layout import default_root
from tonsurance.config.schemacheck import SchemaUnusable, check_document, compile_schema
from tonsurance.config.yamlread import YamlProblem, read_yaml
from tonsurance.errors import InvalidConfig, UsageProblem
from tonsurance.risk import Policy as VaultPolicy
from tonsurance.risk import VaultSnapshot

POLICY_PATH = ".github/config-policy.yaml"
POLICY_SCHEMA_PATH = "schemas/policy.schema.json"
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
