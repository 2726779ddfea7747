"""The chain of trust: signed commits verified with real SSH and OpenPGP keys, guardrails judged
at apply, and overrides that need a second person."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from syncd.sync.signatures import TrustedKeys, Verdict, verify_commit
from tests.support import ConfigRepo, git, make_config_repo, stop_gpg_agents, syncd_cli


@pytest.fixture(autouse=True)
def _no_gpg_agent_left(tmp_path: Path) -> Iterator[None]:
    """Each test's GnuPG homes lose their gpg-agent when the test ends."""
    yield
    stop_gpg_agents(tmp_path)


PRICING = "config/pricing.yaml"
POLICY = ".github/config-policy.yaml"
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SshKey:
    principal: str
    private: Path

    @property
    def public_line(self) -> str:
        return self.private.with_suffix(".pub").read_text().strip()


def _ssh_key(folder: Path, name: str) -> SshKey:
    private = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(private)], check=True
    )
    return SshKey(f"{name}@tonsurance.test", private)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    folder = tmp_path_factory.mktemp("ssh-keys")
    return {name: _ssh_key(folder, name) for name in ("alice", "bob", "mallory")}


def allowed_signers(path: Path, *trusted: SshKey) -> Path:
    path.write_text(
        "".join(f'{key.principal} namespaces="git" {key.public_line}\n' for key in trusted)
    )
    return path


def signed_commit(
    repo: ConfigRepo, key: SshKey, message: str, *, author: str | None = None, empty: bool = False
) -> str:
    """Commit the working tree signed by `key`, as `author` (default: the key's own principal)."""
    name, email = (author or f"{key.principal.split('@')[0]} <{key.principal}>")[:-1].split(" <")
    git(repo.path, "add", "-A")
    git(
        repo.path,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key.private}",
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={email}",
        "commit",
        "-q",
        "-S",
        *(["--allow-empty"] if empty else []),
        "-m",
        message,
    )
    repo.push()
    return repo.head()


def apply(repo: ConfigRepo, dsn: str, signers: Path, *extra: str) -> tuple[int, str]:
    return syncd_cli(
        "apply",
        "--repo",
        str(repo.path),
        "--dsn",
        dsn,
        "--verify-signatures",
        "--allowed-signers",
        str(signers),
        *extra,
    )


def provenance(dsn: str, sha: str) -> tuple[object, ...] | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "select author, verification, signer, signer_key, override_by, override_reason,"
            " overridden_principals from commit_provenance where commit_sha = %s",
            (sha,),
        ).fetchone()


def applied(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("select applied_commit from sync_state").fetchone()
    return str(row[0]) if row else ""


@pytest.fixture
def signed_repo(tmp_path: Path, keys: dict[str, SshKey]) -> ConfigRepo:
    """A repository whose policy lists bob as an overrider, its head signed by alice."""
    repo = make_config_repo(tmp_path / "repo")
    policy = (ROOT / POLICY).read_text()
    policy += "\noverrides:\n  principals: [bob@tonsurance.test]\n  label: false\n"
    repo.write(POLICY, policy)
    signed_commit(repo, keys["alice"], "Add the review policy with its overriders")
    return repo


def test_trusted_head_is_applied_and_its_signer_recorded(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A head signed by a key of the allowed signers is applied; its provenance names the signer
    and key, and `syncd history` shows them."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    signed_commit(signed_repo, keys["alice"], "Raise USDC a little")
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 0, out
    author, verification, signer, key, *_ = provenance(db_dsn, signed_repo.head()) or ()
    assert (verification, signer) == ("verified", "alice@tonsurance.test")
    assert str(key).startswith("SHA256:") and "alice" in str(author)
    code, out = syncd_cli(
        "history", "pricing.base_rate_USDC", "--repo", str(signed_repo.path), "--dsn", db_dsn
    )
    assert code == 0 and "signed by alice@tonsurance.test (SHA256:" in out


@pytest.mark.parametrize("case", ["unsigned", "unknown key", "removed key"])
def test_untrusted_head_is_refused_and_the_next_good_one_applied(
    case: str, signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A head without a good signature by a trusted key changes nothing and is recorded as
    refused; the next trusted head is applied."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["mallory"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    if case == "unsigned":
        bad = signed_repo.commit("Unsigned change")
    elif case == "unknown key":
        bad = signed_commit(signed_repo, keys["bob"], "Signed by a key nobody trusts")
    else:
        bad = signed_commit(signed_repo, keys["mallory"], "Signed by a key that was removed")
        allowed_signers(signers, keys["alice"])
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "signature" in out and bad[:12] in out
    assert applied(db_dsn) == good
    code, out = syncd_cli("status", "--dsn", db_dsn)
    assert f"{bad} -> refused" in out
    signed_repo.replace(PRICING, "USDC: 0.041", "USDC: 0.042")
    after = signed_commit(signed_repo, keys["alice"], "A trusted change after it")
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    assert applied(db_dsn) == after


def test_forged_author_shows_the_real_signer(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A commit that claims another author but is signed by alice is recorded with alice as the
    signer beside the claimed author: the audit never names someone it cannot prove."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"])
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    sha = signed_commit(
        signed_repo, keys["alice"], "Looks like the CFO's", author="The CFO <cfo@tonsurance.test>"
    )
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    author, verification, signer, *_ = provenance(db_dsn, sha) or ()
    assert "cfo@tonsurance.test" in str(author)
    assert (verification, signer) == ("verified", "alice@tonsurance.test")


def test_unverified_apply_says_so(signed_repo: ConfigRepo, db_dsn: str) -> None:
    """Without --verify-signatures the provenance is `unverified` and names no signer."""
    code, out = syncd_cli("apply", "--repo", str(signed_repo.path), "--dsn", db_dsn)
    assert code == 0, out
    author, verification, signer, key, *_ = provenance(db_dsn, signed_repo.head()) or ()
    assert (verification, signer, key) == ("unverified", None, None)


def _flagged_change(repo: ConfigRepo, key: SshKey) -> str:
    repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    return signed_commit(repo, key, "Reprice USDC to 10%")


def test_guardrails_refuse_a_flagged_change_at_apply(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A signed change that moves a rate by more than the policy allows is refused at apply,
    with the finding, although nobody ran the pull-request check."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    _flagged_change(signed_repo, keys["alice"])
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "guardrail: pricing.base_rate_USDC" in out
    assert applied(db_dsn) == good


def test_self_signed_override_does_not_count(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """An overrider cannot override their own change: bob's trailer on bob's change is refused."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    _flagged_change(signed_repo, keys["bob"])
    signed_commit(signed_repo, keys["bob"], "Override\n\nConfig-Override: I say so", empty=True)
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "two people are needed" in out


def test_override_by_a_listed_overrider_counts_and_is_recorded(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """bob's signed, empty override commit lets alice's flagged change through; the provenance
    names the reason, bob and the principals he overrode."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    _flagged_change(signed_repo, keys["alice"])
    head = signed_commit(
        signed_repo,
        keys["bob"],
        "Approve the repricing\n\nConfig-Override: reserve audit RISK-42",
        empty=True,
    )
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 0, out
    *_, override_by, reason, overridden = provenance(db_dsn, head) or ()
    assert (override_by, reason) == ("bob@tonsurance.test", "reserve audit RISK-42")
    assert "alice@tonsurance.test" in list(overridden or [])


def test_override_by_someone_not_listed_does_not_count(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A trusted signer who is not an overrider in the base policy cannot grant an override."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["mallory"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    _flagged_change(signed_repo, keys["alice"])
    signed_commit(signed_repo, keys["mallory"], "Override\n\nConfig-Override: mine", empty=True)
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "not an overrider" in out


def test_tampered_commit_is_refused(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], tmp_path: Path
) -> None:
    """A commit object whose content was changed after signing does not verify."""
    raw = git(signed_repo.path, "cat-file", "commit", "HEAD")
    forged = raw.replace("Add the review policy", "Add a different policy")
    done = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=signed_repo.path,
        input=forged + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    trusted = TrustedKeys(allowed_signers(tmp_path / "allowed", keys["alice"]))
    signature = verify_commit(signed_repo.path, done.stdout.strip(), trusted)
    assert signature.verdict is Verdict.BAD


def test_syncd_verify_checks_one_commit(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], tmp_path: Path
) -> None:
    """`syncd verify` exits 0 on a trusted commit and 1, with one line, on an untrusted one."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"])
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--allowed-signers", str(signers)
    )
    assert code == 0 and "signed by alice@tonsurance.test" in out
    signed_commit(signed_repo, keys["mallory"], "Mallory's", empty=True)
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--allowed-signers", str(signers)
    )
    assert code == 1 and "not trusted" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("alice@tonsurance.test not-a-key-line\n", "expected `principals [options] key-type"),
        ("alice@tonsurance.test ssh-ed25519 !!!notbase64\n", "not valid base64"),
    ],
)
def test_allowed_signers_that_do_not_parse_are_one_line(
    content: str, message: str, signed_repo: ConfigRepo, tmp_path: Path
) -> None:
    """A malformed allowed-signers file is a one-line usage error naming the file and line."""
    bad = tmp_path / "allowed"
    bad.write_text("# trusted keys\n" + content)
    code, out = syncd_cli("verify", "--repo", str(signed_repo.path), "--allowed-signers", str(bad))
    assert code == 2
    (line,) = out.strip().splitlines()
    assert f"{bad}:2:" in line and message in line


def test_missing_keyring_and_missing_tools_are_one_line(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A keyring that does not exist, and an ssh-keygen that is not installed, each give one line."""
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--gpg-keyring", str(tmp_path / "nope.gpg")
    )
    assert code == 2 and "does not exist" in out and len(out.strip().splitlines()) == 1
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(str(shutil.which("git")), bin_dir / "git")
    monkeypatch.setenv("PATH", str(bin_dir))
    signers = allowed_signers(tmp_path / "allowed", keys["alice"])
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--allowed-signers", str(signers)
    )
    assert code == 2 and "ssh-keygen is not installed" in out


# -- OpenPGP ----------------------------------------------------------------------------------


def _gpg(home: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "gpg",
            "--batch",
            "--quiet",
            "--homedir",
            str(home),
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _gpg_commit(repo: ConfigRepo, home: Path, email: str, message: str) -> str:
    git(
        repo.path,
        "-c",
        f"user.signingkey={email}",
        "-c",
        f"user.email={email}",
        "commit",
        "-q",
        "-S",
        "--allow-empty",
        "-m",
        message,
        env_extra={"GNUPGHOME": str(home)},
    )
    return repo.head()


@pytest.fixture
def gnupg(tmp_path: Path) -> Path:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    return home


def test_openpgp_good_expired_and_revoked(
    signed_repo: ConfigRepo, gnupg: Path, tmp_path: Path
) -> None:
    """A commit signed by a key of the keyring is good; one signed by an expired key, by a
    revoked key or by a key outside the keyring is not."""
    expires_at = time.monotonic() + 3
    _gpg(gnupg, "--quick-gen-key", "Old <old@tonsurance.test>", "ed25519", "sign", "seconds=3")
    old = _gpg_commit(signed_repo, gnupg, "old@tonsurance.test", "Old's")
    for uid in ("Carol <carol@tonsurance.test>", "Rev <rev@tonsurance.test>"):
        _gpg(gnupg, "--quick-gen-key", uid, "ed25519", "sign", "1y")
    good = _gpg_commit(signed_repo, gnupg, "carol@tonsurance.test", "Carol's")
    revoked = _gpg_commit(signed_repo, gnupg, "rev@tonsurance.test", "Rev's")
    keyring = tmp_path / "trusted.gpg"
    fingerprint = _gpg(gnupg, "--with-colons", "--list-keys", "rev@tonsurance.test")
    fpr = next(line.split(":")[9] for line in fingerprint.splitlines() if line.startswith("fpr"))
    certificate = (gnupg / "openpgp-revocs.d" / f"{fpr}.rev").read_text()
    revocation = tmp_path / "revoke.asc"
    revocation.write_text(certificate.replace(":-----BEGIN", "-----BEGIN"))
    _gpg(gnupg, "--import", str(revocation))
    keyring.write_bytes(
        subprocess.run(
            [
                "gpg",
                "--homedir",
                str(gnupg),
                "--export",
                "carol@tonsurance.test",
                "old@tonsurance.test",
                "rev@tonsurance.test",
            ],
            capture_output=True,
            check=True,
        ).stdout
    )
    time.sleep(max(0.0, expires_at - time.monotonic()) + 1.5)
    trusted = TrustedKeys(gpg_keyring=keyring)
    trusted.check()
    try:
        verdicts = {
            sha: verify_commit(signed_repo.path, sha, trusted) for sha in (good, old, revoked)
        }
    finally:
        trusted.close()
    assert verdicts[good].good and verdicts[good].principal == "carol@tonsurance.test"
    assert verdicts[old].verdict is Verdict.EXPIRED
    assert verdicts[revoked].verdict is Verdict.REVOKED
    other = TrustedKeys(gpg_keyring=keyring)
    stranger = gnupg / "stranger"
    stranger.mkdir(mode=0o700)
    _gpg(stranger, "--quick-gen-key", "Eve <eve@tonsurance.test>", "ed25519", "sign", "1y")
    eve = _gpg_commit(signed_repo, stranger, "eve@tonsurance.test", "Eve's")
    try:
        assert verify_commit(signed_repo.path, eve, other).verdict is Verdict.UNTRUSTED
    finally:
        other.close()


def test_daemon_refuses_an_unsigned_head_once_and_applies_the_next_signed_one(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """`syncd run --verify-signatures`: an unsigned head is refused with the reason `signature`
    and stays refused on the next cycle; the next signed head is applied."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"])
    command = [
        sys.executable,
        "-m",
        "syncd.cli.main",
        "run",
        "--once",
        "--log-format",
        "json",
        "--repo",
        str(signed_repo.remote),
        "--dsn",
        db_dsn,
        "--state-dir",
        str(tmp_path / "state"),
        "--listen",
        "127.0.0.1:0",
    ]
    env = {**os.environ, "SYNCD_VERIFY_SIGNATURES": "1", "SYNCD_ALLOWED_SIGNERS": str(signers)}

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=90, env=env)

    assert once().returncode == 0
    good = signed_repo.head()
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    unsigned = signed_repo.commit("Unsigned")
    first = once()
    assert first.returncode == 1, first.stderr
    refused = [json.loads(line) for line in first.stderr.splitlines() if '"refused"' in line]
    assert refused and "signature" in refused[0]["reason"] and unsigned[:12] in refused[0]["reason"]
    second = once()
    assert '"refused"' not in second.stderr and applied(db_dsn) == good
    signed_repo.replace(PRICING, "USDC: 0.041", "USDC: 0.042")
    after = signed_commit(signed_repo, keys["alice"], "Signed")
    assert once().returncode == 0 and applied(db_dsn) == after
