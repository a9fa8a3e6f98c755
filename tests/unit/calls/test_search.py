"""Semantic search, the same tests on SQLite and PostgreSQL and on every backend there.

The pgvector backend runs where the PostgreSQL server offers the extension and is skipped,
with the reason, where it does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import insert

from core.calls.search import SearchHit, SemanticSearch, pgvector_available
from core.domain import StageInfo
from core.errors import InvalidInputError
from core.persistence.database import Database
from core.persistence.models import UtteranceRow
from core.persistence.repositories import CallRepository, to_blob

# Axes: billing, network, account, small talk. Texts not listed here are a test's mistake.
VECTORS = {
    "I want my money back for this bill": [1.0, 0.1, 0.0, 0.0],
    "The charge on my bill is wrong": [0.8, 0.0, 0.0, 0.6],
    "My internet keeps dropping": [0.0, 1.0, 0.0, 0.2],
    "Our fibre line is down again": [0.3, 0.9, 0.0, 0.0],
    "I forgot my password": [0.0, 0.0, 1.0, 0.0],
    "Thank you for calling": [0.1, 0.1, 0.1, 1.0],
    "refund": [1.0, 0.0, 0.0, 0.0],
    "outage": [0.0, 1.0, 0.0, 0.0],
    "login": [0.0, 0.0, 1.0, 0.0],
}
BILLING = [
    ("S1", "agent", "Thank you for calling"),
    ("S2", "customer", "I want my money back for this bill"),
]
NETWORK = [
    ("S1", "agent", "Our fibre line is down again"),
    ("S2", "customer", "My internet keeps dropping"),
]
ACCOUNT = [
    ("S1", "agent", "The charge on my bill is wrong"),
    ("S2", "customer", "I forgot my password"),
]


class TableEmbedder:
    """Implements :class:`core.ports.Embedder` with the hand-made vectors above."""

    dimension = 4

    def info(self) -> StageInfo:
        return StageInfo("local", "table-embedding", "none")

    async def load(self) -> None:
        return None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return table_vectors(texts)


def table_vectors(texts: Sequence[str]) -> np.ndarray:
    out = np.array([VECTORS[t] for t in texts], dtype=np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def document(call_id: str, utterances: list[tuple[str, str, str]]) -> dict:
    return {
        "id": call_id,
        "filename": f"{call_id}.wav",
        "created_at": "2026-11-20T09:30:00+00:00",
        "status": "succeeded",
        "audio": {"duration_s": 2.0 * len(utterances)},
        "language": "en",
        "speakers": [
            {"role": "agent", "sentiment_mean": None},
            {"role": "customer", "sentiment_mean": None},
        ],
        "utterances": [
            {"index": i, "speaker": s, "role": r, "start": 2.0 * i, "end": 2.0 * i + 1.5}
            | {"text": t, "words": []}
            for i, (s, r, t) in enumerate(utterances)
        ],
    }


def add_call(
    database: Database,
    call_id: str,
    utterances: list[tuple[str, str, str]],
    vectors: np.ndarray | str | None = "table",
    *,
    replace: bool = False,
) -> None:
    """Store a call as a job does (``replace``: as a re-analysis, in one transaction)."""
    if isinstance(vectors, str):
        vectors = table_vectors([t for *_, t in utterances])
    with database.session() as session:
        repo = CallRepository(session)
        if replace:
            repo.delete(call_id)
            session.flush()
        repo.add(
            document(call_id, utterances),
            content_sha256="0" * 64,
            audio_path=None,
            job_id=None,
            call_vector=None,
            utterance_vectors=vectors,
        )


def delete_call(database: Database, call_id: str) -> None:
    with database.session() as session:
        assert CallRepository(session).delete(call_id)


@pytest.fixture(params=["numpy", "pgvector"])
def backend(request, database) -> str:
    if request.param == "pgvector" and not pgvector_available(database):
        reason = (
            "the PostgreSQL server does not offer the vector extension (see README)"
            if database.dialect == "postgresql"
            else "pgvector needs PostgreSQL"
        )
        pytest.skip(f"pgvector backend: {reason}")
    return request.param


@pytest.fixture
def other_process(database):
    """A second Database on the same data, as a worker process would have."""
    other = Database(database.url)
    yield other
    other.dispose()


def texts(hits: list[SearchHit]) -> list[str]:
    return [h.text for h in hits]


async def test_hits_are_ranked_by_cosine_and_say_where_they_come_from(database, backend):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK), ("account", ACCOUNT)):
        add_call(database, call_id, utterances)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    await search.warm()
    assert search.backend == backend

    hits = await search.search("refund", k=3)
    assert texts(hits) == [
        "I want my money back for this bill",
        "The charge on my bill is wrong",
        "Our fibre line is down again",
    ]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score == pytest.approx(1 / np.sqrt(1.01), abs=1e-5)
    assert hits[1].score == pytest.approx(0.8, abs=1e-5)
    top = hits[0]
    assert (top.call_id, top.utterance_index, top.speaker, top.role) == (
        "billing",
        1,
        "S2",
        "customer",
    )
    assert (top.start, top.end, top.filename) == (2.0, 3.5, "billing.wav")
    assert isinstance(top.call_created_at, datetime)
    assert top.call_created_at.isoformat() == "2026-11-20T09:30:00+00:00"


async def test_k_is_respected(database, backend):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK), ("account", ACCOUNT)):
        add_call(database, call_id, utterances)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert texts(await search.search("outage", k=1)) == ["My internet keeps dropping"]
    assert len(await search.search("outage", k=4)) == 4
    assert len(await search.search("outage", k=100)) == 6


async def test_a_repeated_query_is_embedded_once(database):
    add_call(database, "billing", BILLING)
    embedder = TableEmbedder()
    seen: list[str] = []

    async def counting(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return table_vectors(texts)

    embedder.embed = counting  # type: ignore[method-assign]
    search = SemanticSearch(database, embedder, backend="numpy")
    first = await search.search("refund", k=2)
    again = await search.search("  refund ", k=2)
    other = await search.search("login", k=1)
    assert seen == ["refund", "login"]
    assert (
        texts(again)
        == texts(first)
        == ["I want my money back for this bill", "Thank you for calling"]
    )
    assert texts(other) == ["Thank you for calling"]


async def test_role_call_and_score_filters(database, backend):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK), ("account", ACCOUNT)):
        add_call(database, call_id, utterances)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)

    agents = await search.search("refund", k=10, role="agent")
    assert {h.role for h in agents} == {"agent"} and len(agents) == 3
    assert agents[0].text == "The charge on my bill is wrong"
    customers = await search.search("refund", k=10, role="customer")
    assert {h.role for h in customers} == {"customer"} and len(customers) == 3

    in_network = await search.search("refund", k=10, call_id="network")
    assert {h.call_id for h in in_network} == {"network"} and len(in_network) == 2
    assert texts(await search.search("refund", call_id="network", role="customer")) == [
        "My internet keeps dropping"
    ]
    assert await search.search("refund", call_id="no-such-call") == []
    assert await search.search("refund", role="unknown") == []

    close = await search.search("refund", k=10, min_score=0.5)
    assert texts(close) == ["I want my money back for this bill", "The charge on my bill is wrong"]


async def test_a_call_stored_by_another_process_is_found_without_invalidate(
    database, backend, other_process
):
    add_call(database, "billing", BILLING)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert texts(await search.search("outage", k=10, call_id="network")) == []

    add_call(other_process, "network", NETWORK)
    hits = await search.search("outage", k=2)
    assert texts(hits) == ["My internet keeps dropping", "Our fibre line is down again"]
    assert {h.call_id for h in hits} == {"network"}


async def test_calls_deleted_or_reanalysed_elsewhere_are_seen(database, backend, other_process):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK)):
        add_call(database, call_id, utterances)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert (await search.search("outage", k=1))[0].call_id == "network"

    delete_call(other_process, "network")
    hits = await search.search("outage", k=10)
    assert "network" not in {h.call_id for h in hits} and len(hits) == 2

    # The newest call re-analysed: same row count, and on SQLite the same utterance ids.
    add_call(other_process, "billing", ACCOUNT, replace=True)
    hits = await search.search("login", k=10)
    assert texts(hits)[0] == "I forgot my password"
    assert set(texts(hits)) == {h[2] for h in ACCOUNT}


async def test_a_call_deleted_here_disappears_with_or_without_invalidate(database, backend):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK), ("account", ACCOUNT)):
        add_call(database, call_id, utterances)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert len(await search.search("refund", k=100)) == 6

    delete_call(database, "billing")
    assert "billing" not in {h.call_id for h in await search.search("refund", k=100)}
    delete_call(database, "account")
    search.invalidate("account")
    assert {h.call_id for h in await search.search("refund", k=100)} == {"network"}
    search.invalidate()
    assert len(await search.search("refund", k=100)) == 2


async def test_rows_written_without_touching_their_call_are_picked_up(database, backend):
    add_call(database, "billing", BILLING)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert len(await search.search("login", k=10)) == 2
    vector = table_vectors(["I forgot my password"])[0]
    row = {"call_id": "billing", "index": 2, "speaker": "S2", "role": "customer", "start": 4.0}
    row |= {"end": 5.0, "text": "I forgot my password", "words": [], "embedding": to_blob(vector)}
    with database.session() as session:
        session.execute(insert(UtteranceRow), [row])
    assert texts(await search.search("login", k=1)) == ["I forgot my password"]


async def test_utterances_without_vectors_are_ignored(database, backend):
    add_call(database, "billing", BILLING)
    add_call(database, "network", NETWORK, vectors=None)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    hits = await search.search("outage", k=100)
    assert {h.call_id for h in hits} == {"billing"} and len(hits) == 2
    assert await search.search("outage", call_id="network") == []


async def test_vectors_of_another_dimension_are_skipped_with_a_warning(database, backend, caplog):
    add_call(database, "billing", BILLING)
    add_call(database, "network", NETWORK, vectors=np.eye(2, 3, dtype=np.float32))
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    with caplog.at_level(logging.WARNING, logger="core.calls.search"):
        hits = await search.search("outage", k=100)
    assert {h.call_id for h in hits} == {"billing"}
    assert "2 utterance vectors not of dimension 4" in caplog.text


async def test_an_empty_store_gives_no_hits(database, backend):
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    assert await search.search("refund") == []
    add_call(database, "billing", BILLING)
    assert len(await search.search("refund")) == 2


async def test_concurrent_searches_agree(database, backend, other_process):
    add_call(database, "billing", BILLING)
    search = SemanticSearch(database, TableEmbedder(), backend=backend)
    add_call(other_process, "network", NETWORK)
    results = await asyncio.gather(*(search.search(q, k=3) for q in ["outage", "refund"] * 8))
    assert {tuple(texts(r)) for r in results[0::2]} == {tuple(texts(results[0]))}
    assert {tuple(texts(r)) for r in results[1::2]} == {tuple(texts(results[1]))}
    assert texts(results[0])[0] == "My internet keeps dropping"


@pytest.mark.parametrize(
    ("query", "k", "options", "words"),
    [
        ("", 10, {}, "empty"),
        ("   ", 10, {}, "empty"),
        ("refund", 0, {}, "1 to 100"),
        ("refund", 101, {}, "1 to 100"),
        ("refund", True, {}, "1 to 100"),
        ("refund", 10, {"role": "manager"}, "agent"),
        ("refund", 10, {"min_score": 1.5}, "-1..1"),
    ],
)
async def test_bad_queries_are_invalid_input_with_a_hint(database, query, k, options, words):
    search = SemanticSearch(database, TableEmbedder(), backend="numpy")
    with pytest.raises(InvalidInputError) as err:
        await search.search(query, k, **options)
    assert words in str(err.value) and err.value.hint


async def test_the_backend_is_chosen_by_what_the_database_offers(database):
    expected = "pgvector" if pgvector_available(database) else "numpy"
    assert SemanticSearch(database, TableEmbedder()).backend == expected
    assert SemanticSearch(database, TableEmbedder(), backend="numpy").backend == "numpy"
    with pytest.raises(InvalidInputError, match="backend"):
        SemanticSearch(database, TableEmbedder(), backend="faiss")
    if expected == "numpy":
        with pytest.raises(InvalidInputError, match="pgvector") as err:
            _ = SemanticSearch(database, TableEmbedder(), backend="pgvector").backend
        assert "README" in err.value.hint


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_within_refresh_s_other_processes_changes_wait_and_this_ones_count_at_once(
    database, monkeypatch
):
    clock = Clock()
    monkeypatch.setattr("core.calls.search.time.monotonic", clock)
    add_call(database, "billing", BILLING)
    search = SemanticSearch(database, TableEmbedder(), backend="numpy", refresh_s=1.0)
    ranked: list[str] = []
    rank = search._rank_many

    def counting(index, qs):  # type: ignore[no-untyped-def]
        ranked.append("rank")
        return rank(index, qs)

    monkeypatch.setattr(search, "_rank_many", counting)
    first = await search.search("refund", k=3)
    assert texts(first) == ["I want my money back for this bill", "Thank you for calling"]

    # Another process adds a call: within the second, the same query is the last answer,
    # given on the event loop without ranking or reading anything.
    add_call(database, "account", ACCOUNT)
    clock.now += 0.5
    assert texts(await search.search("refund", k=3)) == texts(first)
    assert len(ranked) == 1
    # A new query within the second ranks the index as it was last read from the database.
    assert texts(await search.search("login", k=1)) == ["Thank you for calling"]

    clock.now += 1.0  # past the second: the database is asked again
    assert "The charge on my bill is wrong" in texts(await search.search("refund", k=3))
    assert texts(await search.search("login", k=1)) == ["I forgot my password"]

    # This process's own change counts at once, however recent the last check.
    delete_call(database, "account")
    search.invalidate("account")
    assert "The charge on my bill is wrong" not in texts(await search.search("refund", k=3))


async def test_refresh_s_0_asks_the_database_before_every_query(database):
    add_call(database, "billing", BILLING)
    search = SemanticSearch(database, TableEmbedder(), backend="numpy", refresh_s=0)
    await search.search("refund", k=3)
    add_call(database, "account", ACCOUNT)
    assert "The charge on my bill is wrong" in texts(await search.search("refund", k=3))


async def test_concurrent_searches_are_embedded_and_ranked_together_with_the_same_answers(
    database, backend
):
    for call_id, utterances in (("billing", BILLING), ("network", NETWORK), ("account", ACCOUNT)):
        add_call(database, call_id, utterances)
    embedder = TableEmbedder()
    calls: list[list[str]] = []

    async def counting(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return table_vectors(texts)

    embedder.embed = counting  # type: ignore[method-assign]
    search = SemanticSearch(database, embedder, backend=backend)
    queries = [("refund", {}), ("outage", {"role": "agent"}), ("login", {"k": 1})]
    alone = [texts(await search.search(q, **kw)) for q, kw in queries]
    assert calls == [["refund"], ["outage"], ["login"]]

    fresh = SemanticSearch(database, embedder, backend=backend)
    calls.clear()
    together = await asyncio.gather(*(fresh.search(q, **kw) for q, kw in queries))

    assert [texts(hits) for hits in together] == alone
    # all three were waiting when the batch was sent: one embedding call, one ranking
    assert calls == [["refund", "outage", "login"]]
