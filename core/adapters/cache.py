"""A three-tier cache for call documents and for embedding/LLM results.

Tiers, read top to bottom, a hit back-filling the tiers above it:

1. **memory**: a ``cachetools.TTLCache`` per process, guarded by a lock (short TTL).
2. **redis**: shared by every process when a Redis URL is given (keys ``<namespace>:<key>``).
   Redis is an optimisation: when it fails the cache logs one warning, counts an error,
   leaves Redis alone for ``retry_after_s`` and carries on with the other tiers.
3. **database**: for content-keyed results (``set(..., durable=True)``) the ``cache_entries``
   table; for call documents the ``calls`` table itself, read through ``get_or_load``.

Invalidation: ``delete`` removes a key from every tier and publishes it on the Redis channel
``<namespace>:invalidate``; a listener thread in each process evicts it from that process's
memory tier. A listener that loses Redis clears its memory tier (it may have missed some).
``set`` does not broadcast: content-hash keys never change value, and the code that changes a
call document deletes its key after the change commits.

Values are bytes, never pickles (Redis may be shared): JSON for dicts, raw float32 for vectors.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import numpy as np
import orjson
import redis
from cachetools import TTLCache
from sqlalchemy.exc import IntegrityError

from core.analysis.document import analysis_state
from core.domain import CallAnalysis, Conversation, ProfanityHit, Resolution, Role, SentimentLabel
from core.persistence.database import Database
from core.persistence.unit_of_work import UnitOfWork
from core.ports import CallAnalyzer, Embedder, close_stage

log = logging.getLogger(__name__)
T = TypeVar("T")
TIERS = ("memory", "redis", "database")
REDIS_ERRORS = (redis.RedisError, OSError)
MAX_KEY_LEN = 200  # cache_entries.key is String(200)


# sorted keys; datetimes and dataclasses as ``str()`` gives them, as the stdlib path did
ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_dumps(obj: Any) -> bytes:
    """Stable JSON (sorted keys, no spaces): the bytes of every dict in the cache."""
    try:
        return orjson.dumps(obj, default=str, option=ORJSON_OPTIONS)
    except TypeError:  # what orjson does not know (or an int past 64 bits): stdlib's way
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()


def json_loads(data: bytes) -> Any:
    return orjson.loads(data)


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(data: bytes | None, dimension: int) -> np.ndarray | None:
    """The float32 vector, or None when ``data`` does not hold ``dimension`` of them."""
    if data is None or len(data) != 4 * dimension:
        return None
    return np.frombuffer(data, dtype=np.float32).copy()


def content_key(kind: str, model: str, payload: str) -> str:
    """``kind:model:sha256(payload)``; a model name too long for the key column is hashed."""
    digest = hashlib.sha256(payload.encode()).hexdigest()
    key = f"{kind}:{model}:{digest}"
    if len(key) > MAX_KEY_LEN:
        key = f"{kind}:{hashlib.sha256(model.encode()).hexdigest()[:16]}:{digest}"
    return key


class CacheStats:
    """Hits and misses per tier, ``misses`` past every tier and Redis errors; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, tier: str, hits: int, misses: int) -> None:
        with self._lock:
            self._counts[f"{tier}.hits"] += hits
            self._counts[f"{tier}.misses"] += misses

    def add(self, name: str, n: int = 1) -> None:
        """Count ``misses`` (past every tier) or ``redis_errors``."""
        with self._lock:
            self._counts[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            c = self._counts.copy()
        out: dict[str, Any] = {
            t: {"hits": c[f"{t}.hits"], "misses": c[f"{t}.misses"]} for t in TIERS
        }
        return {**out, "misses": c["misses"], "redis_errors": c["redis_errors"]}


def _db_get(database: Database, keys: Sequence[str]) -> dict[str, bytes]:
    now = datetime.now(UTC)
    with UnitOfWork(database) as uow:
        return uow.cache_entries.fresh(keys, now)


def _db_put(database: Database, items: dict[str, bytes]) -> None:
    """Upsert by merge; a concurrent insert of the same key makes the first try fail."""
    for attempt in (1, 2):
        try:
            with UnitOfWork(database) as uow:
                uow.cache_entries.put_many(items)
            return
        except IntegrityError:
            if attempt == 2:
                log.warning("cache: could not store %d durable entries", len(items))


class TieredCache:
    """Memory, then Redis (when configured), then the database; see the module docstring."""

    def __init__(
        self,
        *,
        namespace: str = "callytics",
        memory_ttl_s: float = 300.0,
        memory_maxsize: int = 2048,
        redis_url: str | None = None,
        redis_ttl_s: int = 86400,
        database: Database | None = None,
        retry_after_s: float = 5.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace, self.channel = namespace, f"{namespace}:invalidate"
        self.redis_ttl_s, self.retry_after_s = redis_ttl_s, retry_after_s
        self.database = database
        self.counts = CacheStats()
        self._memory: TTLCache[str, bytes] = TTLCache(memory_maxsize, memory_ttl_s, timer=timer)
        self._lock = threading.Lock()
        self._evictions = 0  # a value read before an eviction may be stale: it is not kept
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=2, client_name=namespace)
            if redis_url
            else None
        )
        self._redis_down_until = 0.0
        self._redis_warned = False
        self._listener: threading.Thread | None = None
        self._listener_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._received = threading.Semaphore(0)  # released once per invalidation handled

    def get(self, key: str) -> bytes | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values found for ``keys`` (absent ones left out), each tier asked once."""
        found, missing, since = self._get_upper(list(dict.fromkeys(keys)))
        if missing and self.database is not None:
            lower = _db_get(self.database, missing)
            self.counts.record("database", len(lower), len(missing) - len(lower))
            self._remember(lower, since)
            self._redis_set(lower)
            found.update(lower)
            missing = [k for k in missing if k not in lower]
        self.counts.add("misses", len(missing))
        return found

    def set(self, key: str, value: bytes, *, durable: bool = False) -> None:
        self.set_many({key: value}, durable=durable)

    def set_many(self, items: dict[str, bytes], *, durable: bool = False) -> None:
        """Store in memory and Redis; with ``durable`` in ``cache_entries`` too."""
        self._remember(items)
        self._redis_set(items)
        if durable and self.database is not None and items:
            _db_put(self.database, items)

    def peek(self, key: str) -> bytes | None:
        """The memory tier's value, or None: no I/O, so the event loop may call it. A hit is
        counted; a miss is not (the read that follows, through :meth:`get_or_load`, is)."""
        with self._lock:
            value = self._memory.get(key)
        if value is not None:
            self.counts.record("memory", 1, 0)
        return value

    def get_or_load(self, key: str, loader: Callable[[], bytes | None]) -> bytes | None:
        """Memory, Redis, then ``loader``: the system of record, counted as the database tier."""
        found, _, since = self._get_upper([key])
        if key in found:
            return found[key]
        value = loader()
        self.counts.record("database", int(value is not None), int(value is None))
        if value is None:
            self.counts.add("misses")
            return None
        if self._remember({key: value}, since):
            self._redis_set({key: value})
        return value

    def delete(self, key: str) -> None:
        """Remove ``key`` from every tier and tell the other processes to forget it."""
        self._evict(key)
        if self.database is not None:
            with UnitOfWork(self.database) as uow:
                uow.cache_entries.delete(key)
        self._redis_call(lambda r: r.delete(f"{self.namespace}:{key}"))
        self._redis_call(lambda r: r.publish(self.channel, key))

    def stats(self) -> dict[str, Any]:
        return {**self.counts.snapshot(), "redis_configured": self._redis is not None}

    def _get_upper(self, keys: list[str]) -> tuple[dict[str, bytes], list[str], int]:
        with self._lock:
            since = self._evictions
            found = {k: v for k in keys if (v := self._memory.get(k)) is not None}
        missing = [k for k in keys if k not in found]
        self.counts.record("memory", len(found), len(missing))
        if missing and self._redis is not None:
            names = [f"{self.namespace}:{k}" for k in missing]
            values = self._redis_call(lambda r: cast(list[bytes | None], r.mget(names)))
            if values is not None:
                shared = {k: v for k, v in zip(missing, values, strict=True) if v is not None}
                self.counts.record("redis", len(shared), len(missing) - len(shared))
                self._remember(shared, since)
                found.update(shared)
                missing = [k for k in missing if k not in shared]
        return found, missing, since

    def _remember(self, items: dict[str, bytes], since: int | None = None) -> bool:
        """Fill the memory tier, unless an eviction happened ``since`` the value was read."""
        if not items:
            return False
        with self._lock:
            if since is not None and since != self._evictions:
                return False
            self._memory.update(items)
        if self._redis is not None and self._listener is None and not self._closed:
            self.start()
        return True

    def _evict(self, key: str | None) -> None:
        """Forget ``key`` here, or everything when None."""
        with self._lock:
            self._evictions += 1
            if key is None:
                self._memory.clear()
            else:
                self._memory.pop(key, None)

    def _redis_set(self, items: dict[str, bytes]) -> None:
        def write(client: redis.Redis) -> None:
            pipe = client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(f"{self.namespace}:{key}", value, ex=self.redis_ttl_s)
            pipe.execute()

        if items:
            self._redis_call(write)

    def _redis_call(self, op: Callable[[redis.Redis], T]) -> T | None:
        """``op`` on the Redis client; None when Redis is absent, failing or left alone."""
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            result = op(self._redis)
        except REDIS_ERRORS as exc:
            self._redis_failed(exc)
            return None
        if self._redis_warned:
            self._redis_warned = False
            log.info("cache: Redis is reachable again")
        return result

    def _redis_failed(self, exc: BaseException) -> None:
        self.counts.add("redis_errors")
        self._redis_down_until = time.monotonic() + self.retry_after_s
        if not self._redis_warned:
            self._redis_warned = True
            log.warning("cache: Redis unavailable, carrying on without it: %s", exc)

    def start(self) -> bool:
        """Subscribe to invalidations and start the listener; True once Redis confirmed."""
        with self._listener_lock:
            if self._listener is not None or self._closed:
                return self._listener is not None
            if self._redis is None or time.monotonic() < self._redis_down_until:
                return False
            pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]  # redis-py's stubs
            try:
                pubsub.subscribe(self.channel)
                confirmation = pubsub.get_message(timeout=2.0)
                if confirmation is None or confirmation["type"] != "subscribe":
                    raise redis.TimeoutError("Redis did not confirm the subscription")
            except REDIS_ERRORS as exc:
                self._redis_failed(exc)
                pubsub.close()
                return False
            self._listener = threading.Thread(
                target=self._listen, args=(pubsub,), name=f"cache:{self.channel}", daemon=True
            )
            self._listener.start()
            return True

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        try:
            while not self._stop.is_set():
                try:
                    message = pubsub.get_message(timeout=0.5)
                except REDIS_ERRORS as exc:
                    self._redis_failed(exc)
                    self._evict(None)  # invalidations may be lost while disconnected
                    self._stop.wait(max(self.retry_after_s, 0.5))
                    continue
                if message is not None and message["type"] in ("message", "subscribe"):
                    # A key to forget; or, subscribed again after a reconnect, everything.
                    self._evict(message["data"].decode() if message["type"] == "message" else None)
                    self._received.release()
        finally:
            pubsub.close()

    def wait_for_invalidations(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait for the listener to handle ``count`` more invalidations (a reconnect is one)."""
        return all(self._received.acquire(timeout=timeout) for _ in range(count))

    def close(self) -> None:
        with self._listener_lock:
            listener, self._listener, self._closed = self._listener, None, True
            self._stop.set()
        if listener is not None:
            listener.join(timeout=5)
        if self._redis is not None:
            self._redis.close()


class CallDocumentCache:
    """Call documents (JSON) in front of the calls table, under ``doc:<call_id>``."""

    def __init__(self, cache: TieredCache) -> None:
        self.cache = cache

    def get(
        self, call_id: str, loader: Callable[[], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        data = self.get_json(call_id, loader)
        return None if data is None else json_loads(data)

    def get_json(self, call_id: str, loader: Callable[[], dict[str, Any] | None]) -> bytes | None:
        """The document as stored JSON bytes: what an HTTP response can send as is."""

        def load() -> bytes | None:
            document = loader()
            return None if document is None else json_dumps(document)

        return self.cache.get_or_load(f"doc:{call_id}", load)

    def peek_json(self, call_id: str) -> bytes | None:
        """The document's JSON if this process's memory tier holds it (no I/O)."""
        return self.cache.peek(f"doc:{call_id}")

    def invalidate(self, call_id: str) -> None:
        """After the call was deleted or re-analysed, once that transaction committed."""
        self.cache.delete(f"doc:{call_id}")


class CachingEmbedder:
    """An Embedder that embeds, in one batch, only the texts the cache does not know."""

    def __init__(self, inner: Embedder, cache: TieredCache) -> None:
        self.inner, self.cache = inner, cache
        self.info, self.load = inner.info, inner.load
        self._loaded = False

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not self._loaded:  # a remote engine knows its model and dimension once loaded
            await self.inner.load()
            self._loaded = True
        model, dim = self.inner.info().model, self.dimension
        keys = {t: content_key("embedding", model, t) for t in dict.fromkeys(texts)}
        stored = await asyncio.to_thread(self.cache.get_many, keys.values())
        vectors = {t: vector_from_bytes(stored.get(k), dim) for t, k in keys.items()}
        misses = [t for t, v in vectors.items() if v is None]  # or stored at another size
        if misses:
            fresh = np.asarray(await self.inner.embed(misses), dtype=np.float32)
            vectors.update(zip(misses, fresh, strict=True))
            items = {keys[t]: vector_to_bytes(v) for t, v in zip(misses, fresh, strict=True)}
            await asyncio.to_thread(self.cache.set_many, items, durable=True)
        return np.array([vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), dim)

    async def aclose(self) -> None:
        await close_stage(self.inner)


def analysis_from_dict(data: dict[str, Any]) -> CallAnalysis:
    """The inverse of :func:`core.analysis.document.analysis_state` (and of ``analysis_dict``)."""
    return CallAnalysis(
        summary=data["summary"],
        topics=list(data["topics"]),
        reason=data["reason"],
        resolution=Resolution(data["resolution"]),
        conflict_detected=bool(data["conflict"]["detected"]),
        conflict_evidence=[int(i) for i in data["conflict"]["evidence"]],
        profanity=[ProfanityHit(int(p["utterance"]), list(p["words"])) for p in data["profanity"]],
        action_items=list(data["action_items"]),
        provider=data["provider"],
        model=str(data.get("model") or ""),
        sources={str(k): str(v) for k, v in (data.get("sources") or {}).items()},
        utterance_sentiment=(
            None
            if data.get("utterance_sentiment") is None
            else {int(i): SentimentLabel(v) for i, v in data["utterance_sentiment"].items()}
        ),
        speaker_roles=(
            None
            if data.get("speaker_roles") is None
            else {str(k): Role(v) for k, v in data["speaker_roles"].items()}
        ),
        warnings=[str(w) for w in data.get("warnings") or []],
    )


class CachingAnalyzer:
    """A CallAnalyzer that answers a conversation its engine and model analysed before."""

    def __init__(self, inner: CallAnalyzer, cache: TieredCache) -> None:
        self.inner, self.cache = inner, cache
        self.info, self.load = inner.info, inner.load
        self._loaded = False

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        if not self._loaded:  # a remote engine knows its model once loaded
            await self.inner.load()
            self._loaded = True
        info, payload = self.inner.info(), json_dumps(dataclasses.asdict(conversation)).decode()
        tag = f"{info.engine}/{info.model}/{info.extra.get('fields', '')}/{info.extra.get('prompt', '')}"
        key = content_key("analysis", tag, payload)
        data = await asyncio.to_thread(self.cache.get, key)
        if data is not None:
            try:
                return analysis_from_dict(json_loads(data))
            except (KeyError, TypeError, ValueError):
                log.warning("cache: unreadable analysis under %s; analysing again", key)
        analysis = await self.inner.analyze(conversation)  # a failure is not cached
        value = json_dumps(analysis_state(analysis))
        await asyncio.to_thread(self.cache.set, key, value, durable=True)
        return analysis

    async def aclose(self) -> None:
        await close_stage(self.inner)
