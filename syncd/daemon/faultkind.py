"""The kinds of fault the daemon reports, and one fault as `/status` lists it.

The values are the names in `/status`'s `faults`, in the metrics' labels and in the log events
(`database_down`, `git_up`, ...), so they never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    DATABASE = "database"
    GIT = "git"
    DISK = "disk"
    DESCRIPTORS = "descriptors"
    APPLY = "apply"  # the database refused the apply itself
    BLOCKED = "blocked"  # an apply ran out of its lock wait
    INTERNAL = "internal"  # an unexpected exception in a cycle


# What the daemon depends on, as opposed to faults of the apply itself.
DEPENDENCIES = (FaultKind.DATABASE, FaultKind.GIT, FaultKind.DISK, FaultKind.DESCRIPTORS)


@dataclass(frozen=True)
class Fault:
    """A fault in progress: its last error (scrubbed) and when it began (ISO 8601, UTC)."""

    error: str
    since: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"error": self.error, "since": self.since}
