"""GitHub webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`."""

from __future__ import annotations

import hashlib
import hmac
import os

SECRET_ENV = "SYNCD_WEBHOOK_SECRET"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB


def secret_from_env() -> bytes | None:
    """The shared secret, or None when webhooks are disabled (variable unset or empty)."""
    value = os.environ.get(SECRET_ENV, "")
    return value.encode() if value else None


def sign(secret: bytes, body: bytes) -> str:
    """The header value a sender computes for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant-time compare)."""
    if not header:
        return False
    given = header.strip().encode("latin-1", errors="replace")
    return hmac.compare_digest(sign(secret, body).encode(), given)
