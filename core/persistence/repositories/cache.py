"""The durable tier of the cache (``cache_entries``): results keyed by content hash."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.persistence.models import CacheEntryRow


class CacheEntryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def fresh(self, keys: Sequence[str], now: datetime) -> dict[str, bytes]:
        """The values of those ``keys`` that are stored and not expired at ``now``."""
        found: dict[str, bytes] = {}
        columns = (CacheEntryRow.key, CacheEntryRow.value, CacheEntryRow.expires_at)
        rows = self.session.execute(select(*columns).where(CacheEntryRow.key.in_(keys)))
        for key, value, expires in rows:
            # SQLite hands datetimes back naive; they were written in UTC.
            if expires is None or expires.replace(tzinfo=expires.tzinfo or UTC) > now:
                found[key] = bytes(value)
        return found

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Insert or replace (merge); a concurrent insert of the same key fails the commit
        (IntegrityError)."""
        # Load the rows that exist, so that merge updates them without a SELECT each.
        self.session.scalars(select(CacheEntryRow).where(CacheEntryRow.key.in_(items))).all()
        now = datetime.now(UTC)
        for key, value in items.items():
            self.session.merge(CacheEntryRow(key=key, value=value, created_at=now))

    def delete(self, key: str) -> None:
        self.session.execute(delete(CacheEntryRow).where(CacheEntryRow.key == key))
