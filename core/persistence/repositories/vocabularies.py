"""The vocabulary aggregate: custom vocabularies (``vocabularies``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from core.persistence.models import VocabularyRow


class VocabularyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[VocabularyRow]:
        """Every vocabulary, by name."""
        return list(self.session.scalars(select(VocabularyRow).order_by(VocabularyRow.name)))

    def get(self, vocabulary_id: str) -> VocabularyRow | None:
        return self.session.get(VocabularyRow, vocabulary_id)

    def name_taken(self, name: str) -> bool:
        found = self.session.scalar(select(VocabularyRow.id).where(VocabularyRow.name == name))
        return found is not None

    def for_team(self, team: str | None) -> list[VocabularyRow]:
        """The team's vocabularies (none for no team), then the global ones, each by name."""
        query = select(VocabularyRow).where(VocabularyRow.scope == "global")
        if team:
            query = select(VocabularyRow).where(
                or_(
                    VocabularyRow.scope == "global",
                    (VocabularyRow.scope == "team") & (VocabularyRow.team == team),
                )
            )
        rows = self.session.scalars(query.order_by(VocabularyRow.name))
        return sorted(rows, key=lambda r: r.scope != "team")

    def add(
        self,
        vocabulary_id: str,
        *,
        name: str,
        description: str,
        scope: str,
        team: str | None,
        terms: list[str],
        replacements: list[dict[str, Any]],
        created_by: str | None,
        at: datetime,
    ) -> VocabularyRow:
        """Stage a new vocabulary; a name taken meanwhile fails the commit (IntegrityError)."""
        row = VocabularyRow(
            id=vocabulary_id,
            name=name,
            description=description,
            scope=scope,
            team=team,
            terms=terms,
            replacements=replacements,
            created_at=at,
            created_by=created_by,
            updated_at=at,
        )
        self.session.add(row)
        return row

    def delete(self, vocabulary_id: str) -> None:
        self.session.execute(delete(VocabularyRow).where(VocabularyRow.id == vocabulary_id))
