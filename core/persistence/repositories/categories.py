"""The category aggregate: custom categories (``categories``) and the tags they gave calls
(``call_categories``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.persistence.models import CallCategoryRow, CallRow, CategoryRow

NAMES_BATCH = 500  # calls whose tags one query reads


class CategoryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ----------------------------------------------------------- the rules
    def all(self) -> list[CategoryRow]:
        """Every category, by name."""
        return list(self.session.scalars(select(CategoryRow).order_by(CategoryRow.name)))

    def get(self, category_id: str) -> CategoryRow | None:
        return self.session.get(CategoryRow, category_id)

    def name_taken(self, name: str) -> bool:
        found = self.session.scalar(select(CategoryRow.id).where(CategoryRow.name == name))
        return found is not None

    def add(
        self,
        category_id: str,
        *,
        name: str,
        description: str,
        conditions: list[dict[str, Any]],
        created_by: str | None,
        at: datetime,
    ) -> CategoryRow:
        """Stage a new category; a name taken meanwhile fails the commit (IntegrityError)."""
        row = CategoryRow(
            id=category_id,
            name=name,
            description=description,
            conditions=conditions,
            created_at=at,
            created_by=created_by,
            updated_at=at,
        )
        self.session.add(row)
        return row

    def delete(self, category_id: str) -> None:
        """The category and every tag it gave."""
        self.session.execute(
            delete(CallCategoryRow).where(CallCategoryRow.category_id == category_id)
        )
        self.session.execute(delete(CategoryRow).where(CategoryRow.id == category_id))

    def live_call_counts(self, ids: Sequence[str] | None = None) -> dict[str, int]:
        """How many live (not deleted) calls each category tags, of those in ``ids`` when
        given; categories that tag none are left out."""
        query = (
            select(CallCategoryRow.category_id, func.count())
            .join(CallRow, CallRow.id == CallCategoryRow.call_id)
            .where(CallRow.deleted_at.is_(None))
            .group_by(CallCategoryRow.category_id)
        )
        if ids is not None:
            query = query.where(CallCategoryRow.category_id.in_(ids))
        return {category_id: int(n) for category_id, n in self.session.execute(query)}

    # ----------------------------------------------------------- tags
    def tag(self, call_id: str, category_id: str, at: datetime) -> None:
        self.session.add(CallCategoryRow(call_id=call_id, category_id=category_id, matched_at=at))

    def tagged(self, category_id: str, call_ids: Sequence[str]) -> set[str]:
        """Which of these calls the category tags now."""
        rows = self.session.scalars(
            select(CallCategoryRow.call_id).where(
                CallCategoryRow.category_id == category_id,
                CallCategoryRow.call_id.in_(list(call_ids)),
            )
        )
        return set(rows)

    def untag_call(self, call_id: str) -> None:
        """Remove every tag of a call."""
        self.session.execute(delete(CallCategoryRow).where(CallCategoryRow.call_id == call_id))

    def untag(self, category_id: str, call_ids: Sequence[str]) -> None:
        """Remove a category's tags from these calls."""
        self.session.execute(
            delete(CallCategoryRow).where(
                CallCategoryRow.category_id == category_id,
                CallCategoryRow.call_id.in_(call_ids),
            )
        )

    def untag_deleted_calls(self, category_id: str) -> None:
        """Remove a category's tags from the calls that were deleted."""
        dead = select(CallRow.id).where(CallRow.deleted_at.is_not(None))
        self.session.execute(
            delete(CallCategoryRow).where(
                CallCategoryRow.category_id == category_id, CallCategoryRow.call_id.in_(dead)
            )
        )

    def names_for(self, call_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each call's category names, in the database's order of names; calls without any
        are left out. One query per :data:`NAMES_BATCH` calls (none for no calls)."""
        ids = list(call_ids)
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), NAMES_BATCH):
            rows = self.session.execute(
                select(CallCategoryRow.call_id, CategoryRow.name)
                .join(CategoryRow, CategoryRow.id == CallCategoryRow.category_id)
                .where(CallCategoryRow.call_id.in_(ids[start : start + NAMES_BATCH]))
                .order_by(CategoryRow.name)
            )
            for call_id, name in rows:
                out.setdefault(call_id, []).append(name)
        return out
