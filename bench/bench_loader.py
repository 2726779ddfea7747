"""The cost of one typed read: `get_float` against the smallest Python function doing one dict
lookup and against a raw subscript, all measured in this process (timeit, best of several repeats,
the empty loop's cost subtracted). The loader reads a fresh database filled by syncd; without a
reachable server it reads the file defaults, which costs the same per read.

    .venv/bin/python bench/bench_loader.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root, for tests.support
from tests import support as testing
from tonsurance.config import ConfigLoader

NUMBER = 1_000_000
REPEATS = 7
TARGET = 2.0

D: dict[tuple[str, str], float] = {}


def get(c: str, k: str, d: float) -> float:
    """The smallest Python function that does one lookup."""
    return D.get((c, k), d)


@contextmanager
def live_loader(**options: float | bool) -> Iterator[ConfigLoader]:
    """A started loader over a fresh database holding the shipped config, applied by syncd."""
    from syncd.sync.migrate import migrate
    from syncd.sync.pipeline import apply_commit

    with ExitStack() as stack:
        try:
            dsn = stack.enter_context(testing.fresh_database())
        except Exception as exc:
            print(f"no database ({' '.join(str(exc).split())[:80]}...); using the file defaults")
            dsn = f"postgresql://postgres@127.0.0.1:{testing.free_port()}/none?connect_timeout=1"
        else:
            migrate(dsn)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            repo = testing.make_config_repo(folder / "repo")
            apply_commit(repo.path, "HEAD", dsn)
        loader = ConfigLoader(dsn, **options).start()  # type: ignore[arg-type]
        stack.callback(loader.stop)
        yield loader


def best_ns(cases: list[tuple[str, str]], env: dict[str, object]) -> dict[str, float]:
    """Nanoseconds per execution of each statement: the best of REPEATS rounds of NUMBER each.

    The rounds interleave the statements, so a slow moment of the machine hits all of them alike,
    and the clock is this thread's CPU time, so other processes' turns on the CPU do not count.
    """
    timers = {name: timeit.Timer(stmt, globals=env, timer=time.thread_time) for name, stmt in cases}
    best = {name: float("inf") for name in timers}
    for _ in range(REPEATS):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(NUMBER) / NUMBER * 1e9)
    return best


def main() -> int:
    with live_loader(interval=60.0) as loader:
        snap = loader.snapshot
        D.update((k, float(v)) for k, v in snap.values.items() if isinstance(v, (int, float)))
        env: dict[str, object] = {
            "D": D,
            "get": get,
            "loader": loader,
            "snap": snap,
            "k": ("pricing", "base_rate_USDC"),
        }
        cases = [
            ("empty loop", "pass"),
            ("raw subscript D[k]", "D[k]"),
            ("smallest function get(c, k, d)", "get('pricing', 'base_rate_USDC', 0.0)"),
            ("loader.get_float (hit)", "loader.get_float('pricing', 'base_rate_USDC', 0.0)"),
            ("loader.get_int (hit)", "loader.get_int('pricing', 'duration_base_days', 0)"),
            ("loader.get_str (hit)", "loader.get_str('tranche', 'SURE-BTC_curve_type', '')"),
            ("loader.get_float (miss)", "loader.get_float('pricing', 'absent', 0.0)"),
            ("snap.pricing.base_rate['USDC']", "snap.pricing.base_rate['USDC']"),
            ("loader.snapshot", "loader.snapshot"),
        ]
        raw = best_ns(cases, env)
        stats = loader.stats()
    loop = raw["empty loop"]
    smallest = raw["smallest function get(c, k, d)"] - loop
    print(
        f"Python {sys.version.split()[0]}, psycopg {psycopg.__version__}, "
        f"source {stats['source']}, timeit best of {REPEATS} x {NUMBER:,} (thread CPU time), "
        f"loop {loop:.1f} ns subtracted"
    )
    print(f"{'read':34} {'ns/read':>8} {'x smallest fn':>14}")
    for name, _ in cases[1:]:
        net = raw[name] - loop
        print(f"{name:34} {net:8.1f} {net / smallest:14.2f}")
    ratio = (raw["loader.get_float (hit)"] - loop) / smallest
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"get_float / smallest function = {ratio:.2f} ({verdict} the target of <= {TARGET:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
