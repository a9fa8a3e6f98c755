"""The call aggregate: a call's row and its utterances (tombstones included)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, defer, selectinload

from core.calls.metadata import as_text
from core.errors import GoneError, NotFoundError
from core.persistence.models import (
    CallCategoryRow,
    CallMetadataRow,
    CallRow,
    CategoryRow,
    UtteranceRow,
    utcnow,
)
from core.persistence.repositories.common import as_utc, escape_like, to_blob, topics_text


@dataclass(frozen=True)
class CallCriteria:
    """Which live calls a listing holds: every field that is set must hold.

    The caller has checked and normalised the values (core/calls/catalog.py); this says
    them in terms of the columns.
    """

    topic: str | None = None  # one exact topic (matched lower-cased)
    sentiment_above: float | None = None  # the customer's mean sentiment > this
    sentiment_below: float | None = None  # ... < this
    sentiment_within: tuple[float, float] | None = None  # ... between these, inclusive
    conflict: bool | None = None
    resolution: str | None = None
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    category: str | None = None  # tagged with the category of this (lower-case) name
    agent: str | None = None  # exactly
    metadata: tuple[tuple[str, str], ...] = ()  # (key, value) pairs, each exactly

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [CallRow.deleted_at.is_(None)]
        if self.topic:
            needle = self.topic.strip().lower().replace("|", " ")
            conditions.append(CallRow.topics_text.like(f"%|{escape_like(needle)}|%", escape="\\"))
        if self.sentiment_above is not None:
            conditions.append(CallRow.customer_sentiment > self.sentiment_above)
        if self.sentiment_below is not None:
            conditions.append(CallRow.customer_sentiment < self.sentiment_below)
        if self.sentiment_within is not None:
            conditions.append(CallRow.customer_sentiment.between(*self.sentiment_within))
        if self.conflict is not None:
            conditions.append(CallRow.conflict.is_(self.conflict))
        if self.resolution:
            conditions.append(CallRow.resolution == self.resolution)
        if self.created_after:
            conditions.append(CallRow.created_at >= as_utc(self.created_after))
        if self.created_before:
            conditions.append(CallRow.created_at < as_utc(self.created_before))
        if self.category is not None:
            tagged = (
                select(CallCategoryRow.call_id)
                .join(CategoryRow, CategoryRow.id == CallCategoryRow.category_id)
                .where(CallCategoryRow.call_id == CallRow.id, CategoryRow.name == self.category)
            )
            conditions.append(exists(tagged))
        if self.agent is not None:
            conditions.append(CallRow.agent == self.agent)
        conditions += metadata_conditions(self.metadata)
        return conditions


def metadata_conditions(pairs: tuple[tuple[str, str], ...]) -> list[ColumnElement[bool]]:
    """One EXISTS on ``call_metadata`` (its (key, value) index) per pair: all must hold."""
    return [
        exists(
            select(CallMetadataRow.call_id).where(
                CallMetadataRow.call_id == CallRow.id,
                CallMetadataRow.key == key,
                CallMetadataRow.value == value,
            )
        )
        for key, value in pairs
    ]


class CallRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        document: dict[str, Any],
        *,
        content_sha256: str,
        audio_path: str | None,
        job_id: str | None,
        call_vector: np.ndarray | None,
        utterance_vectors: np.ndarray | None,
        created_by: str | None = None,
        updated_by: str | None = None,
        agent: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> CallRow:
        """Stage a whole call (call row + utterances + metadata) in the session; the caller
        commits. ``metadata`` was checked (core/calls/metadata.py)."""
        analysis = document.get("analysis") or {}
        customer = [
            s["sentiment_mean"]
            for s in document["speakers"]
            if s["role"] == "customer" and s["sentiment_mean"] is not None
        ]
        head = {k: v for k, v in document.items() if k != "utterances"}
        row = CallRow(
            id=document["id"],
            filename=document["filename"],
            created_at=datetime.fromisoformat(document["created_at"]),
            updated_at=utcnow(),
            status=document["status"],
            duration_s=document["audio"]["duration_s"],
            language=document["language"],
            resolution=analysis.get("resolution"),
            conflict=bool((analysis.get("conflict") or {}).get("detected", False)),
            customer_sentiment=float(np.mean(customer)) if customer else None,
            topics=list(analysis.get("topics") or []),
            topics_text=topics_text(analysis.get("topics") or []),
            content_sha256=content_sha256,
            audio_path=audio_path,
            job_id=job_id,
            document=head,
            embedding=to_blob(call_vector),
            created_by=created_by,
            updated_by=updated_by or created_by,
            agent=agent,
            meta=metadata or None,
            external_id=(metadata or {}).get("external_id"),
        )
        row.metadata_items = [
            CallMetadataRow(key=key, value=as_text(value)[:200])
            for key, value in (metadata or {}).items()
        ]
        for i, u in enumerate(document["utterances"]):
            sentiment = u.get("sentiment") or {}
            vec = utterance_vectors[i] if utterance_vectors is not None else None
            row.utterances.append(
                UtteranceRow(
                    index=u["index"],
                    speaker=u["speaker"],
                    role=u["role"],
                    start=u["start"],
                    end=u["end"],
                    text=u["text"],
                    sentiment_label=sentiment.get("label"),
                    sentiment_score=sentiment.get("score"),
                    words=u["words"],
                    embedding=to_blob(vec),
                )
            )
        self.session.add(row)
        return row

    def same_as(self, external_id: str | None, content_sha256: str) -> CallRow | None:
        """A live call with this external id, or else with this audio (the oldest)."""
        for condition in (
            CallRow.external_id == external_id if external_id else None,
            CallRow.content_sha256 == content_sha256,
        ):
            if condition is None:
                continue
            row = self.session.scalars(
                select(CallRow)
                .where(CallRow.deleted_at.is_(None), condition)
                .order_by(CallRow.created_at)
                .limit(1)
            ).first()
            if row is not None:
                return row
        return None

    def get(self, call_id: str) -> CallRow | None:
        """A live call (not deleted), with its utterances."""
        row = self.session.get(CallRow, call_id, options=[selectinload(CallRow.utterances)])
        return row if row is not None and row.deleted_at is None else None

    def find(self, call_id: str) -> CallRow | None:
        """The call's row, live or a tombstone (its utterances not read)."""
        return self.session.get(CallRow, call_id)

    def is_live(self, call_id: str) -> bool:
        """Whether the call exists and is not deleted (its utterances not read)."""
        row = self.find(call_id)
        return row is not None and row.deleted_at is None

    def missing(self, call_id: str) -> NotFoundError:
        """The error for a call that is not live: 410 with the audit trail when it was
        deleted, 404 when it never existed."""
        row = self.session.get(CallRow, call_id)
        if row is not None and row.deleted_at is not None:
            return GoneError(
                f"Call {call_id} was deleted by {row.deleted_by or 'unknown'} at "
                f"{as_utc(row.deleted_at).isoformat()}.",
                "Its audio, transcript and vectors are gone; upload the recording again.",
            )
        return NotFoundError(f"No call {call_id}.", "List calls with GET /v1/calls.")

    def document(self, call_id: str) -> dict[str, Any] | None:
        row = self.get(call_id)
        return None if row is None else self.to_document(row)

    @staticmethod
    def to_document(row: CallRow) -> dict[str, Any]:
        doc = dict(row.document)
        doc["utterances"] = [
            {
                "index": u.index,
                "speaker": u.speaker,
                "role": u.role,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "sentiment": (
                    {"label": u.sentiment_label, "score": u.sentiment_score}
                    if u.sentiment_label is not None
                    else None
                ),
                "words": u.words,
            }
            for u in row.utterances
        ]
        return doc

    # ------------------------------------------------------------------ lists
    def page(
        self, criteria: CallCriteria, *, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[tuple[CallRow, str | None]]:
        """Up to ``limit`` matching calls, newest first (then by id, descending), those
        past the ``after`` (created_at, id) position when given, each with its summary.

        Neither the utterances nor the document are read: the page's summaries are taken out
        of their documents by the database, in a second query over the page's ids only (a
        page parsed 21 whole documents for 21 strings; in the first query SQLite would
        extract the summary of every matching row before sorting them)."""
        query = select(CallRow).options(defer(CallRow.document)).where(*criteria.conditions())
        if after is not None:
            at, call_id = after
            query = query.where(
                or_(CallRow.created_at < at, and_(CallRow.created_at == at, CallRow.id < call_id))
            )
        query = query.order_by(CallRow.created_at.desc(), CallRow.id.desc()).limit(limit)
        rows = list(self.session.scalars(query))
        summary = CallRow.document["analysis"]["summary"].as_string()
        ids = [row.id for row in rows]
        found = self.session.execute(select(CallRow.id, summary).where(CallRow.id.in_(ids)))
        texts = {call_id: text for call_id, text in found}
        return [(row, texts.get(row.id)) for row in rows]

    def ids(self, criteria: CallCriteria) -> set[str]:
        """The ids of every call that matches (a search's candidates)."""
        return set(self.session.scalars(select(CallRow.id).where(*criteria.conditions())))

    def count(self, criteria: CallCriteria) -> int:
        """How many calls match, whatever the page."""
        conditions = criteria.conditions()
        total = self.session.scalar(select(func.count()).select_from(CallRow).where(*conditions))
        return int(total or 0)

    def in_period(
        self,
        since: datetime | None,
        until: datetime | None,
        *,
        agent: str | None = None,
        metadata: tuple[tuple[str, str], ...] = (),
        limit: int,
    ) -> list[CallRow]:
        """Live calls created in ``[since, until)`` (either end open when None), of one
        ``agent`` and with all ``metadata`` pairs when given, oldest first, at most
        ``limit``. Utterances not read."""
        query = select(CallRow).where(CallRow.deleted_at.is_(None))
        if since:
            query = query.where(CallRow.created_at >= as_utc(since))
        if until:
            query = query.where(CallRow.created_at < as_utc(until))
        if agent is not None:
            query = query.where(CallRow.agent == agent)
        if metadata:
            query = query.where(*metadata_conditions(metadata))
        query = query.order_by(CallRow.created_at).limit(limit)
        return list(self.session.scalars(query))

    def live_after(self, after: str, limit: int) -> list[CallRow]:
        """The next ``limit`` live calls by id past ``after``, with their utterances: a
        scan of every call, a batch at a time."""
        return list(
            self.session.scalars(
                select(CallRow)
                .where(CallRow.deleted_at.is_(None), CallRow.id > after)
                .order_by(CallRow.id)
                .limit(limit)
                .options(selectinload(CallRow.utterances))
            )
        )

    def ids_in_order(self, criteria: CallCriteria, per: int) -> Iterator[list[str]]:
        """The ids of every matching call in the list's order (newest first), ``per`` at a
        time, read from one query as it goes (a server-side cursor on PostgreSQL): one sort
        for a whole export, where paging by keyset would sort once a page."""
        result = self.session.execute(
            select(CallRow.id)
            .where(*criteria.conditions())
            .order_by(CallRow.created_at.desc(), CallRow.id.desc())
            .execution_options(yield_per=per)
        )
        for part in result.scalars().partitions():
            yield list(part)

    def live_in(self, call_ids: list[str]) -> list[CallRow]:
        """These calls' rows, in the order of ``call_ids``, deleted ones left out (their
        utterances not read)."""
        rows = self.session.scalars(
            select(CallRow).where(CallRow.id.in_(call_ids), CallRow.deleted_at.is_(None))
        )
        by_id = {row.id: row for row in rows}
        return [by_id[i] for i in call_ids if i in by_id]

    def utterances_of(self, call_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The utterances of these calls as the document has them, without their words (the
        BI export): call id -> utterances in order. One query."""
        u = UtteranceRow
        rows = self.session.execute(
            select(u.call_id, u.index, u.speaker, u.role, u.start, u.end, u.text)
            .add_columns(u.sentiment_label, u.sentiment_score)
            .where(u.call_id.in_(call_ids))
            .order_by(u.call_id, u.index)
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for call_id, index, speaker, role, start, end, text, label, score in rows:
            sentiment = None if label is None else {"label": label, "score": score}
            out.setdefault(call_id, []).append(
                {
                    "index": index,
                    "speaker": speaker,
                    "role": role,
                    "start": start,
                    "end": end,
                    "text": text,
                    "sentiment": sentiment,
                }
            )
        return out

    # ----------------------------------------------------------------- removal
    def delete(self, call_id: str) -> bool:
        """Remove the row itself (a re-analysis replaces it); deleting a call for a user is
        :meth:`tombstone`."""
        row = self.session.get(CallRow, call_id)
        if row is None:
            return False
        self.session.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
        self.session.execute(delete(CallMetadataRow).where(CallMetadataRow.call_id == call_id))
        self.session.execute(delete(CallRow).where(CallRow.id == call_id))
        return True

    def tombstone(self, call_id: str, actor: str) -> CallRow | None:
        """Delete a call's content (utterances, words, vectors, document, file name) and keep
        only its id and audit fields, with who deleted it and when."""
        row = self.get(call_id)
        if row is None:
            return None
        self.session.execute(delete(UtteranceRow).where(UtteranceRow.call_id == call_id))
        self.session.execute(delete(CallCategoryRow).where(CallCategoryRow.call_id == call_id))
        self.session.execute(delete(CallMetadataRow).where(CallMetadataRow.call_id == call_id))
        now = utcnow()
        row.filename = ""
        row.document = {}
        row.embedding = None
        row.topics = []
        row.topics_text = ""
        row.content_sha256 = ""
        row.meta = None
        row.external_id = None
        row.audio_path = None
        row.resolution = None
        row.customer_sentiment = None
        row.conflict = False
        row.status = "deleted"
        row.updated_at = now
        row.deleted_at = now
        row.deleted_by = actor
        return row
