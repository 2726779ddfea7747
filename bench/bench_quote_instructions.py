"""The quote throughput ratio counted in CPU instructions, which other load cannot disturb.

    .venv/bin/python bench/bench_quote_instructions.py [--quotes 20000]

Runs this file under `valgrind --tool=callgrind` three times: with no quotes (start-up and
set-up only), with N quotes priced from module constants (bench_quote.constants_premium, the
same function compiled with the values as constants), and with N quotes priced by
calculate_premium from a Snapshot built by the loader's own code path. Instructions per quote are
the difference to the empty run; the ratio constants / live is the throughput of live
configuration relative to constants.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def work(mode: str, quotes: int) -> None:
    sys.path.insert(0, str(HERE))
    import bench_quote as quotes_bench

    from tonsurance.config.layout import default_root
    from tonsurance.config.snapshot import snapshot_from_state
    from tonsurance.config.sources import read_directory
    from tonsurance.config.validation import validate_sources
    from tonsurance.pricing import calculate_premium

    state = validate_sources(read_directory(default_root())).state
    assert state is not None
    snap = snapshot_from_state(state)
    inputs = quotes_bench.INPUTS * (quotes // len(quotes_bench.INPUTS))
    if mode == "constants":
        for a, c, d, t, u in inputs:
            quotes_bench.constants_premium(a, c, d, t, utilization=u)
    elif mode == "live":
        for a, c, d, t, u in inputs:
            calculate_premium(snap, a, c, d, t, utilization=u)


def instructions(mode: str, quotes: int) -> int:
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--work",
            mode,
            "--quotes",
            str(quotes),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if not found:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quotes", type=int, default=20_000)
    parser.add_argument("--work", choices=["none", "constants", "live"])
    args = parser.parse_args()
    if args.work:
        work(args.work, args.quotes)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    empty = instructions("none", args.quotes)
    constants = (instructions("constants", args.quotes) - empty) / args.quotes
    live = (instructions("live", args.quotes) - empty) / args.quotes
    print(f"{'pricing':12} {'instructions per quote':>24}")
    print(f"{'constants':12} {constants:24,.0f}")
    print(f"{'live':12} {live:24,.0f}")
    print(f"live throughput / constants throughput = {constants / live:.3f} (target >= 0.97)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
