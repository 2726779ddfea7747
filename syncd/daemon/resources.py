"""The host's resources the daemon can run out of: disk space and file descriptors.

A full disk and a process out of descriptors are faults of their own (`disk`, `descriptors`),
told apart from git and the database by the error number (or, for git's own processes, by
the C library's message on stderr), so that the operator is sent to the right place.
"""

from __future__ import annotations

import errno
import resource
from enum import StrEnum


class Resource(StrEnum):
    DISK = "disk"
    DESCRIPTORS = "descriptors"


_BY_ERRNO = {
    errno.ENOSPC: Resource.DISK,
    errno.EDQUOT: Resource.DISK,
    errno.EMFILE: Resource.DESCRIPTORS,
    errno.ENFILE: Resource.DESCRIPTORS,
}
# strerror() of the numbers above, as git and libpq print them (LC_ALL=C for git).
_BY_TEXT = (
    ("No space left on device", Resource.DISK),
    ("Disk quota exceeded", Resource.DISK),
    ("Too many open files", Resource.DESCRIPTORS),  # EMFILE, and ENFILE's "... in system"
)


def resource_of_errno(number: int | None) -> Resource | None:
    return _BY_ERRNO.get(number) if number is not None else None


def resource_of_text(text: str) -> Resource | None:
    """The resource an error message says ran out, or None."""
    for needle, found in _BY_TEXT:
        if needle in text:
            return found
    return None


def raise_descriptor_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
