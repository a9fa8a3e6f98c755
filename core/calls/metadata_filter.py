"""Filtering calls by their metadata: ``key:value`` pairs, every one of which must hold.

A pair matches a call whose metadata has that key with exactly that value, compared as
text (core.calls.metadata.as_text: booleans as ``true``/``false``). REST takes them as a
repeatable ``metadata=key:value`` query parameter, GraphQL as ``[{key, value}]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from core.errors import InvalidInputError

MetadataPairs = tuple[tuple[str, str], ...]

MAX_PAIRS = 20
_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")
PAIR_HINT = (
    "Filter by metadata with key:value, e.g. metadata=team:billing (repeat it for more "
    "pairs; every pair must hold). Keys are a-z, 0-9, _ or -."
)


def pair(key: str, value: str) -> tuple[str, str]:
    """One checked pair: the key lower-cased, the value stripped."""
    name = str(key).strip().lower()
    if not _KEY.match(name):
        raise InvalidInputError(f"metadata filter key {str(key)[:70]!r} is not allowed.", PAIR_HINT)
    text = str(value).strip()
    if not text or len(text) > 200:
        raise InvalidInputError(
            f"metadata filter {name} needs a value of 1 to 200 characters.", PAIR_HINT
        )
    return name, text


def parse_pairs(items: Iterable[str] | None) -> MetadataPairs:
    """``["team:billing", "queue:vip"]`` -> ``(("team", "billing"), ("queue", "vip"))``."""
    pairs: list[tuple[str, str]] = []
    for item in items or ():
        key, sep, value = str(item).partition(":")
        if not sep:
            raise InvalidInputError(
                f"metadata filter {str(item)[:70]!r} is not of the form key:value.", PAIR_HINT
            )
        pairs.append(pair(key, value))
    return combine(pairs)


def combine(
    *sources: Iterable[tuple[str, str]] | Mapping[str, str | None] | None,
) -> MetadataPairs:
    """The pairs of every source (pairs or a mapping; a None value is no filter), in order,
    without repeats; at most MAX_PAIRS."""
    seen: dict[tuple[str, str], None] = {}
    for source in sources:
        if source is None:
            continue
        items = source.items() if isinstance(source, Mapping) else source
        for key, value in items:
            if value is not None:
                seen[pair(key, value)] = None
    if len(seen) > MAX_PAIRS:
        raise InvalidInputError(
            f"{len(seen)} metadata filters; at most {MAX_PAIRS}.", "Filter by fewer pairs."
        )
    return tuple(seen)
