"""Running git for the mirror: no prompt, C messages, a timeout that kills the whole group."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from syncd.errors import GitUnavailable


def first_error(stderr: str) -> str:
    """git's own reason: the first `fatal:`/`error:` line, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1] if lines else ""


def git_env() -> dict[str, str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return env


def run_git(
    args: Sequence[str], cwd: Path, timeout: float | None, remote: str
) -> subprocess.CompletedProcess[str]:
    """Run `git args` in `cwd`; past `timeout` seconds, kill it and its children."""
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=git_env(),
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        if exc.filename == "git":
            raise GitUnavailable("git is not installed or not on PATH") from None
        raise
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise GitUnavailable(f"git {args[0]} from {remote} timed out after {timeout:g} s") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
