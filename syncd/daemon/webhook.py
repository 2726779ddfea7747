"""GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.

The HTTP side checks that the header is there and well formed before it reads a byte of the
body, then feeds the body to the HMAC as it arrives, so a body is never held in memory whole.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

SECRET_ENV = "SYNCD_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Hub-Signature-256"
# GitHub does not deliver a payload larger than 25 MB; a push event is usually a few kB, but one
# touching thousands of files can reach megabytes. The body is hashed as it streams in, so the
# cap costs no memory: it only bounds how long one request can keep its connection busy.
MAX_BODY_BYTES = 25 * 1024 * 1024
_WELL_FORMED = re.compile(r"sha256=[0-9a-f]{64}")


def secret_from_env() -> bytes | None:
    """The shared secret, or None when webhooks are disabled (variable unset or empty)."""
    value = os.environ.get(SECRET_ENV, "")
    return value.encode() if value else None


def sign(secret: bytes, body: bytes) -> str:
    """The header value a sender computes for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def well_formed(header: str | None) -> bool:
    """Whether a signature header can be a valid one at all (checked before the body is read)."""
    return bool(header and _WELL_FORMED.fullmatch(header.strip()))


class BodySignature:
    """The HMAC of a body fed in pieces, compared at the end in constant time."""

    def __init__(self, secret: bytes) -> None:
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)

    def update(self, piece: bytes) -> None:
        self._mac.update(piece)

    def matches(self, header: str) -> bool:
        given = header.strip().encode("latin-1", errors="replace")
        return hmac.compare_digest(b"sha256=" + self._mac.hexdigest().encode(), given)


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant-time compare)."""
    if not header:
        return False
    check = BodySignature(secret)
    check.update(body)
    return check.matches(header)
