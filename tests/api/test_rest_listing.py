"""GET /v1/calls: every filter and cursor pagination, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.domain import CallAnalysis, Conversation, Resolution, StageInfo
from tests.api.test_rest import AGENT_TEXT, analysed
from tests.support.app import fake_container, make_settings
from tests.support.databases import postgres_url
from tests.unit.fakes import FakeTranscriber, words_of


class ScriptedAnalyzer:
    """Answers whatever analysis the test set up for the next call."""

    def __init__(self) -> None:
        self.next: CallAnalysis | None = None

    def info(self) -> StageInfo:
        return StageInfo("local", "scripted-llm", "none")

    async def load(self) -> None:
        return None

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        assert self.next is not None
        return self.next


@dataclass(frozen=True)
class Spec:
    customer_says: str  # the fake sentiment engine hears "terrible" or "thanks" in it
    topics: list[str]
    resolution: Resolution
    conflict: bool


# Uploaded in this order, so listed newest first as e, d, c, b, a.
SPECS = {
    "a": Spec("my bill is wrong number one", ["Billing"], Resolution.RESOLVED, False),
    "b": Spec("this is terrible I am angry number two", ["refund"], Resolution.UNRESOLVED, True),
    "c": Spec(
        "thanks that is great number three", ["billing", "upgrade"], Resolution.RESOLVED, False
    ),
    "d": Spec("ridiculous service number four", ["internet"], Resolution.UNRESOLVED, True),
    "e": Spec("I moved house number five", ["billing"], Resolution.UNKNOWN, False),
}
NEWEST_FIRST = ["e", "d", "c", "b", "a"]


@dataclass
class Catalog:
    client: TestClient
    ids: dict[str, str]  # spec name -> call id
    created: dict[str, str]  # spec name -> created_at as the API gives it

    def names(self, **params: Any) -> list[str]:
        response = self.client.get("/v1/calls", params=params)
        assert response.status_code == 200, response.text
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[item["id"]] for item in response.json()["items"]]


def store_calls(
    client: TestClient, transcriber: FakeTranscriber, analyzer: ScriptedAnalyzer
) -> Catalog:
    ids, created = {}, {}
    for name, spec in SPECS.items():
        transcriber.words = words_of(AGENT_TEXT, 0.2) + words_of(spec.customer_says, 4.6)
        analyzer.next = CallAnalysis(
            summary=f"call {name}",
            topics=spec.topics,
            reason="a reason",
            resolution=spec.resolution,
            conflict_detected=spec.conflict,
            conflict_evidence=[1] if spec.conflict else [],
            profanity=[],
            action_items=[],
            provider="scripted",
        )
        ids[name] = analysed(client, filename=f"{name}.wav")["call_id"]
        created[name] = client.get(f"/v1/calls/{ids[name]}").json()["created_at"]
    return Catalog(client, ids, created)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def catalog(request, tmp_path_factory) -> Iterator[Catalog]:
    """Five analysed calls (SPECS), stored once per database for the whole module."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    with ExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgres":
            overrides["database_url"] = stack.enter_context(postgres_url())
        transcriber, analyzer = FakeTranscriber([]), ScriptedAnalyzer()
        container = fake_container(
            make_settings(tmp_path, **overrides), transcriber=transcriber, analyzer=analyzer
        )
        client = stack.enter_context(TestClient(create_app(container=container)))
        yield store_calls(client, transcriber, analyzer)


def test_calls_are_listed_newest_first_with_their_summary(catalog):
    body = catalog.client.get("/v1/calls").json()

    assert body["total"] == 5
    assert body["next_cursor"] is None
    assert catalog.names() == NEWEST_FIRST
    item = body["items"][NEWEST_FIRST.index("c")]
    assert item["filename"] == "c.wav"
    assert item["summary"] == "call c"
    assert item["topics"] == ["billing", "upgrade"]
    assert (item["resolution"], item["conflict"]) == ("resolved", False)
    assert item["customer_sentiment"] > 0
    assert item["customer_sentiment_label"] == "positive"
    assert datetime.fromisoformat(item["created_at"]) == datetime.fromisoformat(
        catalog.created["c"]
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"topic": "billing"}, ["e", "c", "a"]),
        ({"topic": " BILLING "}, ["e", "c", "a"]),
        ({"topic": "bill"}, []),  # a whole topic, not a part of one
        ({"topic": "internet"}, ["d"]),
        ({"sentiment": "negative"}, ["d", "b"]),
        ({"sentiment": "positive"}, ["c"]),
        ({"sentiment": "neutral"}, ["e", "a"]),
        ({"conflict": "true"}, ["d", "b"]),
        ({"conflict": "false"}, ["e", "c", "a"]),
        ({"resolution": "resolved"}, ["c", "a"]),
        ({"resolution": "unresolved"}, ["d", "b"]),
        ({"resolution": "unknown"}, ["e"]),
        ({"topic": "billing", "sentiment": "neutral", "conflict": "false"}, ["e", "a"]),
        # Hostile filters are data, never SQL or patterns.
        ({"topic": "%"}, []),
        ({"topic": "_"}, []),
        ({"topic": "' OR '1'='1"}, []),
        ({"topic": "billing' --"}, []),
        ({"topic": "billing|upgrade"}, []),
    ],
)
def test_each_filter_selects_its_calls(catalog, params, expected):
    body = catalog.client.get("/v1/calls", params=params).json()

    assert catalog.names(**params) == expected
    assert body["total"] == len(expected)


def test_the_date_range_is_from_inclusive_to_exclusive(catalog):
    created = catalog.created

    assert catalog.names(created_after=created["c"]) == ["e", "d", "c"]
    assert catalog.names(created_before=created["c"]) == ["b", "a"]
    assert catalog.names(created_after=created["b"], created_before=created["d"]) == ["c", "b"]
    assert catalog.names(created_after="2999-01-01T00:00:00+00:00") == []


def pages(catalog: Catalog, **params: Any) -> list[tuple[list[str], int]]:
    """Every page from the first to the last: (names, total) each."""
    out, cursor = [], None
    by_id = {v: k for k, v in catalog.ids.items()}
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = catalog.client.get("/v1/calls", params=query).json()
        out.append(([by_id[i["id"]] for i in body["items"]], body["total"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return out
        assert len(out) < 10, "pagination does not end"


def test_the_cursor_pages_through_every_call_once(catalog):
    assert pages(catalog, limit=2) == [(["e", "d"], 5), (["c", "b"], 5), (["a"], 5)]
    assert pages(catalog, limit=5) == [(NEWEST_FIRST, 5)]


def test_the_cursor_pages_through_a_filtered_list(catalog):
    assert pages(catalog, limit=2, topic="billing") == [(["e", "c"], 3), (["a"], 3)]
    assert pages(catalog, limit=1, conflict="true") == [(["d"], 2), (["b"], 2)]
