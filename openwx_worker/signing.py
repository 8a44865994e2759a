"""HMAC-SHA256 signatures on post_api requests (the optional `post_secret`).

When `post_secret` is set, every POST to post_api carries two headers:

    X-Openwx-Timestamp: 1764370000
    X-Openwx-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The signed message is the timestamp (decimal epoch seconds, as in the header), a dot,
then the raw request body bytes. A receiver verifies it like this (any language):

    expected = hmac_sha256(secret, timestamp + "." + body).hexdigest()
    ok = constant_time_equal("sha256=" + expected, signature_header)
         and abs(now - timestamp) <= 300      # refuse replays of old requests

or in Python with `verify_signature` below. Signing the timestamp with the body stops
an eavesdropper from replaying an old request later; a retried delivery is signed
again with a fresh timestamp (and carries the same `event_id`, so receivers can also
de-duplicate on it). The `X-Openwx-Event-Id` header repeats the item's event_id.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Openwx-Timestamp"
SIGNATURE_HEADER = "X-Openwx-Signature"
EVENT_ID_HEADER = "X-Openwx-Event-Id"
DEFAULT_MAX_SKEW = 300.0  # seconds a signed request stays acceptable


def _mac(secret: str | bytes, timestamp: str, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers to add to a POST of `body` (timestamp defaults to now)."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: "sha256=" + _mac(secret, ts, body)}


def verify_signature(
    secret: str | bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    max_skew: float = DEFAULT_MAX_SKEW,
    now: float | None = None,
) -> bool:
    """True if `signature` (the header value) signs `body` at `timestamp` and is fresh.

    `timestamp` and `signature` are the raw header values (None when missing).
    """
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_skew:
        return False
    expected = "sha256=" + _mac(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode())
