"""Conversions the repositories share: stored vectors, topics, and SQLite's naive datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np


def to_blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def topics_text(topics: list[str]) -> str:
    """``|billing|refund|``: lets an exact-topic filter be one portable LIKE."""
    cleaned = [t.strip().lower().replace("|", " ") for t in topics if t and t.strip()]
    return "|" + "|".join(cleaned) + "|" if cleaned else ""


def as_utc(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def escape_like(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern whose escape character is ``\\``."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
