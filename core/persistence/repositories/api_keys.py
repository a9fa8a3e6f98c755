"""The API key aggregate (``api_keys``): only each key's SHA-256 is stored."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.persistence.models import ApiKeyRow


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, key_id: str, *, name: str, role: str, key_sha256: str, created_by: str
    ) -> ApiKeyRow:
        """Stage and write (flush) a new key: its defaults (created_at) are then set."""
        row = ApiKeyRow(
            id=key_id,
            name=name,
            role=role,
            key_sha256=key_sha256,
            created_by=created_by,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def all(self, *, include_revoked: bool = True) -> list[ApiKeyRow]:
        """Oldest first."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        return list(self.session.scalars(query))

    def get(self, key_id: str) -> ApiKeyRow | None:
        return self.session.get(ApiKeyRow, key_id)

    def by_hash(self, key_sha256: str) -> ApiKeyRow | None:
        return self.session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_sha256 == key_sha256))

    def any(self) -> bool:
        """Whether any key was ever created (revoked ones count)."""
        return self.session.scalar(select(ApiKeyRow.id).limit(1)) is not None
