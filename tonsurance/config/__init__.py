"""The configuration model shared by services and syncd: files, schemas, rules, rows, snapshots."""

from tonsurance.config.loader import ConfigLoader
from tonsurance.config.model import Snapshot

__all__ = ["ConfigLoader", "Snapshot"]
