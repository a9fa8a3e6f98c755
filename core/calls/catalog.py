"""Reading stored calls: filtered, cursor-paginated lists, documents, transcripts, audio.

REST and GraphQL both read through :class:`CallCatalog`; documents come through the
document cache when one is given (in-process TTL, then Redis, then the calls table).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cachetools import LRUCache

from core.adapters.cache import CallDocumentCache
from core.calls.batching import SingleFlight
from core.calls.metadata_filter import MetadataPairs, combine
from core.errors import InvalidInputError, NotFoundError
from core.jobs.status import JOB_STATUSES
from core.persistence.database import Database
from core.persistence.models import CallRow, JobRow
from core.persistence.repositories import CallCriteria, as_utc
from core.persistence.unit_of_work import UnitOfWork

SentimentFilter = Literal["positive", "neutral", "negative"]
# The customer's mean utterance sentiment (-1..1) beyond these bounds is positive/negative.
SENTIMENT_BOUND = 0.05
MAX_PAGE = 100
PAGES_KEPT = 256  # list pages (filters, limit, cursor) answered from memory


@dataclass(frozen=True)
class CallFilters:
    topic: str | None = None
    sentiment: SentimentFilter | None = None  # of the customer
    conflict: bool | None = None
    resolution: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    category: str | None = None  # a custom category's name (core/categories/rules.py)
    agent: str | None = None  # the agent given at upload, exactly
    # (key, value) pairs of the call's metadata, each exactly (core/calls/metadata_filter.py)
    metadata: MetadataPairs = ()


@dataclass(frozen=True)
class CallSummary:
    id: str
    filename: str
    created_at: datetime
    duration_s: float
    language: str
    resolution: str | None
    conflict: bool
    customer_sentiment: float | None
    topics: list[str]
    summary: str | None
    categories: list[str] = field(default_factory=list)  # custom categories' names
    agent: str | None = None  # the agent given at upload
    metadata: dict[str, Any] = field(default_factory=dict)  # as given at upload or ingest


@dataclass(frozen=True)
class CallPage:
    items: list[CallSummary]
    next_cursor: str | None
    total: int


def sentiment_label(score: float | None) -> str | None:
    if score is None:
        return None
    if score > SENTIMENT_BOUND:
        return "positive"
    if score < -SENTIMENT_BOUND:
        return "negative"
    return "neutral"


def encode_cursor(created_at: datetime, call_id: str) -> str:
    raw = f"{as_utc(created_at).isoformat()}|{call_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, call_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), call_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "The cursor is not valid.", "Pass back the next_cursor of the previous page as is."
        ) from exc


class CallCatalog:
    def __init__(
        self,
        database: Database,
        *,
        document_cache: CallDocumentCache | None = None,
        refresh_s: float = 0.0,
    ) -> None:
        """``refresh_s`` (READ_REFRESH_S): how long a list page, once read, is answered from
        memory (:meth:`cached_page`); a change made through this process drops every page
        at once (:meth:`invalidate`), another process's shows within ``refresh_s``."""
        self.database = database
        self.document_cache = document_cache
        self.refresh_s = refresh_s
        self._pages: LRUCache[tuple[object, ...], tuple[float, CallPage]] = LRUCache(PAGES_KEPT)
        self._pages_lock = threading.Lock()
        self._generation = 0
        self._reads: SingleFlight[tuple[object, ...], CallPage] = SingleFlight()

    # ---------------------------------------------------------------- lists
    def cached_page(
        self, filters: CallFilters | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> CallPage | None:
        """The page :meth:`list` read less than ``refresh_s`` ago, if any; no I/O, so the
        event loop answers a dashboard's repeated list without a thread hop."""
        key = (filters or CallFilters(), limit, cursor)
        with self._pages_lock:
            kept = self._pages.get(key)
        if kept is None or time.monotonic() >= kept[0]:
            return None
        return kept[1]

    async def page(
        self, filters: CallFilters | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> CallPage:
        """:meth:`list` for the event loop: a kept page at once, without a thread; the
        requests that miss one page together share one read of it (no stampede of reads
        each time a page expires)."""
        if (kept := self.cached_page(filters, limit=limit, cursor=cursor)) is not None:
            return kept
        key = (filters or CallFilters(), limit, cursor)
        return await self._reads(
            key, lambda: asyncio.to_thread(self.list, filters, limit=limit, cursor=cursor)
        )

    def invalidate(self, call_id: str | None = None) -> None:
        """A call (None: anything) or the categories changed: no page read before counts."""
        with self._pages_lock:
            self._generation += 1
            self._pages.clear()

    def list(
        self, filters: CallFilters | None = None, *, limit: int = 20, cursor: str | None = None
    ) -> CallPage:
        """Newest first. ``cursor`` is the ``next_cursor`` of the previous page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}, not {limit}.")
        key, read_at, generation = (filters or CallFilters(), limit, cursor), 0.0, 0
        if self.refresh_s > 0:
            read_at, generation = time.monotonic(), self._generation
        page = self._read_page(filters, limit=limit, cursor=cursor)
        if self.refresh_s > 0:
            with self._pages_lock:
                if generation == self._generation:  # nothing changed here while reading
                    self._pages[key] = (read_at + self.refresh_s, page)
        return page

    def _read_page(
        self, filters: CallFilters | None, *, limit: int, cursor: str | None
    ) -> CallPage:
        criteria = self._criteria(filters or CallFilters())
        after = decode_cursor(cursor) if cursor else None
        with UnitOfWork(self.database) as uow:
            rows = uow.calls.page(criteria, limit=limit + 1, after=after)
            total = uow.calls.count(criteria)
            names = uow.categories.names_for([r.id for r, _ in rows[:limit]])
            items = [self._summary(r, s, names.get(r.id, [])) for r, s in rows[:limit]]
        more = len(rows) > limit
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if more else None
        return CallPage(items, next_cursor, total)

    @staticmethod
    def _criteria(f: CallFilters) -> CallCriteria:
        """The filters, checked, in the repository's terms."""
        if f.sentiment not in (None, "positive", "neutral", "negative"):
            raise InvalidInputError(
                f"Unknown sentiment {f.sentiment!r}.", "Use positive, neutral or negative."
            )
        if f.created_after and f.created_before and f.created_after >= f.created_before:
            raise InvalidInputError("created_after must be earlier than created_before.")
        bound = SENTIMENT_BOUND
        return CallCriteria(
            topic=f.topic,
            sentiment_above=bound if f.sentiment == "positive" else None,
            sentiment_below=-bound if f.sentiment == "negative" else None,
            sentiment_within=(-bound, bound) if f.sentiment == "neutral" else None,
            conflict=f.conflict,
            resolution=f.resolution,
            created_after=f.created_after,
            created_before=f.created_before,
            category=None if f.category is None else f.category.strip().lower(),
            agent=None if f.agent is None else f.agent.strip(),
            metadata=combine(f.metadata),
        )

    @staticmethod
    def _summary(
        row: CallRow, summary: str | None, categories: builtins.list[str] | None = None
    ) -> CallSummary:
        return CallSummary(
            id=row.id,
            filename=row.filename,
            created_at=as_utc(row.created_at),
            duration_s=row.duration_s,
            language=row.language,
            resolution=row.resolution,
            conflict=row.conflict,
            customer_sentiment=row.customer_sentiment,
            topics=list(row.topics or []),
            summary=summary,
            categories=list(categories or []),
            agent=row.agent,
            metadata=dict(row.meta or {}),
        )

    def matching_ids(self, filters: CallFilters) -> set[str]:
        """The ids of every live call the filters match."""
        criteria = self._criteria(filters)
        with UnitOfWork(self.database) as uow:
            return uow.calls.ids(criteria)

    # ---------------------------------------------------------------- one call
    def document(self, call_id: str) -> dict[str, Any]:
        """The SPEC section 3 document. NotFoundError for an unknown id."""
        load: Callable[[], dict[str, Any] | None] = lambda: self._load_document(call_id)  # noqa: E731
        doc = self.document_cache.get(call_id, load) if self.document_cache else load()
        if doc is None:
            raise self._missing(call_id)
        return doc

    def document_json(self, call_id: str) -> bytes:
        """The same document as JSON bytes, straight from the cache when it is there."""
        load: Callable[[], dict[str, Any] | None] = lambda: self._load_document(call_id)  # noqa: E731
        if self.document_cache is not None:
            data = self.document_cache.get_json(call_id, load)
        else:
            document = load()
            data = None if document is None else json.dumps(document).encode()
        if data is None:
            raise self._missing(call_id)
        return data

    def cached_document_json(self, call_id: str) -> bytes | None:
        """The document's JSON when this process's memory tier holds it, else None; no I/O,
        so the event loop answers a hot read without a thread hop."""
        return self.document_cache.peek_json(call_id) if self.document_cache else None

    def _missing(self, call_id: str) -> NotFoundError:
        with UnitOfWork(self.database) as uow:
            return uow.calls.missing(call_id)

    def _load_document(self, call_id: str) -> dict[str, Any] | None:
        with UnitOfWork(self.database) as uow:
            return uow.calls.document(call_id)

    def exists(self, call_id: str) -> bool:
        with UnitOfWork(self.database) as uow:
            return uow.calls.is_live(call_id)

    def categories(self, call_id: str) -> builtins.list[str]:
        """The custom category names a stored call is tagged with, sorted."""
        with UnitOfWork(self.database) as uow:
            if not uow.calls.is_live(call_id):
                raise uow.calls.missing(call_id)
            return uow.categories.names_for([call_id]).get(call_id, [])

    def audit(self, call_id: str) -> dict[str, Any]:
        """Who created, last changed and deleted a call, and when; also for a deleted one."""
        with UnitOfWork(self.database) as uow:
            row = uow.calls.find(call_id)
            if row is None:
                raise NotFoundError(f"No call {call_id}.", "List calls with GET /v1/calls.")
            return {
                "call_id": row.id,
                "status": "deleted" if row.deleted_at else "active",
                "created_at": _iso(row.created_at),
                "created_by": row.created_by,
                "updated_at": _iso(row.updated_at),
                "updated_by": row.updated_by,
                "deleted_at": _iso(row.deleted_at),
                "deleted_by": row.deleted_by,
            }

    def audio(self, call_id: str) -> tuple[Path, str]:
        """The stored recording and the name it was uploaded under."""
        with UnitOfWork(self.database) as uow:
            row = uow.calls.get(call_id)
            if row is None:
                raise uow.calls.missing(call_id)
            path, filename = row.audio_path, row.filename
        if not path or not Path(path).is_file():
            raise NotFoundError(
                f"Call {call_id} has no stored audio.",
                "Audio is kept only when STORE_AUDIO=true (the default).",
            )
        return Path(path), filename

    def jobs(
        self, statuses: Iterable[str] | None = None, *, limit: int = 20
    ) -> builtins.list[dict[str, Any]]:
        """The newest jobs first, only those in ``statuses`` when given (queued, running,
        succeeded, failed): what is running now, from any process or client."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}, not {limit}.")
        wanted = list(statuses or ())
        if unknown := [s for s in wanted if s not in JOB_STATUSES]:
            raise InvalidInputError(
                f"Unknown job status {unknown[0]!r}.", f"Use {', '.join(JOB_STATUSES)}."
            )
        with UnitOfWork(self.database) as uow:
            return [job_dict(row) for row in uow.jobs.newest(wanted, limit=limit)]

    def job(self, job_id: str) -> dict[str, Any]:
        with UnitOfWork(self.database) as uow:
            row = uow.jobs.get(job_id)
            if row is None:
                raise NotFoundError(f"No job {job_id}.", "Use the job_id returned by the upload.")
            return job_dict(row)


def _iso(at: datetime | None) -> str | None:
    return as_utc(at).isoformat() if at else None


def job_dict(row: JobRow) -> dict[str, Any]:
    iso = _iso
    return {
        "id": row.id,
        "call_id": row.call_id,
        "kind": row.kind,
        "filename": row.filename,
        "status": row.status,
        "stage": row.stage,
        "progress": row.progress,
        "message": row.message,
        "error": row.error,
        "attempts": row.attempts,
        "options": row.options,
        "submitted_by": row.submitted_by,
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }
