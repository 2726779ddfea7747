"""The configuration model shared by services and syncd: files, schemas, rules, rows, snapshots.

`ConfigLoader` is imported on first use, so tools that only validate files (`syncd validate`,
the pre-commit hook) do not pay for the database driver.
"""

from typing import TYPE_CHECKING, Any

from tonsurance.config.model import Snapshot

if TYPE_CHECKING:
    from tonsurance.config.loader import ConfigLoader

__all__ = ["ConfigLoader", "Snapshot"]


def __getattr__(name: str) -> Any:
    if name == "ConfigLoader":
        from tonsurance.config.loader import ConfigLoader

        return ConfigLoader
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
