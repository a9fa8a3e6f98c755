"""Custom categories kept and applied: the rules (table ``categories``) and the calls they
tag (``call_categories``). The rules themselves are core/categories/rules.py."""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError

from core.categories.rules import (
    CategoryExistsError,
    CategoryRule,
    Condition,
    matches,
    parse_conditions,
)
from core.errors import NotFoundError
from core.persistence.database import Database
from core.persistence.models import CategoryRow, utcnow
from core.persistence.repositories import CallRepository, as_utc
from core.persistence.unit_of_work import UnitOfWork
from core.webhooks import events as webhook_events

log = logging.getLogger(__name__)

APPLY_BATCH = 200  # calls read per transaction while a category is applied


class Category(BaseModel):
    """A stored category (REST answers with it; GraphQL's type is derived from it)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    name: str
    description: str
    conditions: list[dict[str, Any]]
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    calls: int = Field(description="Stored calls tagged with it now.")

    def rule(self) -> list[Condition]:
        return parse_conditions(self.conditions)


class ApplyResult(BaseModel):
    """What applying a category to the stored calls did."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    category_id: str
    name: str
    scanned: int = Field(description="Stored calls evaluated.")
    matched: int = Field(description="Of those, the calls it tags.")


def _dump(rule: CategoryRule) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in rule.conditions]


def _category(row: CategoryRow, calls: int) -> Category:
    return Category(
        id=row.id,
        name=row.name,
        description=row.description,
        conditions=list(row.conditions or []),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        updated_at=as_utc(row.updated_at),
        calls=calls,
    )


class CategoryStore:
    """The categories and the calls they tag. Every method is its own transaction."""

    def __init__(self, database: Database, *, on_change: Callable[[], None] | None = None) -> None:
        """``on_change``: called after each committed change of categories or tags (the
        list pages kept in memory, core/calls/catalog.py, are dropped)."""
        self.database = database
        self.on_change = on_change

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # ----------------------------------------------------------- the rules
    def list(self) -> list[Category]:
        with UnitOfWork(self.database) as uow:
            rows = uow.categories.all()
            counts = uow.categories.live_call_counts()
            return [_category(r, counts.get(r.id, 0)) for r in rows]

    def get(self, category_id: str) -> Category:
        with UnitOfWork(self.database) as uow:
            row = self._require(uow, category_id)
            return _category(row, uow.categories.live_call_counts([row.id]).get(row.id, 0))

    def create(self, rule: CategoryRule, created_by: str | None = None) -> Category:
        try:
            with UnitOfWork(self.database) as uow:
                self._check_name(uow, rule.name)
                row = uow.categories.add(
                    str(uuid.uuid4()),
                    name=rule.name,
                    description=rule.description,
                    conditions=_dump(rule),
                    created_by=created_by,
                    at=utcnow(),
                )
        except IntegrityError as exc:  # created at the same time elsewhere
            raise self._exists(rule.name) from exc
        self._changed()
        return _category(row, 0)

    def update(self, category_id: str, rule: CategoryRule) -> Category:
        """Replace a category's name, description and conditions (its tags stay until it
        is applied again)."""
        try:
            with UnitOfWork(self.database) as uow:
                row = self._require(uow, category_id)
                if rule.name != row.name:
                    self._check_name(uow, rule.name)
                row.name = rule.name
                row.description = rule.description
                row.conditions = _dump(rule)
                row.updated_at = utcnow()
                uow.flush()
                updated = _category(row, uow.categories.live_call_counts([row.id]).get(row.id, 0))
        except IntegrityError as exc:
            raise self._exists(rule.name) from exc
        self._changed()
        return updated

    def delete(self, category_id: str) -> None:
        """The category and every tag it gave."""
        with UnitOfWork(self.database) as uow:
            self._require(uow, category_id)
            uow.categories.delete(category_id)
        self._changed()

    # ----------------------------------------------------------- tags
    def tag_call(self, call_id: str, document: dict[str, Any]) -> builtins.list[str]:
        """Evaluate every category on a call's document and replace the call's tags; the
        names of the categories it matched (none for a deleted or unknown call)."""
        with UnitOfWork(self.database) as uow:
            uow.categories.untag_call(call_id)
            call = uow.calls.find(call_id)
            if call is None or call.deleted_at is not None:
                return []
            now = utcnow()
            matched = []
            for row in uow.categories.all():
                if self._matches(row, document):
                    uow.categories.tag(call_id, row.id, now)
                    matched.append(row.name)
                    webhook_events.category_matched(
                        uow, call_id, row.id, row.name, filename=call.filename, metadata=call.meta
                    )
        self._changed()
        return matched

    def apply(self, category_id: str) -> ApplyResult:
        """Evaluate a category over every stored (not deleted) call and replace its tags.

        Calls are read in batches of :data:`APPLY_BATCH`, each batch in its own transaction,
        so a long scan never holds one transaction; a call stored meanwhile is tagged by
        the analysis itself (the category was saved before the scan started).
        """
        with UnitOfWork(self.database) as uow:
            row = self._require(uow, category_id)
            name, rule = row.name, parse_conditions(row.conditions)
            # Tags of deleted calls go (the rest are replaced batch by batch below).
            uow.categories.untag_deleted_calls(category_id)
        scanned = matched = 0
        after = ""
        while True:
            with UnitOfWork(self.database) as uow:
                calls = uow.calls.live_after(after, APPLY_BATCH)
                if not calls:
                    break
                ids = [c.id for c in calls]
                before = uow.categories.tagged(category_id, ids)
                uow.categories.untag(category_id, ids)
                now = utcnow()
                for call in calls:
                    if matches(rule, CallRepository.to_document(call)):
                        uow.categories.tag(call.id, category_id, now)
                        matched += 1
                        if call.id not in before:  # a webhook for a new match only
                            webhook_events.category_matched(
                                uow,
                                call.id,
                                category_id,
                                name,
                                filename=call.filename,
                                metadata=call.meta,
                            )
                scanned += len(calls)
                after = ids[-1]
        self._changed()
        return ApplyResult(category_id=category_id, name=name, scanned=scanned, matched=matched)

    def names_for(self, call_ids: Sequence[str]) -> dict[str, builtins.list[str]]:
        """Each call's category names (sorted); calls without any are left out."""
        if not call_ids:
            return {}
        with UnitOfWork(self.database) as uow:
            return uow.categories.names_for(call_ids)

    # ----------------------------------------------------------- helpers
    @staticmethod
    def _matches(row: CategoryRow, document: dict[str, Any]) -> bool:
        try:
            return matches(parse_conditions(row.conditions), document)
        except (ValidationError, KeyError, TypeError, ValueError):
            log.exception("category %s could not be evaluated", row.name)
            return False

    @staticmethod
    def _require(uow: UnitOfWork, category_id: str) -> CategoryRow:
        row = uow.categories.get(category_id)
        if row is None:
            raise NotFoundError(
                f"No category {category_id}.", "List categories with GET /v1/categories."
            )
        return row

    def _check_name(self, uow: UnitOfWork, name: str) -> None:
        if uow.categories.name_taken(name):
            raise self._exists(name)

    @staticmethod
    def _exists(name: str) -> CategoryExistsError:
        return CategoryExistsError(
            f"A category named {name!r} already exists.",
            "Choose another name, or change that category with PUT /v1/categories/{id}.",
        )


class CategoryTagger:
    """The analysis service's observer: tags each newly (re-)analysed call.

    A re-analysis replaces the call's row (its old tags go with it) and is tagged again
    here. Runs in the job's task right after the call is stored; a failure is logged by
    the service and never fails the job.
    """

    def __init__(self, database: Database, *, on_change: Callable[[], None] | None = None) -> None:
        self.store = CategoryStore(database, on_change=on_change)

    def job_ended(
        self, kind: str, outcome: str, seconds: float, document: dict[str, Any] | None
    ) -> None:
        if outcome != "succeeded" or not document or not document.get("id"):
            return
        self.store.tag_call(str(document["id"]), document)
