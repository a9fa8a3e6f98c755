"""The unit of work: one transaction, and the repositories of every aggregate on it.

::

    with UnitOfWork(database) as uow:
        call = uow.calls.get(call_id)
        uow.jobs.create(...)

Leaving the block commits; an error rolls back and is raised again, and a PostgreSQL server
that cannot be reached raises :class:`core.errors.DatabaseUnavailableError` instead of the
driver's error (:meth:`core.persistence.database.Database.session` does both). Objects read
stay readable after the block (nothing is expired at commit). A unit of work is used once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session

from core.persistence.database import Database
from core.persistence.repositories.api_keys import ApiKeyRepository
from core.persistence.repositories.cache import CacheEntryRepository
from core.persistence.repositories.calls import CallRepository
from core.persistence.repositories.categories import CategoryRepository
from core.persistence.repositories.ingest import IngestRepository
from core.persistence.repositories.jobs import JobRepository
from core.persistence.repositories.live import LiveCallRepository
from core.persistence.repositories.vocabularies import VocabularyRepository
from core.persistence.repositories.webhooks import WebhookRepository


class UnitOfWork:
    """One transaction over ``calls``, ``jobs``, ``categories``, ``api_keys``,
    ``cache_entries`` and ``live_calls``; see the module docstring."""

    calls: CallRepository
    jobs: JobRepository
    categories: CategoryRepository
    api_keys: ApiKeyRepository
    cache_entries: CacheEntryRepository
    live_calls: LiveCallRepository
    vocabularies: VocabularyRepository
    webhooks: WebhookRepository  # and their outbox (webhook_deliveries)
    ingest: IngestRepository  # the files watched folders took (ingest_files)

    def __init__(self, database: Database) -> None:
        self.database = database
        self._scope: AbstractContextManager[Session] | None = None
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._scope is not None:
            raise RuntimeError("A unit of work is used once; open a new one.")
        self._scope = self.database.session()
        session = self._session = self._scope.__enter__()
        self.calls = CallRepository(session)
        self.jobs = JobRepository(session)
        self.categories = CategoryRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.cache_entries = CacheEntryRepository(session)
        self.live_calls = LiveCallRepository(session)
        self.vocabularies = VocabularyRepository(session)
        self.webhooks = WebhookRepository(session)
        self.ingest = IngestRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Commit, or roll back (and translate an unreachable server's error)."""
        assert self._scope is not None, "the unit of work was not entered"
        self._session = None
        return self._scope.__exit__(exc_type, exc, traceback)

    def flush(self) -> None:
        """Write what is staged so far, inside the transaction (the next statements see it,
        and a constraint it breaks fails here rather than at the commit)."""
        if self._session is None:
            raise RuntimeError("The unit of work is not open.")
        self._session.flush()
