"""Screenshots of the web console for the README: the front page and a parameter's page.

    .venv/bin/python bench/console_screenshots.py [--out docs]

Builds a real history in a fresh database on the local server: the shipped configuration
applied from a git repository, two commits that move USDC's base rate, a hand edit that syncd
puts back; then starts `syncd run` on that repository and saves what headless Chromium shows of
its console (docs/console-front.png, docs/console-parameter.png).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from syncd.sync.migrate import migrate
from syncd.sync.pipeline import apply_commit
from tests.browser import chromium
from tests.support import ConfigRepo, free_port, fresh_database, make_config_repo

PRICING = "config/pricing.yaml"


def build_history(repo_parent: Path, dsn: str) -> ConfigRepo:
    """The commits and the hand edit the screenshots show."""
    repo = make_config_repo(repo_parent)
    apply_commit(repo.path, "HEAD", dsn)
    repo.change(PRICING, "USDC: 0.04", "USDC: 0.045", "Raise the USDC base rate after the audit")
    apply_commit(repo.path, "HEAD", dsn)
    with psycopg.connect(dsn) as conn:  # a hand edit, which the next apply puts back
        conn.execute(
            "update config_parameters set value = '0.05'"
            " where category = 'pricing' and key = 'base_rate_USDC'"
        )
    apply_commit(repo.path, "HEAD", dsn)
    repo.change(PRICING, "USDC: 0.045", "USDC: 0.042", "USDC: settle at 4.2% (quarterly review)")
    apply_commit(repo.path, "HEAD", dsn)
    return repo


def in_sync(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as answer:
            return bool(json.load(answer)["in_sync"])
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, fresh_database() as dsn:
        migrate(dsn)
        repo = build_history(Path(tmp) / "repo", dsn)
        port = free_port()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "syncd.cli.main", "run", "--repo", str(repo.remote)]
            + ["--dsn", dsn, "--listen", f"127.0.0.1:{port}", "--state-dir", f"{tmp}/state"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not in_sync(port):
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("syncd run did not come up in sync within 30 s")
                time.sleep(0.2)
            shoot(f"http://127.0.0.1:{port}", out)
        finally:
            daemon.terminate()
            daemon.wait(15)


def shoot(base: str, out: Path) -> None:
    """Save the front page and USDC's base-rate page of the console at `base`."""
    with chromium(1100, 900) as browser:
        for name, target in (
            ("console-front.png", "/ui/"),
            ("console-parameter.png", "/ui/parameter?category=pricing&key=base_rate_USDC"),
        ):
            browser.get(base + target)
            browser.save_screenshot(str(out / name))
            print(f"{out / name}: {(out / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
