"""Semantic search with the real all-MiniLM-L6-v2 embedder: it finds meaning, not words."""

from __future__ import annotations

import pytest

from core.calls.search import SemanticSearch
from core.persistence.repositories import CallRepository
from services.embedding.local import SentenceTransformerEmbedder
from tests.support.databases import temp_database
from tests.unit.calls.test_search import document

pytestmark = pytest.mark.slow

CALLS = {
    "billing": [
        ("S1", "agent", "Thank you for calling, how can I help you today?"),
        ("S2", "customer", "I was charged twice this month and I would like a refund."),
        ("S1", "agent", "I can see the duplicate payment on your invoice."),
    ],
    "outage": [
        ("S1", "agent", "Good morning, you are through to technical support."),
        ("S2", "customer", "My internet has been going down every few minutes since Monday."),
        ("S1", "agent", "Let me run a line test on your router."),
    ],
    "password": [
        ("S1", "agent", "Hello, what can I do for you?"),
        ("S2", "customer", "I can't log in because I forgot my password."),
        ("S1", "agent", "I will send a reset link to your email address."),
    ],
}


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture
async def search(embedder, tmp_path):
    with temp_database("sqlite", tmp_path) as database:
        for call_id, utterances in CALLS.items():
            vectors = await embedder.embed([t for *_, t in utterances])
            with database.session() as session:
                CallRepository(session).add(
                    document(call_id, utterances),
                    content_sha256="0" * 64,
                    audio_path=None,
                    job_id=None,
                    call_vector=None,
                    utterance_vectors=vectors,
                )
        search = SemanticSearch(database, embedder)
        await search.warm()
        yield search


@pytest.mark.parametrize(
    ("query", "call_id", "words"),
    [
        ("money back", "billing", "refund"),
        ("connection keeps dropping", "outage", "internet"),
        ("cannot sign in to my account", "password", "password"),
    ],
)
async def test_a_paraphrase_finds_the_utterance_that_means_it(search, query, call_id, words):
    hits = await search.search(query, k=3)
    assert hits[0].call_id == call_id and words in hits[0].text
    assert hits[0].role == "customer"
    assert hits[0].score > hits[1].score
    assert search.backend == "numpy"


async def test_the_role_filter_picks_the_best_utterance_of_that_role(search):
    agents = await search.search("duplicate charge on the bill", k=3, role="agent")
    assert {h.role for h in agents} == {"agent"}
    assert agents[0].text == "I can see the duplicate payment on your invoice."
    customers = await search.search("duplicate charge on the bill", k=3, role="customer")
    assert {h.role for h in customers} == {"customer"}
    assert customers[0].text.startswith("I was charged twice")
