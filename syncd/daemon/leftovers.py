"""What a killed or failed git process leaves in the mirror, found and removed.

git takes a lock by creating `<file>.lock` and releases it by renaming or deleting it; a fetch
killed by the fetch timeout, by SIGKILL or by a full disk leaves the lock behind, and every
later fetch then fails with "File exists". It also leaves temporary object files
(`tmp_pack_*`, `tmp_obj_*`, empty on a full disk), and a mirror being created leaves a
`.new-<mirror>-*` folder beside it. The daemon runs every git command on its mirror itself,
one at a time, while it holds the mirror's own lock (`<mirror>.git.lock`, flock): so when it is
about to run one, any of these files is stale and is removed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

# Lock files git takes at the top of a bare repository.
_TOP_LOCKS = ("*.lock",)
# Temporary files of object writes: loose objects, packs and their indexes, quarantines.
_OBJECT_TEMPS = (
    "objects/pack/tmp_*",
    "objects/pack/.tmp-*",
    "objects/tmp_*",
    "objects/??/tmp_obj_*",
    "objects/incoming-*",
    "objects/tmp_objdir-*",
)


def new_prefix(mirror: Path) -> str:
    """The name prefix of the folders a mirror is made in before it is put in place."""
    return f".new-{mirror.name}-"


def stale_files(mirror: Path) -> Iterator[Path]:
    """The stale lock and temporary files in `mirror` and half-made mirrors beside it."""
    if mirror.is_dir():
        for pattern in _TOP_LOCKS:
            yield from mirror.glob(pattern)
        for folder in ("refs", "logs"):
            if (mirror / folder).is_dir():
                yield from (mirror / folder).rglob("*.lock")
        for pattern in _OBJECT_TEMPS:
            yield from mirror.glob(pattern)
    if mirror.parent.is_dir():
        yield from mirror.parent.glob(f"{new_prefix(mirror)}*")


def remove_stale_files(mirror: Path) -> list[str]:
    """Remove what `stale_files` finds; the removed paths, relative to the mirrors folder."""
    removed = []
    for path in sorted(set(stale_files(mirror))):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if not path.exists():
            removed.append(str(path.relative_to(mirror.parent)))
    return removed
