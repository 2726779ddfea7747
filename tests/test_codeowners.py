"""CODEOWNERS for environments: a change reaching production needs the risk team, a change to
another environment's overlay alone needs the owners of that area."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def owners(path: str) -> set[str]:
    """The owners of `path`: the last matching line wins, as on GitHub (these patterns are
    anchored with a leading /, `*` stays within one folder, a trailing / covers a folder)."""
    found: set[str] = set()
    for line in (ROOT / ".github/CODEOWNERS").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *names = line.split()
        if pattern == "*":
            hit = True
        else:
            anchored = pattern.lstrip("/")
            if anchored.endswith("/"):
                parts = path.split("/")
                hit = any(
                    fnmatch.fnmatchcase("/".join(parts[:n]) + "/", anchored)
                    and anchored.count("/") == n
                    for n in range(1, len(parts))
                )
            else:
                hit = fnmatch.fnmatchcase(path, anchored) and anchored.count("/") == path.count("/")
        if hit:
            found = set(names)
    return found


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("config/pricing.yaml", {"@tonsurance/pricing", "@tonsurance/risk"}),
        ("config/environments/production.yaml", {"@tonsurance/risk"}),
        ("config/environments/production/pricing.yaml", {"@tonsurance/risk"}),
        ("config/environments/staging/pricing.yaml", {"@tonsurance/pricing"}),
        ("config/environments/staging/tranche.yaml", {"@tonsurance/treasury"}),
        ("config/environments/staging/risk.yaml", {"@tonsurance/risk"}),
        ("config/environments.yaml", {"@tonsurance/platform", "@tonsurance/risk"}),
    ],
)
def test_owners_of_environment_files(path: str, expected: set[str]) -> None:
    """Production's overlay and the base need the risk team; staging's pricing overlay only the
    pricing owners."""
    assert owners(path) == expected
