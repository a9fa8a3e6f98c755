"""The tiered cache over the real Redis: two caches play two processes sharing one server."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from core.adapters.cache import CallDocumentCache, TieredCache

REDIS = "redis://127.0.0.1:6379/0"
UNREACHABLE = "redis://127.0.0.1:1/0"

MakeCache = Callable[..., TieredCache]


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = f"callytics-test-{uuid.uuid4().hex[:10]}"
    yield ns
    client = redis.Redis.from_url(REDIS)
    for name in client.scan_iter(match=f"{ns}:*"):
        client.delete(name)
    client.close()


@pytest.fixture
def make_cache(namespace: str) -> Iterator[MakeCache]:
    caches: list[TieredCache] = []

    def make(**kwargs) -> TieredCache:
        kwargs = {"namespace": namespace, "redis_url": REDIS, **kwargs}
        caches.append(TieredCache(**kwargs))
        return caches[-1]

    yield make
    for cache in caches:
        cache.close()


def tier_counts(cache: TieredCache) -> dict:
    stats = cache.stats()
    return {t: (stats[t]["hits"], stats[t]["misses"]) for t in ("memory", "redis", "database")}


def test_a_value_set_by_one_process_is_read_by_another_through_redis(make_cache, namespace):
    a, b = make_cache(redis_ttl_s=120), make_cache(redis_ttl_s=120)
    a.set("k", b"value")
    assert b.get("k") == b"value"
    assert b.get("k") == b"value"  # now from b's own memory
    assert tier_counts(b) == {"memory": (1, 1), "redis": (1, 0), "database": (0, 0)}
    assert b.stats()["redis_configured"] is True
    ttl = redis.Redis.from_url(REDIS).ttl(f"{namespace}:k")
    assert 0 < ttl <= 120


def test_delete_in_one_process_evicts_the_value_from_the_others_memory(make_cache):
    a, b = make_cache(), make_cache()
    a.set("k", b"v1")
    assert b.get("k") == b"v1"  # b keeps it in memory and starts listening
    b.set("untouched", b"x")
    assert b.start()

    a.set("k", b"v2")  # a set is not broadcast: b's memory still answers
    assert b.get("k") == b"v1"
    memory_misses = b.stats()["memory"]["misses"]

    a.delete("k")
    assert b.wait_for_invalidations(1)
    assert b.get("k") is None
    assert b.stats()["memory"]["misses"] == memory_misses + 1
    assert b.get("untouched") == b"x"  # only the deleted key was evicted
    assert b.stats()["memory"]["hits"] == 2


def test_a_reanalysed_call_document_is_reloaded_by_every_process(make_cache):
    a, b = CallDocumentCache(make_cache()), CallDocumentCache(make_cache())
    v1, v2 = {"id": "c1", "summary": "first"}, {"id": "c1", "summary": "second"}
    assert a.get("c1", lambda: v1) == v1

    def must_not_load() -> dict:
        raise AssertionError("the document should have come from Redis")

    assert b.get("c1", must_not_load) == v1
    assert tier_counts(b.cache)["redis"] == (1, 0)

    a.invalidate("c1")
    assert b.cache.wait_for_invalidations(1)
    assert b.get("c1", lambda: v2) == v2
    assert a.get("c1", lambda: v2) == v2


def test_a_listener_that_lost_redis_forgets_everything_once_back(make_cache, namespace):
    a, b = make_cache(retry_after_s=0), make_cache(retry_after_s=0)
    a.set("k", b"v1")
    assert b.get("k") == b"v1"
    assert b.start()
    server = redis.Redis.from_url(REDIS)
    listeners = [c for c in server.client_list() if c["name"] == namespace and c["sub"] != "0"]
    assert len(listeners) == 2  # a's and b's
    for client in listeners:  # a network blip: invalidations sent meanwhile would be lost
        server.client_kill_filter(_id=client["id"])
    assert b.wait_for_invalidations(1)  # b re-subscribed and cleared its memory
    assert b.get("k") == b"v1"
    assert tier_counts(b)["redis"] == (2, 0)  # read from Redis again, not from memory

    assert a.wait_for_invalidations(1)
    a.delete("k")  # and broadcasts reach b again
    assert b.wait_for_invalidations(1)
    assert b.get("k") is None


def test_a_database_hit_is_copied_back_into_redis(make_cache, namespace, database):
    make_cache(database=database).set("emb", b"\x01\x02", durable=True)
    client = redis.Redis.from_url(REDIS)
    client.delete(f"{namespace}:emb")  # Redis lost it (eviction, restart)

    assert make_cache(database=database).get("emb") == b"\x01\x02"
    assert client.get(f"{namespace}:emb") == b"\x01\x02"
    third = make_cache(database=database)
    assert third.get("emb") == b"\x01\x02"
    assert tier_counts(third) == {"memory": (0, 1), "redis": (1, 0), "database": (0, 0)}


def test_close_stops_the_listener_thread(make_cache):
    cache = make_cache()
    assert cache.start()
    name = f"cache:{cache.channel}"
    assert [t for t in threading.enumerate() if t.name == name]
    cache.close()
    assert not [t for t in threading.enumerate() if t.name == name]
    cache.set("k", b"v")  # a closed cache does not start listening again
    assert not [t for t in threading.enumerate() if t.name == name]


def test_an_unreachable_redis_never_fails_a_request(make_cache, database, caplog):
    cache = make_cache(redis_url=UNREACHABLE, retry_after_s=0, database=database)
    with caplog.at_level(logging.WARNING, logger="core.adapters.cache"):
        assert cache.start() is False
        cache.set("k", b"v")
        cache.set("d", b"durable", durable=True)
        assert cache.get("k") == b"v"
        assert cache.get_or_load("doc:1", lambda: b"{}") == b"{}"
        cache.delete("k")
        assert cache.get("k") is None
        assert make_cache(redis_url=UNREACHABLE, database=database).get("d") == b"durable"

    stats = cache.stats()
    assert stats["redis_configured"] is True
    assert stats["redis_errors"] >= 5
    assert stats["redis"] == {"hits": 0, "misses": 0}
    assert stats["memory"]["hits"] == 1
    warnings = [r for r in caplog.records if r.name == "core.adapters.cache"]
    assert len(warnings) == 2  # one per cache, not one per failed call


def test_after_a_failure_redis_is_left_alone_for_a_while(make_cache):
    cache = make_cache(redis_url=UNREACHABLE, retry_after_s=3600)
    cache.set("k", b"v")
    for _ in range(3):
        assert cache.get("k") == b"v"
        assert cache.get("other") is None
    assert cache.stats()["redis_errors"] == 1
