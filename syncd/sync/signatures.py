"""Commit signatures, checked by git against keys the operator gives: SSH and OpenPGP.

The trusted keys live outside the branch being verified: an SSH allowed-signers file (the
`gpg.ssh.allowedSignersFile` format) and/or an OpenPGP keyring (`gpg --export` of the trusted
public keys). git does the cryptography (`%G?`, `%GS`, `%GK`, `git verify-commit`); this module
decides what counts: only a good signature by a key of those files.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from syncd.errors import UsageProblem
from syncd.sync import allowed_signers
from syncd.sync.keyfiles import CHECK_TIMEOUT_SECONDS, private_home, read_key_file, remove_home

EMAIL = re.compile(r"<([^<>]+)>")
OPENPGP_HEADER = re.compile(r"^gpgsig(?:-sha256)? -----BEGIN PGP SIGNATURE-----$", re.MULTILINE)


class Verdict(StrEnum):
    """What the signature of one commit proves."""

    GOOD = "good"
    UNSIGNED = "unsigned"
    UNTRUSTED = "untrusted"
    BAD = "bad"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True)
class Signature:
    """The verdict on one commit's signature, with the signer when git could name one."""

    commit: str
    verdict: Verdict
    principal: str = ""
    fingerprint: str = ""
    detail: str = ""

    @property
    def good(self) -> bool:
        return self.verdict is Verdict.GOOD

    def describe(self) -> str:
        """One sentence for logs and refusals."""
        short = self.commit[:12]
        if self.good:
            return f"{short} is signed by {self.principal} ({self.fingerprint})"
        reason = {
            Verdict.UNSIGNED: "carries no signature",
            Verdict.UNTRUSTED: "is signed by a key that is not trusted",
            Verdict.BAD: "has a signature that does not match its content",
            Verdict.EXPIRED: "is signed by an expired key or with an expired signature",
            Verdict.REVOKED: "is signed by a revoked key",
            Verdict.UNVERIFIABLE: "has a signature that could not be checked",
        }[self.verdict]
        key = f" (key {self.fingerprint})" if self.fingerprint else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{short} {reason}{key}{detail}"


def check_allowed_signers(path: Path) -> list[allowed_signers.Entry]:
    """The file's keys; UsageProblem when it does not exist, has a line that does not parse, or
    names no key (read mid-rewrite, it would make every signature look untrusted)."""
    entries = allowed_signers.parse(read_key_file(path, "allowed signers file"), path)
    if not entries:
        raise UsageProblem(f"allowed signers file {path} names no key")
    return entries


@dataclass
class TrustedKeys:
    """The keys the operator trusts; at least one of the two files."""

    allowed_signers: Path | None = None
    gpg_keyring: Path | None = None
    _gnupg_home: Path | None = field(default=None, init=False, repr=False)
    _imported: tuple[int, int, int] | None = field(default=None, init=False, repr=False)
    _at_exit: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        # git resolves a relative gpg.ssh.allowedSignersFile against the repository it runs in,
        # whose content an attacker may write: the files are the operator's, from here.
        if self.allowed_signers is not None:
            self.allowed_signers = Path(self.allowed_signers).absolute()
        if self.gpg_keyring is not None:
            self.gpg_keyring = Path(self.gpg_keyring).absolute()

    def refuse_inside(self, repository: Path) -> None:
        """Refuse a key file that lies inside `repository`'s working tree (found from any folder
        in it), whose content the keys verify."""
        try:
            found = _git(repository, "rev-parse", "--show-toplevel")
        except subprocess.TimeoutExpired:
            return
        if found.returncode != 0 or not found.stdout.strip():
            return  # a bare repository, or none: no checked-out content to fear
        top = Path(found.stdout.strip()).resolve()
        for option, path in (
            ("--allowed-signers", self.allowed_signers),
            ("--gpg-keyring", self.gpg_keyring),
        ):
            if path is not None and path.resolve().is_relative_to(top):
                raise UsageProblem(
                    f"{option} {path} lies inside the repository {repository}, whose content it"
                    " verifies: keep the trusted keys outside it"
                )

    def check(self) -> None:
        """Fail with one line when a file is missing or malformed, or a tool is not installed."""
        if self.allowed_signers is None and self.gpg_keyring is None:
            raise UsageProblem(
                "signature verification needs trusted keys: --allowed-signers FILE"
                " and/or --gpg-keyring FILE"
            )
        if self.allowed_signers is not None:
            check_allowed_signers(self.allowed_signers)
            if shutil.which("ssh-keygen") is None:
                raise UsageProblem("ssh-keygen is not installed; it checks SSH signatures")
        if self.gpg_keyring is not None:
            if not self.gpg_keyring.exists():
                raise UsageProblem(f"OpenPGP keyring {self.gpg_keyring} does not exist")
            read_key_file(self.gpg_keyring, "OpenPGP keyring")
            if shutil.which("gpg") is None:
                raise UsageProblem("gpg is not installed; it checks OpenPGP signatures")
            self._gnupg()  # imported and its identities checked now, not at the first commit

    def git_environment(self) -> tuple[list[str], dict[str, str]]:
        """The `-c` options and environment under which git checks signatures against these keys."""
        options = ["-c", f"gpg.ssh.allowedSignersFile={self.allowed_signers or os.devnull}"]
        env = {**os.environ, "GNUPGHOME": str(self._gnupg())}
        return options, env

    def _keyring_version(self) -> tuple[int, int, int] | None:
        """What changes when the keyring file is replaced or rewritten."""
        if self.gpg_keyring is None:
            return None
        try:
            info = os.stat(self.gpg_keyring)
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _gnupg(self) -> Path:
        """A private GnuPG home holding exactly the keyring's keys (empty without a keyring),
        imported again when the keyring file changes: a key removed from it stops counting
        without a restart, as a line removed from the allowed signers file does."""
        version = self._keyring_version()
        if self._gnupg_home is not None and version != self._imported:
            self.close()
        if self._gnupg_home is None:
            self._imported = version
            home = private_home(self.gpg_keyring)
            self._gnupg_home = home
            if not self._at_exit:
                atexit.register(self.close)
                self._at_exit = True
        return self._gnupg_home

    def close(self) -> None:
        """Remove the private GnuPG home and stop the gpg-agent that gpg started for it."""
        if self._gnupg_home is not None:
            remove_home(self._gnupg_home)
            self._gnupg_home = None


_STATUS = {
    "G": Verdict.GOOD,
    "U": Verdict.UNTRUSTED,
    "N": Verdict.UNSIGNED,
    "B": Verdict.BAD,
    "X": Verdict.EXPIRED,
    "Y": Verdict.EXPIRED,
    "R": Verdict.REVOKED,
    "E": Verdict.UNVERIFIABLE,
}


def _principal(signer: str) -> str:
    """The signer as a principal: an SSH principal as written, the e-mail of an OpenPGP UID."""
    found = EMAIL.search(signer)
    return found.group(1) if found else signer.strip()


def verify_commit(git_dir: str | os.PathLike[str], sha: str, keys: TrustedKeys) -> Signature:
    """The verdict on `sha`'s signature against `keys`.

    An OpenPGP signature of a key in the keyring counts although GnuPG calls its validity
    unknown (`U`): the keyring the operator gave is the trust decision.
    """
    try:
        if keys.allowed_signers is not None:
            # Missing, empty or half-written, git would call every SSH signature untrusted: a
            # refusal for good. It is a passing fault instead, and the head is checked again.
            check_allowed_signers(keys.allowed_signers)
        options, env = keys.git_environment()
    except UsageProblem as exc:  # a key file was rewritten into one that does not read
        return Signature(sha, Verdict.UNVERIFIABLE, detail=str(exc))
    try:
        done = _git(
            git_dir, *options, "log", "-1", "--format=%G?%x00%GS%x00%GF%x00%GK", sha, "--", env=env
        )
    except subprocess.TimeoutExpired:
        return Signature(sha, Verdict.UNVERIFIABLE, detail="the check timed out")
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["git log failed"])[0]
        return Signature(sha, Verdict.UNVERIFIABLE, detail=first)
    status, signer, fingerprint, key = (done.stdout.strip("\n").split("\x00") + ["", "", ""])[:4]
    verdict = _STATUS.get(status, Verdict.UNVERIFIABLE)
    fingerprint = fingerprint or key
    if (
        verdict is Verdict.UNTRUSTED
        and signer
        and keys.gpg_keyring is not None
        and _is_openpgp(git_dir, sha)
    ):
        verdict = Verdict.GOOD
    if verdict is Verdict.GOOD:
        return _in_window(Signature(sha, verdict, _principal(signer), fingerprint), keys)
    detail = _detail(git_dir, sha, options, env)
    if verdict is Verdict.UNVERIFIABLE and "No public key" in detail:
        verdict = Verdict.UNTRUSTED
    if verdict is Verdict.UNTRUSTED and "expired" in detail:
        verdict = Verdict.EXPIRED
    return Signature(sha, verdict, _principal(signer), fingerprint, detail)


def _in_window(signature: Signature, keys: TrustedKeys) -> Signature:
    """A good SSH signature whose key the allowed signers file does not let sign now is expired
    (git judged the window at the commit's own date, which the signer wrote)."""
    path = keys.allowed_signers
    if path is None or not signature.fingerprint.startswith("SHA256:"):
        return signature
    try:
        entries = check_allowed_signers(path)
    except UsageProblem as exc:
        return Signature(signature.commit, Verdict.UNVERIFIABLE, detail=str(exc))
    why = allowed_signers.outside_window(entries, signature.principal, signature.fingerprint)
    if why is None:
        return signature
    return Signature(
        signature.commit, Verdict.EXPIRED, signature.principal, signature.fingerprint, why
    )


def _git(
    git_dir: str | os.PathLike[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """git in `git_dir`, bounded in time: a hung gpg or ssh-keygen must not hang the daemon."""
    return subprocess.run(
        ["git", "-C", str(git_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=CHECK_TIMEOUT_SECONDS,
    )


def _is_openpgp(git_dir: str | os.PathLike[str], sha: str) -> bool:
    """Whether the commit's signature header (not its message) holds an OpenPGP signature."""
    try:
        done = _git(git_dir, "cat-file", "commit", sha)
    except subprocess.TimeoutExpired:
        return False
    header = done.stdout.partition("\n\n")[0]
    return OPENPGP_HEADER.search(header) is not None


TELLING = re.compile(
    r"expired|revoked|no principal matched|no public key|could not verify|cannot run|bad signature",
    re.IGNORECASE,
)


def _detail(
    git_dir: str | os.PathLike[str], sha: str, options: list[str], env: dict[str, str]
) -> str:
    """git's (or gpg's, or ssh-keygen's) line that says why a signature does not count."""
    try:
        done = _git(git_dir, *options, "verify-commit", sha, env=env)
    except subprocess.TimeoutExpired:
        return "the check timed out"
    for line in done.stderr.splitlines():
        if TELLING.search(line):
            return " ".join(line.split()).removeprefix("error: ")
    return ""
