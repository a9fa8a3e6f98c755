"""Call metadata over the API: stored with the upload, filterable in lists, search and
insights (REST and GraphQL), checked (422, nothing written), and idempotent submission:
the same external_id or audio is answered as a duplicate unless ``force``; batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from core.persistence.models import CallMetadataRow, CallRow, JobRow
from tests.api.conftest import follow_job, runtime_of
from tests.api.test_auth import auth, with_keys
from tests.api.test_rest import stored_files
from tests.support.app import GatedTranscriber, fake_container, make_settings, wav_bytes
from tests.support.databases import postgres_url
from tests.unit.fakes import words_of


def post_call(client: Any, content: bytes, metadata: Any = None, **fields: Any) -> Any:
    data = {name: str(value) for name, value in fields.items()}
    if metadata is not None:
        data["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    file = ("call.wav", content, "audio/wav")
    return client.post("/v1/calls", files={"file": file}, data=data)


def finished(client: Any, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    body = response.json()
    assert follow_job(client, body["job_id"])[-1].status == "succeeded"
    return body


def counts(client: Any) -> tuple[int, int, int]:
    """Calls, jobs and metadata rows stored."""
    with runtime_of(client).database.session() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table))
            for table in (CallRow, JobRow, CallMetadataRow)
        )


def listed(client: Any, **params: Any) -> list[str]:
    response = client.get("/v1/calls", params=params)
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["items"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_client(request, tmp_path) -> Iterator[Any]:
    """The app on SQLite, then on PostgreSQL: the metadata filters are SQL of their own."""
    with ExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgres":
            overrides["database_url"] = stack.enter_context(postgres_url())
        container = fake_container(make_settings(tmp_path, **overrides))
        yield stack.enter_context(TestClient(create_app(container=container)))


@pytest.fixture
def three(db_client) -> dict[str, str]:
    """Three analysed calls (distinct audio): a1 billing/vip, a2 support, a2 billing."""
    client = db_client
    specs = {
        "one": (2.0, {"team": "billing", "queue": "vip", "external_id": "C-1", "vip": True}, "a1"),
        "two": (3.0, {"team": "support", "direction": "Inbound"}, "a2"),
        "three": (4.0, {"team": "billing", "agent": "a2"}, None),
    }
    ids = {}
    for name, (seconds, metadata, agent) in specs.items():
        fields = {"agent": agent} if agent else {}
        ids[name] = finished(client, post_call(client, wav_bytes(seconds), metadata, **fields))[
            "call_id"
        ]
    return ids


def test_metadata_is_stored_with_the_call_and_filters_the_list(db_client, three):
    client = db_client
    document = client.get(f"/v1/calls/{three['one']}").json()
    assert document["metadata"] == {
        "team": "billing",
        "queue": "vip",
        "external_id": "C-1",
        "vip": True,
        "agent": "a1",  # the agent field goes into the metadata
    }
    assert document["agent"] == "a1"
    two = client.get(f"/v1/calls/{three['two']}").json()
    assert two["metadata"] == {"team": "support", "direction": "inbound", "agent": "a2"}
    assert client.get(f"/v1/calls/{three['three']}").json()["agent"] == "a2"  # from metadata

    assert listed(client, agent="a2") == sorted([three["two"], three["three"]])
    assert listed(client, team="billing") == sorted([three["one"], three["three"]])
    assert listed(client, queue="vip") == [three["one"]]
    assert listed(client, metadata=["team:billing", "agent:a2"]) == [three["three"]]
    assert listed(client, metadata="vip:true") == [three["one"]]  # booleans as true/false
    assert listed(client, metadata="direction:inbound", team="billing") == []
    assert listed(client, metadata="team:sales") == []
    page = client.get("/v1/calls", params={"team": "support"}).json()
    assert page["total"] == 1
    assert page["items"][0]["metadata"]["team"] == "support"
    assert page["items"][0]["agent"] == "a2"


def test_search_and_insights_take_the_same_metadata_filter(db_client, three):
    client = db_client
    everyone = client.get("/v1/agents").json()
    assert {(a["agent"], a["calls"]) for a in everyone} == {("a1", 1), ("a2", 2)}
    billing = client.get("/v1/agents", params={"team": "billing"}).json()
    assert {(a["agent"], a["calls"]) for a in billing} == {("a1", 1), ("a2", 1)}
    detail = client.get("/v1/agents/a2", params={"metadata": "team:support"}).json()
    assert detail["calls"] == 1
    trends = client.get("/v1/trends", params={"metadata": ["team:billing", "queue:vip"]}).json()
    assert sum(b["calls"] for b in trends) == 1

    hits = client.get("/v1/search", params={"q": "refund", "k": 20}).json()["hits"]
    assert {h["call_id"] for h in hits} == set(three.values())
    support = client.get("/v1/search", params={"q": "refund", "k": 20, "team": "support"})
    assert support.status_code == 200, support.text
    assert {h["call_id"] for h in support.json()["hits"]} == {three["two"]}
    none = client.get("/v1/search", params={"q": "refund", "metadata": "team:nobody"})
    assert none.json()["hits"] == []


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"Bad Key!": "x"}, "is not allowed"),
        ({"team": ["a", "b"]}, "is a list"),
        ({"direction": "sideways"}, "inbound or outbound"),
        ({"started_at": "yesterday"}, "ISO 8601"),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_written(client, metadata, message):
    response = post_call(client, wav_bytes(), metadata)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert message in error["message"]
    assert error["hint"]
    assert counts(client) == (0, 0, 0)
    assert [p for p in stored_files(client) if "incoming" not in p.parts] == []


def test_a_bad_metadata_filter_is_a_422_with_a_hint(client):
    for params in ({"metadata": "team"}, {"metadata": "Bad Key:x"}, {"metadata": "team:"}):
        response = client.get("/v1/calls", params=params)
        assert response.status_code == 422, (params, response.text)
        assert "key:value" in response.json()["error"]["hint"]
    assert client.get("/v1/agents", params={"metadata": "team"}).status_code == 422


def test_the_same_audio_or_external_id_is_answered_as_a_duplicate(client):
    first = finished(client, post_call(client, wav_bytes(2.0), {"external_id": "C-9"}))
    before = counts(client)

    again = post_call(client, wav_bytes(2.0))  # the same audio, no external id
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["duplicate"] is True and body["status"] == "duplicate"
    assert (body["call_id"], body["job_id"]) == (first["call_id"], first["job_id"])
    assert body["links"] == first["links"]
    assert again.headers["location"] == first["links"]["job"]

    same_id = post_call(client, wav_bytes(3.0), {"external_id": "C-9", "team": "x"})
    assert same_id.status_code == 200, same_id.text
    assert same_id.json()["call_id"] == first["call_id"]
    assert counts(client) == before  # nothing queued, nothing stored

    forced = finished(client, post_call(client, wav_bytes(2.0), {"external_id": "C-9"}, force=True))
    assert forced["call_id"] != first["call_id"] and forced["job_id"] != first["job_id"]
    assert counts(client)[:2] == (before[0] + 1, before[1] + 1)


def test_a_second_upload_while_the_first_runs_is_a_duplicate(make_client, tmp_path):
    gated = GatedTranscriber(words_of("thank you for calling", 0.2))
    client = make_client(make_settings(tmp_path, job_concurrency=1), transcriber=gated)
    first = post_call(client, wav_bytes(2.0), {"external_id": "Q-1"})
    assert first.status_code == 202, first.text
    assert gated.entered.wait(30), "the first job never reached ASR"
    try:
        second = post_call(client, wav_bytes(5.0), {"external_id": "Q-1"})
        assert second.status_code == 200, second.text
        assert second.json()["job_id"] == first.json()["job_id"]
        assert counts(client)[1] == 1
    finally:
        gated.gate.set()
    assert follow_job(client, first.json()["job_id"])[-1].status == "succeeded"


def post_batch(
    client: Any,
    files: list[tuple[str, bytes]],
    metadata: Any = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> Any:
    data = {name: str(value) for name, value in fields.items()}
    if metadata is not None:
        data["metadata"] = json.dumps(metadata)
    parts = [("files", (name, content, "audio/wav")) for name, content in files]
    return client.post("/v1/calls/batch", files=parts, data=data, headers=headers)


def test_a_batch_answers_per_file_and_a_bad_file_loses_no_other(client):
    first = finished(client, post_call(client, wav_bytes(2.0)))
    files = [
        ("a.wav", wav_bytes(3.0)),
        ("notes.wav", b"this is not audio at all" * 10),
        ("b.wav", wav_bytes(4.0)),
        ("again.wav", wav_bytes(2.0)),  # the call above
        ("c.wav", wav_bytes(5.0)),
    ]
    metadata = [
        {"agent": "a1", "team": "billing"},
        {"agent": "a1"},
        {"agent": "a2", "external_id": "B-2"},
        {},
        {"direction": "sideways"},  # this file's metadata is bad: only it fails
    ]
    response = post_batch(client, files, metadata, language="en")

    assert response.status_code == 202, response.text
    body = response.json()
    items = body["items"]
    assert [i["status"] for i in items] == ["queued", "error", "queued", "duplicate", "error"]
    assert (body["queued"], body["duplicates"], body["errors"]) == (2, 1, 2)
    assert [i["filename"] for i in items] == [name for name, _ in files]
    assert items[1]["error"]["status"] == 415 and items[1]["error"]["code"] == "unsupported_audio"
    assert items[4]["error"]["status"] == 422 and "direction" in items[4]["error"]["message"]
    assert items[3]["call_id"] == first["call_id"] and items[3]["duplicate"] is True
    for item in (items[0], items[2]):
        assert follow_job(client, item["job_id"])[-1].status == "succeeded"
        assert client.get(item["links"]["call"]).status_code == 200
    assert client.get(f"/v1/calls/{items[0]['call_id']}").json()["metadata"] == {
        "agent": "a1",
        "team": "billing",
    }
    assert client.get(f"/v1/jobs/{items[2]['job_id']}").json()["options"]["language"] == "en"
    assert listed(client, agent="a2") == [items[2]["call_id"]]


def test_batch_metadata_keyed_by_file_name_and_the_agent_for_all(client):
    files = [("x.wav", wav_bytes(2.0)), ("y.wav", wav_bytes(3.0))]
    response = post_batch(client, files, {"y.wav": {"agent": "a9", "queue": "q1"}}, agent="a0")

    assert response.status_code == 202, response.text
    x, y = response.json()["items"]
    for item in (x, y):
        assert follow_job(client, item["job_id"])[-1].status == "succeeded"
    assert client.get(f"/v1/calls/{x['call_id']}").json()["metadata"] == {"agent": "a0"}
    assert client.get(f"/v1/calls/{y['call_id']}").json()["metadata"] == {
        "agent": "a9",
        "queue": "q1",
    }


def test_a_bad_batch_is_refused_whole_before_any_file_is_taken(make_client, tmp_path):
    client = make_client(make_settings(tmp_path, max_batch_files=2))
    three = [(f"{n}.wav", wav_bytes(2.0 + n)) for n in range(3)]
    over = post_batch(client, three)
    assert over.status_code == 422, over.text
    assert "MAX_BATCH_FILES" in over.json()["error"]["message"]

    two = three[:2]
    for metadata, message in (
        ([{}], "1 entries for 2 files"),
        ({"nope.wav": {}}, "not one of the files"),
        ("text", "JSON array"),
    ):
        response = post_batch(client, two, metadata)
        assert response.status_code == 422, response.text
        assert message in response.json()["error"]["message"]
    options = post_batch(client, two, num_speakers=99)  # the batch's own options are bad
    assert options.status_code == 422, options.text
    assert "num_speakers" in options.json()["error"]["message"]
    assert counts(client) == (0, 0, 0)


def test_each_file_of_a_batch_counts_against_the_upload_rate_limit(make_client, tmp_path):
    client = make_client(make_settings(tmp_path, rate_limit_uploads_per_min=2))
    analyst = auth(with_keys(client)["analyst"])
    files = [(f"{n}.wav", wav_bytes(2.0 + n)) for n in range(3)]
    response = post_batch(client, files, headers=analyst)

    assert response.status_code == 202, response.text
    statuses = [i["status"] for i in response.json()["items"]]
    assert statuses == ["queued", "queued", "error"]
    assert response.json()["items"][2]["error"]["status"] == 429
    single = client.post(
        "/v1/calls", files={"file": ("d.wav", wav_bytes(9.0), "audio/wav")}, headers=analyst
    )
    assert single.status_code == 429


# ---------------------------------------------------------------------- GraphQL
ANALYZE = """
mutation Analyze($file: Upload!, $metadata: JSON, $agent: String, $force: Boolean! = false) {
  analyzeCall(file: $file, metadata: $metadata, agent: $agent, force: $force) {
    callId jobId status duplicate
  }
}"""


def gql_upload(client: Any, content: bytes, **variables: Any) -> dict[str, Any]:
    operations = {"query": ANALYZE, "variables": {"file": None, **variables}}
    response = client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("call.wav", content, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    return response.json()


def gql(client: Any, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def test_graphql_uploads_with_metadata_filters_and_answers_duplicates(client):
    made = gql_upload(client, wav_bytes(2.0), metadata={"team": "billing"}, agent="g1")
    first = made["data"]["analyzeCall"]
    assert first["duplicate"] is False and first["status"] == "QUEUED"
    assert follow_job(client, first["jobId"])[-1].status == "succeeded"
    other = gql_upload(client, wav_bytes(3.0), metadata={"team": "support"})["data"]
    assert follow_job(client, other["analyzeCall"]["jobId"])[-1].status == "succeeded"

    calls = gql(
        client,
        """query($f: CallFilter) { calls(filter: $f) {
             totalCount edges { node { id agent metadata } } } }""",
        f={"metadata": [{"key": "team", "value": "billing"}]},
    )["calls"]
    assert calls["totalCount"] == 1
    node = calls["edges"][0]["node"]
    assert node["id"] == first["callId"]
    assert node["metadata"] == {"team": "billing", "agent": "g1"}
    by_team = gql(
        client, "query($f: CallFilter) { calls(filter: $f) { totalCount } }", f={"team": "support"}
    )
    assert by_team["calls"]["totalCount"] == 1
    call = gql(client, "query($id: ID!) { call(id: $id) { metadata } }", id=first["callId"])
    assert call["call"]["metadata"]["team"] == "billing"
    agents = gql(
        client,
        "query($m: [MetadataPairInput!]) { agents(metadata: $m) { agent calls } }",
        m=[{"key": "team", "value": "billing"}],
    )
    assert agents["agents"] == [{"agent": "g1", "calls": 1}]
    hits = gql(
        client,
        'query($m: [MetadataPairInput!]) { search(query: "refund", k: 20, metadata: $m) '
        "{ callId } }",
        m=[{"key": "team", "value": "support"}],
    )["search"]
    assert hits and {h["callId"] for h in hits} == {other["analyzeCall"]["callId"]}
    trends = gql(
        client,
        "query($m: [MetadataPairInput!]) { trends(metadata: $m) { calls } }",
        m=[{"key": "team", "value": "support"}],
    )["trends"]
    assert sum(b["calls"] for b in trends) == 1

    again = gql_upload(client, wav_bytes(2.0))["data"]["analyzeCall"]
    assert again["duplicate"] is True and again["status"] == "SUCCEEDED"
    assert (again["callId"], again["jobId"]) == (first["callId"], first["jobId"])
    forced = gql_upload(client, wav_bytes(2.0), force=True)["data"]["analyzeCall"]
    assert forced["duplicate"] is False and forced["callId"] != first["callId"]

    bad = gql_upload(client, wav_bytes(6.0), metadata={"direction": "up"})
    assert bad["errors"][0]["extensions"]["code"] == "invalid_input"
    assert "inbound or outbound" in bad["errors"][0]["message"]
    bad_filter = client.post(
        "/graphql",
        json={
            "query": "query($f: CallFilter) { calls(filter: $f) { totalCount } }",
            "variables": {"f": {"metadata": [{"key": "Bad Key", "value": "x"}]}},
        },
    ).json()
    assert bad_filter["errors"][0]["extensions"]["code"] == "invalid_input"
