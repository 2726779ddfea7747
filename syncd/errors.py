"""The errors syncd raises: the shared hierarchy plus the cases only the daemon has."""

from tonsurance.errors import InvalidConfig, TonsuranceError, Unavailable, UsageProblem

__all__ = [
    "Blocked",
    "GitUnavailable",
    "InvalidConfig",
    "MigrationRefused",
    "PlanRefused",
    "ResourceExhausted",
    "TonsuranceError",
    "Unavailable",
    "UsageProblem",
]


class GitUnavailable(Unavailable):
    """The git repository or its remote cannot be read."""


class PlanRefused(InvalidConfig):
    """A plan would do something that is not allowed without an explicit flag."""


class MigrationRefused(InvalidConfig):
    """The migrations on disk disagree with the ones the database has applied, or one failed."""


class ResourceExhausted(Unavailable):
    """The host ran out of something the daemon needs: disk space or file descriptors."""

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(message)
        self.resource = resource


class Blocked(Unavailable):
    """An apply waited longer than its lock timeout for a lock held by another session."""
