"""The operator's SSH allowed-signers file (git's `gpg.ssh.allowedSignersFile` format).

git asks ssh-keygen to judge a key's `valid-after`/`valid-before` window at the commit's own
committer date, which whoever signs the commit writes: a key past its `valid-before` could sign
a commit dated before it and still verify. syncd judges the window again at the time it checks.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from syncd.errors import UsageProblem

SSH_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}
_OPTION = re.compile(r'([A-Za-z-]+)(?:="([^"]*)")?(?:,|$)')
_STAMP = re.compile(r"^(\d{8})(\d{4})?(\d{2})?(Z?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One line: who the key speaks for, its options, and the key's SHA256 fingerprint."""

    principals: tuple[str, ...]
    options: dict[str, str]
    fingerprint: str


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse(data: bytes, path: Path) -> list[Entry]:
    """Every key line; UsageProblem (file:line) for one that ssh-keygen would not read."""
    try:
        lines = data.decode().splitlines()
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None
    entries = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        types = [i for i, word in enumerate(fields) if word in SSH_KEY_TYPES]
        if not types or types[0] == 0 or types[0] + 1 >= len(fields):
            raise UsageProblem(
                f"{path}:{number}: expected `principals [options] key-type base64-key`"
            )
        if types[0] > 2:
            raise UsageProblem(
                f"{path}:{number}: the options must be one field, separated by commas"
                ' without spaces (valid-before="20270101",namespaces="git")'
            )
        try:
            blob = base64.b64decode(fields[types[0] + 1], validate=True)
        except binascii.Error:
            raise UsageProblem(f"{path}:{number}: the key is not valid base64") from None
        options = (
            {m.group(1).lower(): m.group(2) or "" for m in _OPTION.finditer(fields[1])}
            if types[0] == 2
            else {}
        )
        for name in ("valid-before", "valid-after"):
            if name in options and _instant(options[name]) is None:
                raise UsageProblem(
                    f"{path}:{number}: {name}={options[name]!r} is not YYYYMMDD[HHMM[SS]][Z]"
                )
        entries.append(Entry(tuple(fields[0].split(",")), options, _fingerprint(blob)))
    return entries


def _instant(stamp: str) -> float | None:
    """A timestamp as ssh-keygen reads it: local time unless it ends in Z."""
    found = _STAMP.match(stamp)
    if found is None:
        return None
    day, hours, seconds, zulu = found.groups()
    text = day + (hours or "0000") + (seconds or "00")
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if zulu:
        return moment.replace(tzinfo=UTC).timestamp()
    return time.mktime(moment.timetuple())


def outside_window(
    entries: list[Entry], principal: str, fingerprint: str, now: float | None = None
) -> str | None:
    """Why the key may not sign now, or None: every line naming it with `principal` has a
    `valid-after`/`valid-before` window that excludes `now` (None also when no line names it)."""
    now = time.time() if now is None else now
    lines = [
        entry
        for entry in entries
        if entry.fingerprint == fingerprint
        and any(fnmatch.fnmatchcase(principal, pattern) for pattern in entry.principals)
    ]
    reasons = []
    for entry in lines:
        after = (
            _instant(entry.options.get("valid-after", ""))
            if "valid-after" in entry.options
            else None
        )
        before = (
            _instant(entry.options.get("valid-before", ""))
            if "valid-before" in entry.options
            else None
        )
        if after is not None and now < after:
            reasons.append(f"valid only after {entry.options['valid-after']}")
        elif before is not None and now >= before:
            reasons.append(f"valid only before {entry.options['valid-before']}")
        else:
            return None
    return f"the allowed signers file says key {fingerprint} is {reasons[0]}" if reasons else None
