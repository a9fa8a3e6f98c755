"""The live call aggregate (``live_calls``): one row per streamed call, its snapshot kept current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.persistence.models import LiveCallRow

OPEN_STATUSES = ("live", "dropped")


class LiveCallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: LiveCallRow) -> LiveCallRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, live_id: str) -> LiveCallRow | None:
        return self.session.get(LiveCallRow, live_id)

    def update(self, live_id: str, **fields: Any) -> LiveCallRow | None:
        row = self.get(live_id)
        if row is None:
            return None
        for name, value in fields.items():
            setattr(row, name, value)
        if fields.get("status") == "ended" and row.ended_at is None:
            row.ended_at = datetime.now(UTC)
        return row

    def list(self, statuses: Sequence[str] | None = None, limit: int = 100) -> list[LiveCallRow]:
        """Newest first."""
        query = select(LiveCallRow).order_by(LiveCallRow.created_at.desc()).limit(limit)
        if statuses:
            query = query.where(LiveCallRow.status.in_(list(statuses)))
        return list(self.session.scalars(query))
