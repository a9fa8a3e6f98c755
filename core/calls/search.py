"""Semantic search over the stored utterances: the query's embedding against theirs, by cosine.

``numpy`` (SQLite and PostgreSQL) keeps every vector in one in-memory float32 matrix; a query
is a matrix-vector product and an ``argpartition`` top-k. Before each query a fingerprint read
in one snapshot says whether anything changed, here or in another process: calls deleted or
re-written are then dropped, new ones loaded, and rows written without their call rebuild.
``pgvector`` (PostgreSQL with that extension) ranks in the database: an ``embedding_v`` column
under an HNSW cosine index, backfilled from the blob column before each query. The SQL of
both is :class:`core.persistence.repositories.search.SearchRepository`'s.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from cachetools import LRUCache
from sqlalchemy.exc import DBAPIError

from core.calls.batching import MicroBatcher
from core.calls.metadata_filter import MetadataPairs, combine
from core.domain import Role
from core.errors import InvalidInputError
from core.persistence.database import Database
from core.persistence.repositories.calls import CallCriteria
from core.persistence.repositories.search import (
    Fingerprint,
    IndexSnapshot,
    SearchRepository,
    VectorRow,
)
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Embedder

log = logging.getLogger(__name__)

BACKENDS = ("auto", "numpy", "pgvector")
MAX_K = 100
MAX_QUERY_CHARS = 1000  # a search query is a phrase, not a document
QUERY_CACHE_SIZE = 1024
# One scan at a time: BLAS already spreads one product over every core, and concurrent ones
# (the API's threads) oversubscribe its spinning threads; measured: 50 concurrent searches
# ran at 160/s unserialised and 950/s serialised, against 1,400/s one by one.
_SCAN = threading.Lock()
SKIPPED = "Search skips %d utterance vectors not of dimension %d; re-analyse their calls."
PGVECTOR_HINT = "Install pgvector in the PostgreSQL server (see README) or use backend 'numpy'."


@dataclass(frozen=True, slots=True)
class SearchHit:
    call_id: str
    utterance_index: int
    speaker: str
    role: str
    start: float
    end: float
    text: str
    score: float  # cosine similarity, -1..1
    filename: str
    call_created_at: datetime


@dataclass(frozen=True, slots=True)
class _Query:
    vector: np.ndarray  # float32, L2-normalised
    k: int
    call_id: str | None
    role: str | None
    min_score: float | None
    metadata: MetadataPairs = ()  # only calls with every one of these pairs
    calls: frozenset[str] | None = None  # numpy: those calls' ids, found before ranking


def pgvector_available(database: Database) -> bool:
    """Whether the database is PostgreSQL and its server offers the ``vector`` extension."""
    return SearchRepository(database).pgvector_available()


class _NumpyIndex:
    """Every vector in memory, in columns; a call's rows are dropped and added together."""

    backend = "numpy"

    def __init__(self, store: SearchRepository) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._reset(0)

    def _reset(self, dim: int) -> None:
        self.dim, self._n, self._dirty = dim, 0, set()
        self._cols = _columns(dim, 0)  # vectors (n, dim), ids, calls and roles as codes
        self._call_codes: dict[str, int] = {}
        self._role_codes: dict[str, int] = {}
        # call id -> (updated_at, rows with or without vectors, their id sum, max id)
        self._known: dict[str, tuple[datetime, int, int, int]] = {}
        self._fingerprint: Fingerprint | None = None

    def invalidate(self, call_id: str | None) -> None:
        with self._lock:
            if call_id is None:
                self.dim = -1  # the next refresh starts from scratch
            else:
                self._dirty.add(call_id)

    def refresh(self, dim: int) -> bool:
        """Bring the index up to the database; whether anything changed."""
        with self._lock, self._store.snapshot() as snapshot:
            if dim != self.dim:
                self._reset(dim)
            fp = snapshot.fingerprint()
            if fp == self._fingerprint and not self._dirty:
                return False
            calls = snapshot.call_versions()
            gone = {c for c, known in self._known.items() if calls.get(c) != known[0]}
            self._drop(gone | self._dirty)
            self._dirty.clear()
            self._load(snapshot, {c: u for c, u in calls.items() if c not in self._known})
            if self._totals(fp[1] is not None) != fp[:3]:  # rows changed under their calls
                log.info("Search index out of step with the utterances table; rebuilding.")
                self._drop(set(self._known))
                self._load(snapshot, calls)
            self._fingerprint = fp
            return True

    def _totals(self, with_sum: bool) -> tuple[int, int | None, int | None]:
        known = [k for k in self._known.values() if k[1]]
        id_sum = sum(k[2] for k in known) if with_sum else None
        return sum(k[1] for k in known), id_sum, max((k[3] for k in known), default=None)

    def _drop(self, calls: set[str]) -> None:
        codes = [self._call_codes[c] for c in calls if c in self._call_codes]
        for c in calls:
            self._known.pop(c, None)
        keep = ~np.isin(self._cols["calls"][: self._n], codes)
        if not keep.all():  # new arrays, never in place: a query may be reading the old ones
            self._cols = {name: col[: self._n][keep] for name, col in self._cols.items()}
            self._n = int(keep.sum())

    def _load(self, snapshot: IndexSnapshot, calls: dict[str, datetime]) -> None:
        stats, skipped = {c: [0, 0, 0] for c in calls}, 0
        # Cold: one scan of the table; later: the new calls' rows through the call_id index.
        for part in snapshot.vectors(list(calls) if self._known else None):
            skipped += self._append(part, stats)
        self._known.update({c: (calls[c], s[0], s[1], s[2]) for c, s in stats.items()})
        if skipped:
            log.warning(SKIPPED, skipped, self.dim)

    def _append(self, rows: Sequence[VectorRow], stats: dict[str, list[int]]) -> int:
        size, skipped = self.dim * 4, 0
        blobs: list[bytes] = []
        ids: list[int] = []
        calls: list[int] = []
        roles: list[int] = []
        for id_, call_id, role, blob in rows:
            if (s := stats.get(call_id)) is None:
                continue
            s[0], s[1], s[2] = s[0] + 1, s[1] + id_, max(s[2], id_)
            if blob is not None and len(blob) != size:
                skipped += 1
            elif blob is not None:
                blobs.append(blob)
                ids.append(id_)
                calls.append(self._call_codes.setdefault(call_id, len(self._call_codes)))
                roles.append(self._role_codes.setdefault(role, len(self._role_codes)))
        if not ids:
            return skipped
        vectors = np.frombuffer(b"".join(blobs), "<f4").reshape(len(ids), self.dim)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        start, end = self._n, self._n + len(ids)
        if end > len(self._cols["ids"]):  # grow by half: appends stay amortised O(new rows)
            fresh = _columns(self.dim, max(end, len(self._cols["ids"]) * 3 // 2, 1024))
            for name, col in self._cols.items():
                fresh[name][:start] = col[:start]
            self._cols = fresh
        self._cols["vectors"][start:end] = vectors / np.where(norms > 0, norms, 1.0)
        for name, values in (("ids", ids), ("calls", calls), ("roles", roles)):
            self._cols[name][start:end] = values
        self._n = end
        return skipped

    def query(self, q: _Query) -> list[tuple[int, float]]:
        return self.query_many([q])[0]

    def query_many(self, qs: Sequence[_Query]) -> list[list[tuple[int, float]]]:
        """Each query's ranked (id, score), from one matrix product for all of them: a batch
        of queries reads the vectors once (a product per query read them once each)."""
        with self._lock:  # a consistent view: appends only write past n, drops copy
            n, cols = self._n, self._cols
            filters = [self._codes(q) for q in qs]
        live = [i for i, f in enumerate(filters) if f is not None and n > 0]
        out: list[list[tuple[int, float]]] = [[] for _ in qs]
        if not live:
            return out
        with _SCAN:
            ids = cols["ids"][:n]
            scores = cols["vectors"][:n] @ np.stack([qs[i].vector for i in live], axis=1)
        for column, i in enumerate(live):
            out[i] = self._top(qs[i], filters[i], ids, scores[:, column], cols, n)
        return out

    def _codes(self, q: _Query) -> tuple[int | None, int | None, list[int] | None] | None:
        """The query's call, role and calls as codes; None when it cannot match anything."""
        call_code = None if q.call_id is None else self._call_codes.get(q.call_id, -1)
        role_code = None if q.role is None else self._role_codes.get(q.role, -1)
        among = None
        if q.calls is not None:
            among = [self._call_codes[c] for c in q.calls if c in self._call_codes]
        if call_code == -1 or role_code == -1 or among == []:
            return None
        return call_code, role_code, among

    @staticmethod
    def _top(
        q: _Query,
        codes: tuple[int | None, int | None, list[int] | None] | None,
        ids: np.ndarray,
        scores: np.ndarray,
        cols: dict[str, np.ndarray],
        n: int,
    ) -> list[tuple[int, float]]:
        assert codes is not None
        call_code, role_code, among = codes
        mask = None if q.min_score is None else scores >= q.min_score
        for name, code in (("calls", call_code), ("roles", role_code)):
            if code is not None:
                hit = cols[name][:n] == code
                mask = hit if mask is None else mask & hit
        if among is not None:
            hit = np.isin(cols["calls"][:n], among)
            mask = hit if mask is None else mask & hit
        rows = np.arange(n) if mask is None else np.flatnonzero(mask)
        if len(rows) > q.k:
            rows = rows[np.argpartition(-scores[rows], q.k - 1)[: q.k]]
        rows = rows[np.lexsort((ids[rows], -scores[rows]))]
        return [(int(ids[r]), float(scores[r])) for r in rows]


def _columns(dim: int, size: int) -> dict[str, np.ndarray]:
    kinds = (("ids", np.int64), ("calls", np.int32), ("roles", np.int16))
    columns = {name: np.zeros(size, kind) for name, kind in kinds}
    return columns | {"vectors": np.zeros((size, dim), np.float32)}


class _PgvectorIndex:
    """PostgreSQL ranks: ``embedding_v vector(dim)`` under an HNSW cosine index."""

    backend = "pgvector"

    def __init__(self, store: SearchRepository) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.dim = 0

    def invalidate(self, call_id: str | None) -> None:
        """Nothing to do: deletes are the database's, new rows are backfilled per query."""

    def refresh(self, dim: int) -> bool:
        """Backfill new rows' vectors; True: the database ranks, so there is no view to keep."""
        with self._lock:
            setup = self._store.sync_pgvector(dim, prepare=dim != self.dim)
            if setup is not None and setup.replaced is not None:  # the model changed
                log.warning("Search: embedding_v becomes vector(%d) (was %s).", dim, setup.replaced)
            if setup is not None and setup.skipped:
                log.warning(SKIPPED, setup.skipped, dim)
            self.dim = dim
        return True

    def query_many(self, qs: Sequence[_Query]) -> list[list[tuple[int, float]]]:
        return [self.query(q) for q in qs]

    def query(self, q: _Query) -> list[tuple[int, float]]:
        return self._store.rank_pgvector(
            q.vector,
            q.k,
            call_id=q.call_id,
            role=q.role,
            min_score=q.min_score,
            metadata=q.metadata,
        )


class SemanticSearch:
    """Ranks the stored utterances by cosine similarity to a free-text query."""

    def __init__(
        self,
        database: Database,
        embedder: Embedder,
        *,
        backend: str = "auto",
        refresh_s: float = 0.0,
    ) -> None:
        """``refresh_s`` (SEARCH_REFRESH_S): how long the in-memory index is taken as current
        without asking the database whether another process changed a call; changes made
        through this process (:meth:`invalidate`) count at once. Within it, a query asked
        again is answered from the results it got (numpy backend). 0: ask before every query.
        """
        if backend not in BACKENDS:
            raise InvalidInputError(f"No search backend {backend!r}.", f"Use one of {BACKENDS}.")
        self._database = database
        self._store = SearchRepository(database)
        self._embedder = embedder
        self._requested = backend
        self._index: _NumpyIndex | _PgvectorIndex | None = None
        self._lock = threading.Lock()
        # Query vectors, by query text: a repeated query (a saved search, a dashboard) skips
        # the model. Only ever touched from the event loop's thread.
        self._queries: LRUCache[str, np.ndarray] = LRUCache(maxsize=QUERY_CACHE_SIZE)
        # Searches arriving together are one batch: one embedding call for their new
        # queries, one thread hop, one matrix product, one read of the hits.
        self._searches = MicroBatcher(self._search_batch, max_batch=32)
        # Answers by (query, k, filters), valid while the index is taken as current.
        self._refresh_s = refresh_s
        self._results: LRUCache[tuple[object, ...], list[SearchHit]] = LRUCache(
            maxsize=QUERY_CACHE_SIZE
        )
        self._results_lock = threading.Lock()
        self._current_until = float("-inf")  # time.monotonic(): no database check before it
        self._generation = 0  # bumped by invalidate(): answers read before it are not kept

    @property
    def backend(self) -> str:
        """``numpy`` or ``pgvector`` (the first call may ask the database which)."""
        return self._resolve().backend

    def _resolve(self) -> _NumpyIndex | _PgvectorIndex:
        with self._lock:
            if self._index is None:
                pg = self._requested != "numpy" and self._store.pgvector_available()
                if self._requested == "pgvector" and not pg:
                    raise InvalidInputError("pgvector is not available here.", PGVECTOR_HINT)
                self._index = _PgvectorIndex(self._store) if pg else _NumpyIndex(self._store)
            return self._index

    def invalidate(self, call_id: str | None = None) -> None:
        """Say a call (None: anything) changed in this process; other writers are seen anyway
        (within ``refresh_s``)."""
        with self._results_lock:
            self._generation += 1
            self._current_until = float("-inf")
            self._results.clear()
        if self._index is not None:
            self._index.invalidate(call_id)

    async def warm(self) -> None:
        """Load the embedding model and the index now rather than at the first query."""
        await self._embedder.load()
        await asyncio.to_thread(self._refresh, self._embedder.dimension)

    def _refresh(self, dim: int) -> tuple[_NumpyIndex | _PgvectorIndex, bool]:
        """The index, brought up to the database; whether it changed."""
        index = self._resolve()
        try:
            changed = index.refresh(dim)
        except DBAPIError as exc:  # "auto" and pgvector cannot be set up (privileges)
            if index.backend != "pgvector" or index.dim or self._requested != "auto":
                raise
            log.warning("pgvector cannot be set up (%s); searching with numpy.", exc)
            index = _NumpyIndex(self._store)
            changed = index.refresh(dim)
            with self._lock:
                self._index = index
        return index, changed

    async def search(
        self,
        query: str,
        k: int = 10,
        *,
        call_id: str | None = None,
        role: str | None = None,
        min_score: float | None = None,
        metadata: MetadataPairs = (),
    ) -> list[SearchHit]:
        """The ``k`` utterances most similar to ``query``, best first; only of calls with
        every ``metadata`` (key, value) pair when given. The list is not to be changed: an
        answer kept for READ_REFRESH_S is the same list for every caller."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("The search query is empty.", "Pass some words to look for.")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInputError(
                f"The search query is {len(query):,} characters long, over {MAX_QUERY_CHARS:,}.",
                "Search with a phrase or a sentence.",
            )
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k={k!r} is out of range.", f"Ask for 1 to {MAX_K} hits.")
        if role is not None and role not in (roles := [r.value for r in Role]):
            raise InvalidInputError(f"Unknown role {role!r}.", f"Use one of {roles}.")
        if min_score is not None and not (math.isfinite(min_score) and -1 <= min_score <= 1):
            raise InvalidInputError(f"min_score={min_score!r}.", "A cosine score lies in -1..1.")
        pairs = combine(metadata)
        key = (query.strip(), k, call_id, role, min_score, pairs)
        if time.monotonic() < self._current_until:  # asked again: answered here, no thread
            with self._results_lock:
                known = self._results.get(key)
            if known is not None:
                return known  # the kept list itself (callers read it): rendered once (API)
        # Identical searches waiting together are computed once (MicroBatcher).
        return list(await self._searches(key))

    async def _search_batch(self, keys: list[tuple[Any, ...]]) -> list[list[SearchHit]]:
        texts = [key[0] for key in keys]
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            vectors = np.asarray(await self._embedder.embed(missing), np.float32)
            for text, vector in zip(missing, vectors, strict=True):
                self._queries[text] = np.ascontiguousarray(vector)
        qs = [
            _Query(self._queries[text], k, call_id, role, min_score, pairs)
            for text, (_, k, call_id, role, min_score, pairs) in zip(texts, keys, strict=True)
        ]
        return await asyncio.to_thread(self._search_many, qs, keys)

    def _search(self, q: _Query, key: tuple[object, ...] | None = None) -> list[SearchHit]:
        return self._search_many([q], [key])[0]

    def _search_many(
        self, qs: list[_Query], keys: Sequence[tuple[object, ...] | None]
    ) -> list[list[SearchHit]]:
        """Rank, then read the hits' details in one query; rows deleted meanwhile drop out.
        With a key and ``refresh_s``, each answer is kept for the same query asked again."""
        checked, generation = time.monotonic(), self._generation
        current = checked < self._current_until
        index = self._resolve()
        if not current:
            index, changed = self._refresh(len(qs[0].vector))
            if changed:
                with self._results_lock:
                    self._results.clear()
        answers = self._rank_many(index, qs)
        if self._refresh_s > 0 and index.backend == "numpy":
            with self._results_lock:
                if generation == self._generation:  # no change in this process meanwhile
                    for key, hits in zip(keys, answers, strict=True):
                        if key is not None:
                            self._results[key] = hits
                    if not current:
                        self._current_until = checked + self._refresh_s
        return [list(hits) for hits in answers]

    def _rank_many(
        self, index: _NumpyIndex | _PgvectorIndex, qs: list[_Query]
    ) -> list[list[SearchHit]]:
        if index.backend == "numpy":
            qs = [self._among(q) for q in qs]
        ranked = index.query_many(qs)
        rows = self._store.hits([i for r in ranked for i, _ in r])
        answers = []
        for one in ranked:
            hits = []
            for id_, score in one:
                if (r := rows.get(id_)) is not None:
                    _, call_id, position, speaker, role, start, end, text, filename, at = r
                    if at.tzinfo is None:
                        at = at.replace(tzinfo=UTC)
                    hits.append(
                        SearchHit(
                            call_id, position, speaker, role, start, end, text, score, filename, at
                        )
                    )
            answers.append(hits)
        return answers

    def _among(self, q: _Query) -> _Query:
        """numpy: a metadata filter becomes the ids of the calls it matches (pgvector
        filters in its own query)."""
        if not q.metadata:
            return q
        with UnitOfWork(self._database) as uow:
            calls = uow.calls.ids(CallCriteria(metadata=q.metadata))
        return replace(q, calls=frozenset(calls))
