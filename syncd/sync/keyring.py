"""Who an OpenPGP key of the trusted keyring speaks for: one e-mail per key, one key per e-mail.

An OpenPGP signature names its signer by the key's primary user ID, which the key's holder
chose, not the operator: a trusted key could carry an overrider's e-mail beside its own and make
it primary. So each key in the keyring must name exactly one e-mail (the operator exports a key
with only its owner's: `gpg --export-filter keep-uid="mbox = a@x" --export KEY`), and no e-mail
may belong to two keys. An SSH principal, by contrast, is written by the operator.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from syncd.errors import UsageProblem

EMAIL = re.compile(r"<([^<>]+)>")


def _email(uid: str) -> str:
    found = EMAIL.search(uid)
    return (found.group(1) if found else uid).strip().casefold()


def key_identities(home: Path, timeout: float) -> dict[str, set[str]]:
    """For each usable key in the GnuPG home (not revoked, not expired: those sign nothing that
    counts), the e-mails of its user IDs that are not revoked."""
    done = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-keys"],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    keys: dict[str, set[str]] = {}
    current: str | None = None
    expect_fingerprint = usable = False
    for line in done.stdout.splitlines():
        fields = line.split(":")
        kind = fields[0]
        if kind == "pub":
            current, expect_fingerprint, usable = None, True, fields[1] not in ("r", "e")
        elif kind == "fpr" and expect_fingerprint:
            expect_fingerprint = False
            if usable:
                current = fields[9]
                keys[current] = set()
        elif kind == "sub":
            expect_fingerprint = False
        elif kind == "uid" and current is not None and fields[1] != "r":
            keys[current].add(_email(fields[9].replace("\\x3a", ":")))
    return keys


def check_identities(keys: dict[str, set[str]], source: Path) -> None:
    """Refuse a keyring whose keys do not each name one e-mail of their own."""
    owners: dict[str, str] = {}
    for fingerprint, emails in sorted(keys.items()):
        if len(emails) != 1:
            named = ", ".join(sorted(emails)) or "no e-mail"
            raise UsageProblem(
                f"OpenPGP keyring {source}: key {fingerprint} names {named}; a trusted key must"
                " name exactly one e-mail, its owner's (export it with gpg --export-filter"
                ' keep-uid="mbox = OWNER")'
            )
        (email,) = emails
        if email in owners:
            raise UsageProblem(
                f"OpenPGP keyring {source}: {email} is named by two keys, {owners[email]} and"
                f" {fingerprint}; keep only its owner's"
            )
        owners[email] = fingerprint
