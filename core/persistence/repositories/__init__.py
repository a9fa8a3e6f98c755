"""Repositories, one per aggregate: the only place where SQL is written.

Each is built on the session of a :class:`core.persistence.unit_of_work.UnitOfWork`, which
owns the transaction; :class:`SearchRepository` alone works on connections of its own (see
its module).
"""

from core.persistence.repositories.api_keys import ApiKeyRepository
from core.persistence.repositories.cache import CacheEntryRepository
from core.persistence.repositories.calls import CallCriteria, CallRepository
from core.persistence.repositories.categories import CategoryRepository
from core.persistence.repositories.common import as_utc, from_blob, to_blob, topics_text
from core.persistence.repositories.jobs import JobRepository
from core.persistence.repositories.search import SearchRepository

__all__ = [
    "ApiKeyRepository",
    "CacheEntryRepository",
    "CallCriteria",
    "CallRepository",
    "CategoryRepository",
    "JobRepository",
    "SearchRepository",
    "as_utc",
    "from_blob",
    "to_blob",
    "topics_text",
]
