"""Signing a delivery, as Stripe does: ``Callytics-Signature: t=<unix ts>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256, keyed with the endpoint's secret, of ``f"{t}.{body}"``: the
timestamp is signed with the body, so a receiver that also checks ``t`` is recent refuses a
replayed delivery. docs/webhooks.md has the receiver's side; :func:`verify` is the same code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Callytics-Signature"
EVENT_HEADER = "Callytics-Event"
DELIVERY_HEADER = "Callytics-Delivery"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and its ``t`` is within
    ``tolerance_s`` of ``now`` (unix seconds)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for v in parts.get("v1", []))
