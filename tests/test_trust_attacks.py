"""Attacks on the chain of trust: overrides granted by one person in disguise, trusted-key files
that git would read from the wrong place, and key files that are not files."""

# ruff: noqa: F811  (the fixtures keys and signed_repo come from tests.test_trust)
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.sync.signatures import TrustedKeys, Verdict, verify_commit
from tests.support import ConfigRepo, git, stop_gpg_agents, syncd_cli
from tests.test_trust import (  # noqa: F401  (keys and signed_repo are fixtures)
    PRICING,
    SshKey,
    _gpg,
    allowed_signers,
    applied,
    apply,
    keys,
    provenance,
    signed_commit,
    signed_repo,
)


@pytest.fixture(autouse=True)
def _no_gpg_agent_left(tmp_path: Path) -> Iterator[None]:
    """Each test's GnuPG homes lose their gpg-agent when the test ends."""
    yield
    stop_gpg_agents(tmp_path)


def test_an_overrider_cannot_override_an_unsigned_change_that_claims_another_author(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """bob cannot push his own flagged change as an unsigned commit authored `alice` and grant it
    an override: who made an overridden commit must be proven by a signature, not typed."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    git(signed_repo.path, "add", "-A")
    git(
        signed_repo.path,
        "-c",
        "user.name=alice",
        "-c",
        "user.email=alice@tonsurance.test",
        "commit",
        "-q",
        "-m",
        "Reprice USDC to 10%",
    )
    signed_commit(signed_repo, keys["bob"], "Approve\n\nConfig-Override: looks fine", empty=True)
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "guardrail" in out and "no good signature" in out, out
    assert applied(db_dsn) == good


def test_an_override_counts_over_signed_commits_of_another_person(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """With every overridden commit signed by alice, bob's override still counts."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    signed_commit(signed_repo, keys["alice"], "Reprice USDC to 10%")
    signed_commit(signed_repo, keys["alice"], "Explain it", empty=True)
    head = signed_commit(signed_repo, keys["bob"], "Approve\n\nConfig-Override: RISK-7", empty=True)
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 0, out
    assert applied(db_dsn) == head
    *_, override_by, _reason, overridden = provenance(db_dsn, head) or ()
    assert override_by == "bob@tonsurance.test" and "alice@tonsurance.test" in list(
        overridden or []
    )


def test_a_relative_allowed_signers_path_is_read_from_the_working_directory(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--allowed-signers allowed` means the file in the operator's directory, not a file of the
    same name that git would find relative to the repository (whose content an attacker writes)."""
    operator = tmp_path / "operator"
    operator.mkdir()
    allowed_signers(operator / "allowed", keys["alice"])
    monkeypatch.chdir(operator)
    code, out = syncd_cli("verify", "--repo", str(signed_repo.path), "--allowed-signers", "allowed")
    assert code == 0 and "signed by alice@tonsurance.test" in out, out
    # A head signed by mallory, with mallory's key in an `allowed` file git could reach from the
    # repository, must still be refused.
    allowed_signers(signed_repo.path / "allowed", keys["mallory"])
    allowed_signers(signed_repo.path / ".git" / "allowed", keys["mallory"])
    signed_commit(signed_repo, keys["mallory"], "Mallory's", empty=True)
    code, out = syncd_cli("verify", "--repo", str(signed_repo.path), "--allowed-signers", "allowed")
    assert code == 1 and "not trusted" in out, out


@pytest.mark.parametrize("kind", ["directory", "fifo", "huge"])
def test_key_files_that_are_not_small_regular_files_are_one_line(
    kind: str,
    signed_repo: ConfigRepo,
    tmp_path: Path,
) -> None:
    """A key file that is a directory, a FIFO (which would block a read forever) or far too
    large is refused at start with one line naming it, for both kinds of key file."""
    for option in ("--allowed-signers", "--gpg-keyring"):
        bad = tmp_path / f"{kind}{option}"
        if kind == "directory":
            bad.mkdir()
        elif kind == "fifo":
            os.mkfifo(bad)
        else:
            with bad.open("wb") as out:
                out.truncate(64 * 1024 * 1024)
        code, out = syncd_cli("verify", "--repo", str(signed_repo.path), option, str(bad))
        assert code == 2, out
        # click refuses a directory itself, with its usage lines above the error line.
        line = out.strip().splitlines()[-1]
        assert str(bad) in line and ("directory" if kind == "directory" else "syncd: error") in line


def test_an_untrusted_ssh_signature_stays_untrusted_beside_a_keyring(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    tmp_path: Path,
) -> None:
    """A commit signed by an unknown SSH key whose message carries an OpenPGP armour line is not
    taken for an OpenPGP signature of the keyring."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    _gpg(home, "--quick-gen-key", "carol@tonsurance.test", "ed25519", "sign", "never")
    keyring = tmp_path / "trusted.gpg"
    keyring.write_text(_gpg(home, "--armor", "--export", "carol@tonsurance.test"))
    sha = signed_commit(
        signed_repo,
        keys["mallory"],
        "Mallory's\n\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----",
        empty=True,
    )
    trusted = TrustedKeys(allowed_signers(tmp_path / "allowed", keys["alice"]), keyring)
    try:
        assert verify_commit(signed_repo.path, sha, trusted).verdict is Verdict.UNTRUSTED
    finally:
        trusted.close()


def test_an_override_approves_nothing_pushed_after_it(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """bob's override of alice's small flagged change does not carry a larger change alice signs
    and pushes on top of it."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.06")
    signed_commit(signed_repo, keys["alice"], "Reprice USDC to 6%")
    signed_commit(signed_repo, keys["bob"], "Approve\n\nConfig-Override: RISK-8", empty=True)
    signed_repo.replace(PRICING, "USDC: 0.06", "USDC: 0.09")
    signed_commit(signed_repo, keys["alice"], "And a little more")
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "changed after it" in out, out
    assert applied(db_dsn) == good


def test_an_override_on_a_new_root_commit_is_not_standing_alone(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """A branch rewritten to one parentless commit, signed by bob with a flagged config/ and his
    own trailer, brings config/ in: it is not an override that changes nothing."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    git(signed_repo.path, "checkout", "-q", "--orphan", "rewritten")
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    git(signed_repo.path, "add", "-A")
    git(
        signed_repo.path,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={keys['bob'].private}",
        "-c",
        "user.email=bob@tonsurance.test",
        "commit",
        "-q",
        "-S",
        "-m",
        "Fresh start\n\nConfig-Override: mine alone",
    )
    signed_repo.push(force=True)
    code, out = apply(signed_repo, db_dsn, signers)
    assert code == 1 and "an override must stand alone" in out, out
    assert applied(db_dsn) == good


def _keyring(tmp_path: Path, *uids: list[str]) -> Path:
    """A keyring of one new key per list of user IDs (the first one primary)."""
    home = tmp_path / "maker"
    home.mkdir(mode=0o700, exist_ok=True)
    fingerprints = []
    for names in uids:
        _gpg(home, "--quick-gen-key", names[0], "ed25519", "sign", "never")
        listing = _gpg(home, "--with-colons", "--list-keys", names[0])
        fingerprint = [
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
        ][-1]
        for extra in names[1:]:
            _gpg(home, "--quick-add-uid", fingerprint, extra)
        fingerprints.append(fingerprint)
    keyring = tmp_path / "trusted.gpg"
    keyring.write_text(_gpg(home, "--armor", "--export", *fingerprints))
    return keyring


@pytest.mark.parametrize(
    ("uids", "message"),
    [
        ([["Carol <carol@tonsurance.test>", "Bob <bob@tonsurance.test>"]], "exactly one e-mail"),
        ([["bob@tonsurance.test"], ["Bob Again <Bob@tonsurance.test>"]], "named by two keys"),
    ],
)
def test_a_keyring_whose_keys_do_not_each_name_one_owner_is_refused(
    uids: list[list[str]], message: str, signed_repo: ConfigRepo, tmp_path: Path
) -> None:
    """A trusted OpenPGP key that also names another person's e-mail (its holder chose its user
    IDs, and could make an overrider's primary), or an e-mail two keys claim, stops the start."""
    keyring = _keyring(tmp_path, *uids)
    code, out = syncd_cli("verify", "--repo", str(signed_repo.path), "--gpg-keyring", str(keyring))
    assert code == 2, out
    (line,) = out.strip().splitlines()
    assert str(keyring) in line and message in line


def test_a_flagged_head_is_judged_when_the_applied_commit_is_gone_from_the_branch(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """After a force-push removed the applied commit, a fresh clone that never saw it cannot
    read the base policy: a flagged head is refused, not applied unjudged."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    signed_commit(signed_repo, keys["alice"], "A small step")
    assert apply(signed_repo, db_dsn, signers)[0] == 0
    good = signed_repo.head()
    git(signed_repo.path, "reset", "-q", "--hard", "HEAD~1")
    signed_repo.push(force=True)
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    signed_commit(signed_repo, keys["alice"], "Reprice USDC to 10% over a rewritten branch")
    git(signed_repo.remote, "gc", "-q", "--prune=now")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(signed_repo.remote), str(fresh))
    code, out = syncd_cli(
        "apply",
        "--repo",
        str(fresh),
        "--dsn",
        db_dsn,
        "--verify-signatures",
        "--allowed-signers",
        str(signers),
    )
    assert code != 0 and "unknown revision" in out, out
    assert applied(db_dsn) == good


def test_guardrails_judge_the_environment_the_database_serves(
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """On a production database the guardrails compare production with production: a small
    change passes, and a flagged production change that happens to equal dev's value is refused."""
    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    production = ("--environment", "production")
    assert apply(signed_repo, db_dsn, signers, *production)[0] == 0
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    small = signed_commit(signed_repo, keys["alice"], "A small step")
    code, out = apply(signed_repo, db_dsn, signers, *production)
    assert code == 0, out
    assert applied(db_dsn) == small
    signed_repo.replace(
        "config/risk.yaml", "monte_carlo_simulations: 10000", "monte_carlo_simulations: 1000"
    )
    signed_commit(signed_repo, keys["alice"], "Production runs as few paths as dev")
    code, out = apply(signed_repo, db_dsn, signers, *production)
    assert code == 1 and "guardrail: risk.monte_carlo_simulations" in out, out
    assert applied(db_dsn) == small


@pytest.mark.parametrize(
    ("window", "dated"),
    [
        ('valid-before="20200101Z"', "2019-06-01T00:00:00Z"),
        ('valid-after="20990101Z"', "2099-06-01T00:00:00Z"),
    ],
)
def test_a_key_outside_its_window_cannot_sign_by_dating_the_commit_inside_it(
    window: str,
    dated: str,
    signed_repo: ConfigRepo,
    keys: dict[str, SshKey],
    tmp_path: Path,
) -> None:
    """A key the allowed signers file lets sign only before 2020 (retired) or only after 2099
    does not verify today, although the commit it signed claims a date inside its window."""
    mallory = keys["mallory"]
    signers = tmp_path / "allowed"
    signers.write_text(f'{mallory.principal} {window},namespaces="git" {mallory.public_line}\n')
    git(
        signed_repo.path,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={mallory.private}",
        "commit",
        "-q",
        "-S",
        "--allow-empty",
        "-m",
        "Dated inside the window",
        env_extra={"GIT_COMMITTER_DATE": dated, "GIT_AUTHOR_DATE": dated},
    )
    trusted = TrustedKeys(signers)
    try:
        signature = verify_commit(signed_repo.path, signed_repo.head(), trusted)
    finally:
        trusted.close()
    assert signature.verdict is Verdict.EXPIRED, signature
    assert f"valid only {window.split('=')[0].removeprefix('valid-')}" in signature.describe()
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--allowed-signers", str(signers)
    )
    assert code == 1 and "expired" in out, out


def test_options_split_by_a_space_are_refused_at_start(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], tmp_path: Path
) -> None:
    """An allowed-signers line whose options are two fields (ssh-keygen reads it as an invalid
    key, so its key would never verify) is a one-line error naming the line."""
    signers = tmp_path / "allowed"
    line = f'{keys["alice"].principal} valid-after="20200101" namespaces="git" {keys["alice"].public_line}'
    signers.write_text(line + "\n")
    code, out = syncd_cli(
        "verify", "--repo", str(signed_repo.path), "--allowed-signers", str(signers)
    )
    assert code == 2, out
    (message,) = out.strip().splitlines()
    assert f"{signers}:1:" in message and "one field" in message


def test_an_apply_with_a_keyring_leaves_no_gnupg_home_nor_agent_behind(
    signed_repo: ConfigRepo, db_dsn: str, tmp_path: Path
) -> None:
    """Each `syncd apply --gpg-keyring` process removes its private GnuPG home and stops the
    gpg-agent started for it: run from cron, it must not pile up folders and processes."""
    keyring = _keyring(tmp_path, ["Carol <carol@tonsurance.test>"])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("syncd")),
            "apply",
            "--repo",
            str(signed_repo.path),
            "--dsn",
            db_dsn,
            "--verify-signatures",
            "--gpg-keyring",
            str(keyring),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1 and "not applied" in done.stderr, done.stderr
    assert list(scratch.iterdir()) == []
    agents = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(scratch) not in agents.stdout


def test_trusted_keys_inside_the_verified_repository_are_refused(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """An allowed-signers file kept in the checkout being verified (so whoever writes the
    branch writes the keys) stops apply, plan and verify with one line, applying nothing."""
    signers = allowed_signers(signed_repo.path / ".github" / "allowed_signers", keys["mallory"])
    signed_commit(signed_repo, keys["mallory"], "Mallory trusts herself", empty=True)
    runs = [
        ["apply", "--dsn", db_dsn, "--verify-signatures"],
        ["plan", "--base", "HEAD~1", "--head", "HEAD"],
        ["verify"],
    ]
    (signed_repo.path / "config" / "sub").mkdir()
    for args, where in zip(
        runs, [signed_repo.path, signed_repo.path / "config" / "sub", signed_repo.path], strict=True
    ):
        code, out = syncd_cli(*args, "--repo", str(where), "--allowed-signers", str(signers))
        assert code == 2, (args, out)
        (line,) = out.strip().splitlines()
        assert "inside the repository" in line and str(signers) in line
    assert applied(db_dsn) in ("", "None")


def test_a_key_removed_from_the_keyring_stops_counting_without_a_restart(
    signed_repo: ConfigRepo, tmp_path: Path
) -> None:
    """A long-lived verifier (the daemon's) takes a rewritten keyring on its next check: a key
    taken out no longer verifies, as a line taken out of the allowed signers file."""
    home = tmp_path / "carol"
    home.mkdir(mode=0o700)
    _gpg(home, "--quick-gen-key", "Carol <carol@tonsurance.test>", "ed25519", "sign", "never")
    _gpg(home, "--quick-gen-key", "Dave <dave@tonsurance.test>", "ed25519", "sign", "never")
    git(
        signed_repo.path,
        "-c",
        "user.signingkey=carol@tonsurance.test",
        "commit",
        "-q",
        "-S",
        "--allow-empty",
        "-m",
        "Carol's",
        env_extra={"GNUPGHOME": str(home)},
    )
    sha = signed_repo.head()
    keyring = tmp_path / "trusted.gpg"
    keyring.write_text(
        _gpg(home, "--armor", "--export", "carol@tonsurance.test", "dave@tonsurance.test")
    )
    trusted = TrustedKeys(gpg_keyring=keyring)
    try:
        trusted.check()
        assert verify_commit(signed_repo.path, sha, trusted).good
        keyring.write_text(_gpg(home, "--armor", "--export", "dave@tonsurance.test"))
        assert verify_commit(signed_repo.path, sha, trusted).verdict is Verdict.UNTRUSTED
        keyring.write_text("not a keyring")
        assert verify_commit(signed_repo.path, sha, trusted).verdict is Verdict.UNVERIFIABLE
    finally:
        trusted.close()


def test_a_key_file_caught_mid_rewrite_is_a_passing_fault_not_a_refusal(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """A long-lived gate (the daemon's) that meets its allowed signers file empty (a rewrite in
    progress) raises a git fault and records nothing; once the file is back, the same signed
    head is applied, not left refused for good."""
    from syncd.errors import GitUnavailable
    from syncd.review.gate import TrustGate
    from syncd.sync.outcomes import Outcome
    from syncd.sync.pipeline import apply_commit

    signers = allowed_signers(tmp_path / "allowed", keys["alice"])
    trusted = TrustedKeys(signers)
    trusted.check()
    gate = TrustGate(trusted, verify_signatures=True)
    assert apply_commit(signed_repo.path, dsn=db_dsn, gate=gate).outcome is Outcome.APPLIED
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.041")
    head = signed_commit(signed_repo, keys["alice"], "A small step")
    signers.write_text("")
    with pytest.raises(GitUnavailable):
        apply_commit(signed_repo.path, dsn=db_dsn, gate=gate)
    _, out = syncd_cli("status", "--dsn", db_dsn)
    assert "refused" not in out, out
    allowed_signers(signers, keys["alice"])
    assert apply_commit(signed_repo.path, dsn=db_dsn, gate=gate).outcome is Outcome.APPLIED
    assert applied(db_dsn) == head


def test_an_override_checked_while_the_keys_are_mid_rewrite_is_retried_not_refused(
    signed_repo: ConfigRepo, keys: dict[str, SshKey], db_dsn: str, tmp_path: Path
) -> None:
    """The override's signatures checked against an allowed signers file caught empty raise a
    git fault and record nothing; with the file back, the override counts and the change lands."""
    from syncd.errors import GitUnavailable
    from syncd.review.gate import TrustGate
    from syncd.sync.outcomes import Outcome
    from syncd.sync.pipeline import apply_commit

    signers = allowed_signers(tmp_path / "allowed", keys["alice"], keys["bob"])
    trusted = TrustedKeys(signers)
    trusted.check()
    gate = TrustGate(trusted, guardrails=True)
    assert apply_commit(signed_repo.path, dsn=db_dsn, gate=gate).outcome is Outcome.APPLIED
    signed_repo.replace(PRICING, "USDC: 0.04", "USDC: 0.10")
    signed_commit(signed_repo, keys["alice"], "Reprice USDC to 10%")
    head = signed_commit(signed_repo, keys["bob"], "Approve\n\nConfig-Override: RISK-9", empty=True)
    signers.write_text("")
    with pytest.raises(GitUnavailable):
        apply_commit(signed_repo.path, dsn=db_dsn, gate=gate)
    _, out = syncd_cli("status", "--dsn", db_dsn)
    assert "refused" not in out, out
    allowed_signers(signers, keys["alice"], keys["bob"])
    assert apply_commit(signed_repo.path, dsn=db_dsn, gate=gate).outcome is Outcome.APPLIED
    assert applied(db_dsn) == head
