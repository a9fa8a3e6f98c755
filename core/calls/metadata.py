"""A call's metadata: who handled it, for which team and queue, and any key of the user's.

Metadata comes with an upload (the ``metadata`` form field), from a sidecar file or a
filename pattern (``callytics ingest``). It is checked here, once, whatever its source:

- keys are 1 to 64 characters of ``a-z 0-9 _ -`` (lower-cased; at most 50 keys);
- values are strings, numbers or booleans (no lists or objects), at most 200 characters
  as text; an empty value drops the key;
- the well-known keys are checked further: ``direction`` is ``inbound`` or ``outbound``,
  ``started_at`` an ISO 8601 time (stored in UTC), ``agent`` 1 to 100 printable characters.

``external_id`` (the call's id in the caller's system) makes a submission idempotent: a
second call with the same one is not analysed again unless asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.errors import InvalidInputError

#: The keys a contact centre usually has, shown first and filterable by name.
KNOWN_KEYS = (
    "agent",
    "team",
    "queue",
    "direction",
    "customer_id",
    "external_id",
    "started_at",
)
DIRECTIONS = ("inbound", "outbound")
MAX_KEYS = 50
MAX_VALUE = 200
_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")

HINT = (
    "Send metadata as a JSON object of short keys (a-z, 0-9, _ or -) to strings, numbers "
    'or booleans, e.g. {"agent": "a-17", "team": "billing", "external_id": "C-1001"}.'
)


def parse_metadata(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The checked metadata of ``raw`` (a JSON object or its text); {} for none.

    Raises :class:`InvalidInputError` that says what is wrong and what to send instead."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"metadata is not valid JSON ({exc.msg}).", HINT) from exc
    if not isinstance(raw, Mapping):
        raise InvalidInputError("metadata must be a JSON object.", HINT)
    if len(raw) > MAX_KEYS:
        raise InvalidInputError(f"metadata has {len(raw)} keys; at most {MAX_KEYS}.", HINT)
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).strip().lower()
        if not _KEY.match(name):
            raise InvalidInputError(f"metadata key {str(key)[:70]!r} is not allowed.", HINT)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, bool | int | float):
            if isinstance(value, float) and value != value:  # NaN
                raise InvalidInputError(f"metadata {name} is not a number.", HINT)
        elif isinstance(value, str):
            value = value.strip()
            if len(value) > MAX_VALUE or not value.isprintable():
                raise InvalidInputError(
                    f"metadata {name} must be at most {MAX_VALUE} printable characters.", HINT
                )
        else:
            raise InvalidInputError(
                f"metadata {name} is a {type(value).__name__}; values are strings, numbers "
                "or booleans.",
                HINT,
            )
        clean[name] = _known(name, value)
    return clean


def _known(name: str, value: Any) -> Any:
    if name == "direction":
        text = str(value).lower()
        if text not in DIRECTIONS:
            raise InvalidInputError(
                f"metadata direction must be inbound or outbound, not {str(value)[:40]!r}.", HINT
            )
        return text
    if name == "started_at":
        try:
            at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(
                f"metadata started_at {str(value)[:40]!r} is not an ISO 8601 time.",
                "Use e.g. 2026-12-01T09:30:00Z (UTC when no offset is given).",
            ) from exc
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        return at.astimezone(UTC).isoformat()
    if name == "agent":
        text = str(value)
        if len(text) > 100:
            raise InvalidInputError("metadata agent must be 1 to 100 characters.", HINT)
        return text
    return value


def as_text(value: Any) -> str:
    """A value as the text a filter matches: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Later sources win, key by key (a filename pattern, then a sidecar, then the request)."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source or {})
    return merged
