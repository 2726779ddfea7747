"""The named states of one apply: what it did, and how its commit relates to the applied one."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What one apply did; the values are the words of logs, status, metrics and JSON."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    SUPERSEDED = "superseded"
    STANDBY = "standby"
    DRY_RUN = "dry-run"


class Lineage(StrEnum):
    """How a commit relates to the applied commit in the history of the branch."""

    FIRST = "first"
    SAME = "same"
    FORWARD = "forward"
    BACKWARD = "backward"
    REWRITTEN = "rewritten"


class Refusal(StrEnum):
    """Why a head was refused; the values are the `reason` labels of the metrics."""

    INVALID = "invalid_commit"
    SIGNATURE = "signature"
    GUARDRAIL = "guardrail"
    ENVIRONMENT = "environment"
