"""Wake the daemon when the branch ref of a local repository changes (inotify via watchfiles).

git updates a ref by writing `<ref>.lock` and renaming it over `<ref>`, or by rewriting
`packed-refs`; both folders are watched without recursion, so object writes cost nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from syncd.daemon.logs import event


class RefWatcher(threading.Thread):
    """Calls `on_change` (in this thread) when `refs/heads/<branch>` or `packed-refs` changes."""

    def __init__(
        self, git_dir: Path, branch: str, on_change: Callable[[], None], stop: threading.Event
    ) -> None:
        super().__init__(name="syncd-refwatch", daemon=True)
        self.ref_file = git_dir / "refs" / "heads" / branch
        self.packed = git_dir / "packed-refs"
        self.folders = sorted({str(self.ref_file.parent), str(git_dir)})
        self.on_change = on_change
        self.stop = stop
        self.ready = threading.Event()

    def _wanted(self, change: watchfiles.Change, path: str) -> bool:
        return path in (str(self.ref_file), str(self.packed))

    def run(self) -> None:
        missing = [folder for folder in self.folders if not Path(folder).is_dir()]
        if missing:
            event(
                "watch_off",
                f"not watching the branch ref: {missing[0]} does not exist; polling only",
                logging.WARNING,
            )
            self.ready.set()
            return
        try:
            changes = watchfiles.watch(
                *self.folders,
                watch_filter=self._wanted,
                recursive=False,
                debounce=200,
                step=20,
                stop_event=self.stop,
                rust_timeout=500,
                yield_on_timeout=True,
                raise_interrupt=False,
            )
            for batch in changes:
                self.ready.set()
                if batch:
                    self.on_change()
        except Exception as exc:  # the watch is a speed-up; polling carries on without it
            event(
                "watch_off",
                f"stopped watching the branch ref: {exc}; polling only",
                logging.WARNING,
            )
        finally:
            self.ready.set()
