"""The tiered cache without Redis: memory and database tiers, and the caching stage adapters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import event, insert, select

from core.adapters.cache import (
    CachingAnalyzer,
    CachingEmbedder,
    CallDocumentCache,
    TieredCache,
    content_key,
    json_dumps,
    json_loads,
    vector_from_bytes,
    vector_to_bytes,
)
from core.domain import (
    CallAnalysis,
    Conversation,
    ProfanityHit,
    Resolution,
    Role,
    Sentiment,
    SentimentLabel,
    Speaker,
    StageInfo,
    Utterance,
)
from core.persistence.models import CacheEntryRow
from core.ports import CallAnalyzer, Embedder
from tests.unit.fakes import FakeCallAnalyzer, words_of


def tier_counts(cache: TieredCache) -> dict:
    stats = cache.stats()
    return {t: (stats[t]["hits"], stats[t]["misses"]) for t in ("memory", "redis", "database")}


def stored_keys(database) -> set[str]:
    with database.session() as s:
        return set(s.scalars(select(CacheEntryRow.key)))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingEmbedder:
    """Distinct unit vectors from the text's characters; records every batch it is given."""

    dimension = 4

    def __init__(self, model: str = "rec-v1") -> None:
        self.model = model
        self.batches: list[list[str]] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "recording", self.model)

    async def load(self) -> None:
        return None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.stack([self.vector(t) for t in texts]).astype(np.float32)

    @staticmethod
    def vector(text: str) -> np.ndarray:
        v = np.array([ord(c) for c in text.ljust(4, "_")[:4]], dtype=np.float32)
        v[0] += len(text)
        return v / np.linalg.norm(v)


class FixedAnalyzer:
    """Returns one rich CallAnalysis, so that every field's round trip is checked."""

    def __init__(self, model: str = "m1") -> None:
        self.model = model
        self.calls = 0

    def info(self) -> StageInfo:
        return StageInfo("local", "fixed-llm", self.model)

    async def load(self) -> None:
        return None

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        self.calls += 1
        return CallAnalysis(
            summary="Customer disputes a double charge; agent refunds it.",
            topics=["billing", "refund"],
            reason="double charge",
            resolution=Resolution.UNRESOLVED,
            conflict_detected=True,
            conflict_evidence=[1, 3],
            profanity=[ProfanityHit(1, ["damn", "hell"])],
            action_items=["refund 12.50", "call back Friday"],
            provider=f"fixed/{self.model}",
        )


def conversation(text: str = "hello I was charged twice") -> Conversation:
    utterances = [
        Utterance(0, "S0", 0.0, 2.0, "thanks for calling", words_of("thanks for calling", 0.0)),
        Utterance(1, "S1", 2.5, 5.0, text, words_of(text, 2.5), role=Role.CUSTOMER),
    ]
    utterances[1].sentiment = Sentiment(SentimentLabel.NEGATIVE, -0.6)
    speakers = [Speaker("S0", Role.AGENT, 0, 2.0), Speaker("S1", Role.CUSTOMER, 1, 2.5)]
    return Conversation(utterances, speakers, "en", 5.0)


# ------------------------------------------------------------------------------- tiers


def test_a_durable_entry_is_served_by_memory_then_by_the_database_in_a_new_process(database):
    first = TieredCache(database=database)
    first.set("k", b"value", durable=True)
    assert first.get("k") == b"value"
    assert tier_counts(first) == {"memory": (1, 0), "redis": (0, 0), "database": (0, 0)}

    second = TieredCache(database=database)  # another process: an empty memory tier
    assert second.get("k") == b"value"
    assert second.get("k") == b"value"  # the database hit was copied into memory
    assert tier_counts(second) == {"memory": (1, 1), "redis": (0, 0), "database": (1, 0)}
    assert second.stats()["misses"] == 0
    assert second.stats()["redis_configured"] is False


def test_only_durable_entries_reach_the_database(database):
    cache = TieredCache(database=database)
    cache.set("durable", b"1", durable=True)
    cache.set("transient", b"2")
    assert cache.get("transient") == b"2"
    assert stored_keys(database) == {"durable"}

    fresh = TieredCache(database=database)
    assert fresh.get("transient") is None
    assert tier_counts(fresh) == {"memory": (0, 1), "redis": (0, 0), "database": (0, 1)}
    assert fresh.stats()["misses"] == 1


def test_a_durable_write_replaces_the_stored_value(database):
    cache = TieredCache(database=database)
    cache.set("k", b"old", durable=True)
    cache.set("k", b"new", durable=True)
    assert TieredCache(database=database).get("k") == b"new"


def test_an_insert_racing_ours_does_not_fail_the_write(database):
    cache = TieredCache(database=database)
    raced = []

    def insert_the_same_key_elsewhere(session, _context, _instances) -> None:
        if not raced:  # another process commits the same key between our read and our write
            raced.append(True)
            with database.engine.begin() as other:
                other.execute(insert(CacheEntryRow).values(key="k", value=b"theirs"))

    event.listen(database.sessions, "before_flush", insert_the_same_key_elsewhere)
    try:
        cache.set("k", b"ours", durable=True)
    finally:
        event.remove(database.sessions, "before_flush", insert_the_same_key_elsewhere)
    assert raced
    assert TieredCache(database=database).get("k") == b"ours"


def test_memory_entries_expire_after_their_ttl():
    clock = Clock()
    cache = TieredCache(memory_ttl_s=60, timer=clock)
    cache.set("k", b"v")
    clock.now = 59.0
    assert cache.get("k") == b"v"
    clock.now = 61.0
    assert cache.get("k") is None
    assert tier_counts(cache)["memory"] == (1, 1)


def test_an_expired_memory_entry_is_read_again_from_the_database(database):
    clock = Clock()
    cache = TieredCache(memory_ttl_s=60, timer=clock, database=database)
    cache.set("k", b"v", durable=True)
    clock.now = 61.0
    assert cache.get("k") == b"v"
    assert tier_counts(cache) == {"memory": (0, 1), "redis": (0, 0), "database": (1, 0)}


def test_a_stored_entry_past_its_expiry_is_a_miss(database):
    with database.session() as s:
        past, future = (
            datetime.now(UTC) - timedelta(hours=1),
            datetime.now(UTC) + timedelta(hours=1),
        )
        s.add(CacheEntryRow(key="old", value=b"x", expires_at=past))
        s.add(CacheEntryRow(key="live", value=b"y", expires_at=future))
    cache = TieredCache(database=database)
    assert cache.get("old") is None
    assert cache.get("live") == b"y"
    assert tier_counts(cache)["database"] == (1, 1)


def test_delete_removes_an_entry_from_every_tier(database):
    cache = TieredCache(database=database)
    cache.set("k", b"v", durable=True)
    cache.set("other", b"w", durable=True)
    cache.delete("k")
    assert cache.get("k") is None
    assert stored_keys(database) == {"other"}
    assert TieredCache(database=database).get("k") is None


def test_get_many_asks_each_tier_once_and_leaves_out_what_it_lacks(database):
    TieredCache(database=database).set_many({"a": b"1", "b": b"2"}, durable=True)
    cache = TieredCache(database=database)
    cache.set("c", b"3")
    assert cache.get_many(["a", "c", "zz", "a"]) == {"a": b"1", "c": b"3"}
    assert tier_counts(cache) == {"memory": (1, 2), "redis": (0, 0), "database": (1, 1)}
    assert cache.stats()["misses"] == 1


# ------------------------------------------------------------------ documents (get_or_load)


def test_get_or_load_reads_the_system_of_record_once(database):
    cache = TieredCache(database=database)
    loads: list[str] = []

    def loader() -> bytes:
        loads.append("doc")
        return b"{}"

    assert cache.get_or_load("doc:1", loader) == b"{}"
    assert cache.get_or_load("doc:1", loader) == b"{}"
    assert loads == ["doc"]
    assert tier_counts(cache) == {"memory": (1, 1), "redis": (0, 0), "database": (1, 0)}
    assert stored_keys(database) == set()  # documents live in the calls table, not here


def test_a_missing_document_is_counted_and_not_cached():
    cache = TieredCache()
    loads: list[int] = []

    def loader() -> bytes | None:
        loads.append(1)
        return None

    assert cache.get_or_load("doc:gone", loader) is None
    assert cache.get_or_load("doc:gone", loader) is None
    assert len(loads) == 2
    assert tier_counts(cache)["database"] == (0, 2)
    assert cache.stats()["misses"] == 2


def test_a_document_invalidated_while_it_loads_is_not_kept():
    cache = TieredCache()
    documents = CallDocumentCache(cache)

    def reanalysed_meanwhile() -> dict:
        documents.invalidate("c1")  # the re-analysis commits while this read is in flight
        return {"version": 1}

    assert documents.get("c1", reanalysed_meanwhile) == {"version": 1}
    assert documents.get("c1", lambda: {"version": 2}) == {"version": 2}


def test_call_documents_are_cached_until_invalidated():
    documents = CallDocumentCache(TieredCache())
    doc = {"id": "c1", "analysis": {"summary": "refund", "topics": ["billing"]}, "n": 1.5}
    assert documents.get("c1", lambda: doc) == doc
    assert documents.get("c1", lambda: {"id": "changed"}) == doc
    returned = documents.get("c1", lambda: None)
    assert returned is not None
    returned["id"] = "mutated by a caller"  # every read gets its own copy
    assert documents.get("c1", lambda: None) == doc
    documents.invalidate("c1")
    assert documents.get("c1", lambda: {"id": "reanalysed"}) == {"id": "reanalysed"}
    documents.invalidate("c1")
    assert documents.get("c1", lambda: None) is None


# --------------------------------------------------------------------------- embeddings


async def test_caching_embedder_embeds_only_misses_in_one_batch_and_keeps_order(database):
    inner = RecordingEmbedder()
    embedder = CachingEmbedder(inner, TieredCache(database=database))
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 4
    assert embedder.info() == inner.info()

    first = await embedder.embed(["alpha", "beta", "alpha"])
    assert inner.batches == [["alpha", "beta"]]
    second = await embedder.embed(["gamma", "beta", "alpha", "delta"])
    assert inner.batches == [["alpha", "beta"], ["gamma", "delta"]]
    await embedder.embed(["beta", "alpha"])
    assert len(inner.batches) == 2
    empty = await embedder.embed([])
    assert empty.shape == (0, 4) and empty.dtype == np.float32
    assert len(inner.batches) == 2

    for texts, got in (
        (["alpha", "beta", "alpha"], first),
        (["gamma", "beta", "alpha", "delta"], second),
    ):
        assert got.dtype == np.float32
        assert got.shape == (len(texts), 4)
        np.testing.assert_array_equal(got, np.stack([RecordingEmbedder.vector(t) for t in texts]))


async def test_embeddings_survive_a_restart_and_are_keyed_by_model(database):
    await CachingEmbedder(RecordingEmbedder(), TieredCache(database=database)).embed(["alpha"])

    same_model = RecordingEmbedder()
    got = await CachingEmbedder(same_model, TieredCache(database=database)).embed(["alpha"])
    assert same_model.batches == []
    np.testing.assert_array_equal(got[0], RecordingEmbedder.vector("alpha"))

    other_model = RecordingEmbedder(model="rec-v2")
    await CachingEmbedder(other_model, TieredCache(database=database)).embed(["alpha"])
    assert other_model.batches == [["alpha"]]


async def test_a_stored_vector_of_the_wrong_size_is_embedded_again():
    cache = TieredCache()
    inner = RecordingEmbedder()
    cache.set(content_key("embedding", inner.model, "alpha"), b"\x00" * 12)  # 3 floats, not 4
    got = await CachingEmbedder(inner, cache).embed(["alpha"])
    assert inner.batches == [["alpha"]]
    np.testing.assert_array_equal(got[0], RecordingEmbedder.vector("alpha"))


# ------------------------------------------------------------------------------ analysis


async def test_caching_analyzer_returns_an_equal_analysis_after_a_restart(database):
    inner = FixedAnalyzer()
    analyzer = CachingAnalyzer(inner, TieredCache(database=database))
    assert isinstance(analyzer, CallAnalyzer)
    fresh = await analyzer.analyze(conversation())

    later = FixedAnalyzer()
    cached = await CachingAnalyzer(later, TieredCache(database=database)).analyze(conversation())
    assert later.calls == 0
    assert cached == fresh
    assert isinstance(cached.resolution, Resolution)
    assert cached.profanity == [ProfanityHit(1, ["damn", "hell"])]


async def test_a_different_conversation_or_model_is_analysed_again():
    cache = TieredCache()
    inner = FixedAnalyzer()
    await CachingAnalyzer(inner, cache).analyze(conversation())
    await CachingAnalyzer(inner, cache).analyze(conversation("I was charged three times"))
    assert inner.calls == 2
    other_model = FixedAnalyzer(model="m2")
    await CachingAnalyzer(other_model, cache).analyze(conversation())
    assert other_model.calls == 1


async def test_a_failed_analysis_is_not_cached(database):
    cache = TieredCache(database=database)
    with pytest.raises(RuntimeError, match="llm down"):
        await CachingAnalyzer(FakeCallAnalyzer(fail=True), cache).analyze(conversation())
    assert stored_keys(database) == set()

    working = FakeCallAnalyzer()  # same engine and model as the failing one
    result = await CachingAnalyzer(working, cache).analyze(conversation())
    assert len(working.seen) == 1
    assert result.summary == "thanks for calling"


# ------------------------------------------------------------------------------- helpers


def test_content_keys_are_stable_distinct_and_fit_the_key_column():
    key = content_key("embedding", "all-MiniLM-L6-v2", "hello")
    assert key == content_key("embedding", "all-MiniLM-L6-v2", "hello")
    assert key.startswith("embedding:all-MiniLM-L6-v2:") and len(key.split(":")[-1]) == 64
    assert key != content_key("embedding", "all-MiniLM-L6-v2", "hello!")
    long_a, long_b = (
        content_key("analysis", "m" * 300, "x"),
        content_key("analysis", "n" * 300, "x"),
    )
    assert len(long_a) <= 200 and long_a != long_b


def test_values_round_trip_as_json_and_raw_float32():
    doc = {"b": [1, 2.5, None], "a": "é"}
    assert json_loads(json_dumps(doc)) == doc
    assert json_dumps(doc) == json_dumps(dict(reversed(doc.items())))  # stable: sorted keys
    v = np.array([0.6, 0.8, 0.0], dtype=np.float64)
    back = vector_from_bytes(vector_to_bytes(v), 3)
    assert back is not None and back.dtype == np.float32
    np.testing.assert_array_equal(back, v.astype(np.float32))
    assert vector_from_bytes(vector_to_bytes(v), 4) is None
