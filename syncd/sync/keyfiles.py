"""The operator's trusted-key files, read safely, and the private GnuPG home built from a keyring.

A key file must be a regular file of sane size (a FIFO would block a read forever). The GnuPG
home holds exactly the keyring's keys, each checked to name one owner (`syncd.sync.keyring`),
and starts no gpg-agent: checking signatures needs none, one would outlive the command, and it
fails to start when the home's path is too long for its socket.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from syncd.errors import UsageProblem
from syncd.sync.keyring import check_identities, key_identities

MAX_KEY_FILE_BYTES = 4 * 1024 * 1024
CHECK_TIMEOUT_SECONDS = 30.0


def read_key_file(path: Path, what: str) -> bytes:
    """The bytes of a trusted-key file, refused unless it is a regular file of sane size.

    Opened without blocking and checked on the open descriptor, so a FIFO (whose read would
    never return) or a file swapped in between a check and the read is refused, not waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageProblem(f"{what} {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageProblem(f"{what} {path} is not a regular file")
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise UsageProblem(f"{what} {path} is larger than {MAX_KEY_FILE_BYTES} bytes")
        return handle.read(MAX_KEY_FILE_BYTES + 1)


def private_home(keyring: Path | None) -> Path:
    """A new private GnuPG home holding the keyring's keys (empty without one); UsageProblem
    (one line) when the keyring does not import or its keys do not each name one owner."""
    home = Path(tempfile.mkdtemp(prefix="syncd-gnupg-"))
    home.chmod(0o700)
    (home / "gpg.conf").write_text("no-autostart\n")
    if keyring is None:
        return home
    try:
        data = read_key_file(keyring, "OpenPGP keyring")
        done = subprocess.run(
            ["gpg", "--batch", "--quiet", "--homedir", str(home), "--import"],
            input=data,
            capture_output=True,
            check=False,
            timeout=CHECK_TIMEOUT_SECONDS,
        )
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()
            first = (stderr.splitlines() or ["gpg failed"])[0]
            raise UsageProblem(f"OpenPGP keyring {keyring}: {first}")
        check_identities(key_identities(home, CHECK_TIMEOUT_SECONDS), keyring)
    except (UsageProblem, subprocess.TimeoutExpired) as exc:
        remove_home(home)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise UsageProblem(f"OpenPGP keyring {keyring}: gpg took too long") from None
        raise
    return home


def remove_home(home: Path) -> None:
    """Stop the home's gpg-agent (which would outlive the command), then delete the home."""
    if shutil.which("gpgconf") is not None:
        try:
            subprocess.run(
                ["gpgconf", "--homedir", str(home), "--kill", "all"],
                capture_output=True,
                check=False,
                timeout=CHECK_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            pass
    shutil.rmtree(home, ignore_errors=True)
