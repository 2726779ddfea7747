"""The error hierarchy shared by the library and both commands.

Library code raises these with a sentence that says what to do; the command-line boundary turns
each into one line on stderr and its exit code.
"""


class TonsuranceError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class InvalidConfig(TonsuranceError):
    """The input (a config file, a commit, a plan) is invalid."""

    exit_code = 1


class UsageProblem(TonsuranceError):
    """The command was called wrongly (bad option value, unknown ref)."""

    exit_code = 2


class Unavailable(TonsuranceError):
    """A dependency (the database, a git remote) cannot be reached."""

    exit_code = 3
