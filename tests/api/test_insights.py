"""Agent and trend views: /v1/agents, /v1/agents/{agent}, /v1/trends and their GraphQL
queries, over calls uploaded with an agent and moved to known dates."""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import mean
from typing import Any

import pytest
from sqlalchemy import update

from core.persistence.models import CallRow
from tests.api.conftest import follow_job, runtime_of
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeTranscriber, words_of

AGENT_SAYS = "thank you for calling how can I help"
CALLS = [  # (agent, what the customer says, when)
    ("ana", "I want a refund for this bill", datetime(2026, 11, 2, 9, tzinfo=UTC)),
    ("ana", "my internet keeps dropping", datetime(2026, 11, 11, 15, tzinfo=UTC)),
    ("ben", "please give me a refund now", datetime(2026, 11, 12, 8, tzinfo=UTC)),
    (None, "just checking my balance", datetime(2026, 11, 25, 8, tzinfo=UTC)),
]


@pytest.fixture
def stored(make_client) -> tuple[Any, list[dict[str, Any]]]:
    transcriber = FakeTranscriber([])
    client = make_client(transcriber=transcriber)
    refund = {"name": "refund", "conditions": [{"kind": "phrase", "phrases": ["refund"]}]}
    assert client.post("/v1/categories", json=refund).status_code == 201
    documents = []
    for agent, says, when in CALLS:
        transcriber.words = words_of(AGENT_SAYS, 0.2) + words_of(says, 4.6)
        form = {"agent": agent, "force": "true"} if agent else {"force": "true"}
        response = client.post(
            "/v1/calls", files={"file": ("c.wav", wav_bytes(8), "audio/wav")}, data=form
        )
        assert response.status_code == 202, response.text
        follow_job(client, response.json()["job_id"])
        call_id = response.json()["call_id"]
        with runtime_of(client).database.session() as session:
            session.execute(update(CallRow).where(CallRow.id == call_id).values(created_at=when))
        documents.append(client.get(f"/v1/calls/{call_id}").json())
    return client, documents


def expected_means(documents: list[dict[str, Any]]) -> dict[str, Any]:
    def agent_interruptions(d: dict[str, Any]) -> int:
        return next(s["interruptions"] for s in d["speakers"] if s["role"] == "agent")

    def avg(values: list[Any]) -> float | None:
        values = [v for v in values if v is not None]
        return round(mean(values), 4) if values else None

    return {
        "calls": len(documents),
        "mean_talk_ratio": avg([d["metrics"]["agent_talk_ratio"] for d in documents]),
        "mean_customer_sentiment_change": avg(
            [d["metrics"]["customer_sentiment_trend"] for d in documents]
        ),
        "mean_interruptions": avg([agent_interruptions(d) for d in documents]),
        "mean_qa_score": avg([d["qa"]["score"] for d in documents]),
    }


def test_agents_are_listed_with_their_averages(stored):
    client, documents = stored
    assert [d["agent"] for d in documents] == ["ana", "ana", "ben", None]
    agents = client.get("/v1/agents").json()
    assert [a["agent"] for a in agents] == ["ana", "ben"]  # most calls first; no unnamed
    assert agents[0] == {"agent": "ana", **expected_means(documents[:2])}
    assert agents[1] == {"agent": "ben", **expected_means(documents[2:3])}
    recent = client.get("/v1/agents", params={"since": "2026-11-10T00:00:00Z"}).json()
    assert [(a["agent"], a["calls"]) for a in recent] == [("ana", 1), ("ben", 1)]


def test_one_agent_per_week(stored):
    client, documents = stored
    ana = client.get("/v1/agents/ana", params={"interval": "week"}).json()
    assert ana["calls"] == 2 and ana["interval"] == "week"
    assert [(b["start"][:10], b["calls"]) for b in ana["series"]] == [
        ("2026-11-02", 1),  # a Monday
        ("2026-11-09", 1),
    ]
    assert ana["series"][1]["mean_qa_score"] == documents[1]["qa"]["score"]
    assert client.get("/v1/agents/nobody").json()["calls"] == 0


def test_trends_count_calls_topics_and_categories_per_bucket(stored):
    client, documents = stored
    weeks = client.get("/v1/trends", params={"interval": "week"}).json()
    assert [(w["start"][:10], w["calls"]) for w in weeks] == [
        ("2026-11-02", 1),
        ("2026-11-09", 2),
        ("2026-11-23", 1),
    ]
    assert [w["categories"] for w in weeks] == [{"refund": 1}, {"refund": 1}, {}]
    assert weeks[1]["topics"] == {"billing": 2}  # the fake analyzer's topic
    assert weeks[1]["mean_qa_score"] == round(
        mean([documents[1]["qa"]["score"], documents[2]["qa"]["score"]]), 4
    )
    months = client.get("/v1/trends", params={"interval": "month"}).json()
    assert [(m["start"][:10], m["calls"]) for m in months] == [("2026-11-01", 4)]
    days = client.get(
        "/v1/trends",
        params={"interval": "day", "since": "2026-11-11T00:00:00Z", "until": "2026-11-12T00:00Z"},
    ).json()
    assert [(d["start"][:10], d["calls"]) for d in days] == [("2026-11-11", 1)]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/trends", {"interval": "year"}),
        ("/v1/trends", {"since": "2026-11-12T00:00:00Z", "until": "2026-11-01T00:00:00Z"}),
        ("/v1/agents", {"since": "yesterday"}),
    ],
)
def test_bad_parameters_are_422(client, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 422 and response.json()["error"]["message"]


def test_an_agent_name_too_long_is_refused_and_nothing_is_stored(client):
    response = client.post(
        "/v1/calls", files={"file": ("c.wav", wav_bytes(), "audio/wav")}, data={"agent": "x" * 101}
    )
    assert response.status_code == 422
    assert client.get("/v1/calls").json()["total"] == 0


def test_graphql_agents_and_trends(stored):
    client, _ = stored
    query = """{
      agents { agent calls meanQaScore }
      trends(interval: MONTH) { start calls topics categories }
    }"""
    body = client.post("/graphql", json={"query": query}).json()
    assert "errors" not in body, body
    assert [(a["agent"], a["calls"]) for a in body["data"]["agents"]] == [("ana", 2), ("ben", 1)]
    [month] = body["data"]["trends"]
    assert month["calls"] == 4 and month["categories"] == {"refund": 2}


def test_calls_list_by_agent_and_carry_their_agent(stored):
    client, documents = stored
    listed = client.get("/v1/calls", params={"agent": "ana", "limit": 10}).json()
    assert listed["total"] == 2
    assert {c["id"] for c in listed["items"]} == {d["id"] for d in documents[:2]}
    assert {c["agent"] for c in listed["items"]} == {"ana"}
    assert client.get("/v1/calls", params={"agent": "nobody"}).json()["total"] == 0
    everyone = client.get("/v1/calls", params={"limit": 10}).json()["items"]
    assert sorted((c["agent"] or "") for c in everyone) == ["", "ana", "ana", "ben"]

    query = '{ calls(filter: {agent: "ben"}) { totalCount edges { node { id agent } } } }'
    data = client.post("/graphql", json={"query": query}).json()["data"]["calls"]
    assert data["totalCount"] == 1
    assert data["edges"][0]["node"] == {"id": documents[2]["id"], "agent": "ben"}
