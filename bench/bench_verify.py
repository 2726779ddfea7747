"""What signature verification adds to an apply of the shipped configuration.

    .venv/bin/python bench/bench_verify.py [--rounds 15]

Makes a repository of the shipped configuration whose head is signed with a fresh SSH key, then,
in alternating rounds on fresh databases, applies that head with `syncd apply` as a library call
without verification and with `--verify-signatures` (TrustGate); reports the medians and the
difference. Needs PostgreSQL (TONSURANCE_TEST_ADMIN_DSN, else 127.0.0.1:5432) and ssh-keygen.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root, for tests.support

from syncd.review.gate import TrustGate  # noqa: E402
from syncd.sync.pipeline import apply_commit  # noqa: E402
from syncd.sync.signatures import TrustedKeys, verify_commit  # noqa: E402
from tests.support import fresh_database, git, make_config_repo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = folder / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        signers = folder / "allowed"
        signers.write_text(
            f'bench@tonsurance.test namespaces="git" {key.with_suffix(".pub").read_text()}'
        )
        repo = make_config_repo(folder / "repo")
        git(
            repo.path,
            "-c",
            "gpg.format=ssh",
            "-c",
            f"user.signingkey={key}",
            "commit",
            "-q",
            "--allow-empty",
            "-S",
            "-m",
            "Signed head",
        )
        keys = TrustedKeys(signers)
        keys.check()
        gate = TrustGate(keys, verify_signatures=True)
        plain: list[float] = []
        verified: list[float] = []
        checks: list[float] = []
        for _ in range(args.rounds):
            for samples, chosen in ((plain, None), (verified, gate)):
                with fresh_database() as dsn:
                    from syncd.sync.migrate import migrate

                    migrate(dsn)
                    start = time.perf_counter()
                    report = apply_commit(repo.path, "HEAD", dsn, gate=chosen)
                    samples.append(time.perf_counter() - start)
                    assert report.outcome == "applied", report.result.reason
            start = time.perf_counter()
            assert verify_commit(repo.path, repo.head(), keys).good
            checks.append(time.perf_counter() - start)
    p, v, c = (statistics.median(s) * 1000 for s in (plain, verified, checks))
    print(f"apply of the shipped configuration, median of {args.rounds} rounds on fresh databases:")
    print(f"  without verification  {p:8.1f} ms")
    print(f"  --verify-signatures   {v:8.1f} ms")
    print(f"  difference            {v - p:8.1f} ms   (target < 50 ms)")
    print(f"  verify_commit alone   {c:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
