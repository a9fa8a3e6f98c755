"""GraphQL over HTTP: queries, multipart uploads, mutations and error shapes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from api.graphql.limits import MAX_ALIASES
from core.domain import CallAnalysis, Conversation, Resolution
from tests.api.conftest import follow_job, runtime_of
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeCallAnalyzer, FakeEmbedder, FakeTranscriber, words_of

GREETING = words_of("thank you for calling how can I help", 0.2)
# The customer's words, chosen by the recording's length in whole seconds.
SCRIPTS = {
    10: "my bill is wrong and I want a refund",
    11: "this is ridiculous I am angry about my internet",
    12: "great thanks that is perfect",
}


class ScriptedTranscriber(FakeTranscriber):
    """Transcribes each recording as the script its length selects."""

    def __init__(self) -> None:
        super().__init__(GREETING)

    async def transcribe(self, samples, options, progress=None):  # type: ignore[no-untyped-def]
        self.words = GREETING + words_of(SCRIPTS[round(len(samples) / 16000)], 4.6)
        return await super().transcribe(samples, options, progress)


class TopicAnalyzer(FakeCallAnalyzer):
    """Topics, conflict and resolution follow from what the customer said."""

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        base = await super().analyze(conversation)
        text = " ".join(u.text for u in conversation.utterances)
        angry = "angry" in text
        base.topics = ["billing", "refund"] if "refund" in text else ["billing"]
        if angry:
            base.topics = ["internet", "complaint"]
        base.conflict_detected = angry
        base.conflict_evidence = [1] if angry else []
        base.resolution = Resolution.UNRESOLVED if angry else Resolution.RESOLVED
        return base


def gql(client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


def data_of(client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = gql(client, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


ANALYZE = """
mutation Analyze($file: Upload!, $options: AnalyzeOptionsInput) {
  analyzeCall(file: $file, options: $options) { callId jobId status }
}"""


def upload(
    client,
    content: bytes,
    filename: str = "call.wav",
    options: dict[str, Any] | None = None,
):
    """A GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec)."""
    operations = {"query": ANALYZE, "variables": {"file": None, "options": options}}
    return client.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (filename, content, "application/octet-stream")},
    )


def analyze(client, seconds: float = 10.0, **options: Any) -> dict[str, Any]:
    response = upload(client, wav_bytes(seconds), options=options or None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]["analyzeCall"]


@pytest.fixture
def scripted(make_client):
    return make_client(transcriber=ScriptedTranscriber(), analyzer=TopicAnalyzer())


@pytest.fixture
def stored(scripted) -> dict[str, str]:
    """Three analysed calls, uploaded (and finished) in this order: refund, angry, thanks."""
    ids = {}
    for name, seconds in (("refund", 10), ("angry", 11), ("thanks", 12)):
        submitted = analyze(scripted, seconds)
        events = follow_job(scripted, submitted["jobId"])
        assert events[-1].status == "succeeded", events[-1]
        ids[name] = submitted["callId"]
    return ids


CALLS = """
query Calls($filter: CallFilter, $first: Int! = 20, $after: String) {
  calls(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id filename createdAt topics conflict resolution sentiment } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def listed(client, stored: dict[str, str], **variables: Any) -> list[str]:
    names = {call_id: name for name, call_id in stored.items()}
    calls = data_of(client, CALLS, variables)["calls"]
    found = [names[edge["node"]["id"]] for edge in calls["edges"]]
    assert calls["totalCount"] == len(found)
    return found


# ------------------------------------------------------------------------ calls
def test_calls_lists_newest_first(scripted, stored):
    calls = data_of(scripted, CALLS)["calls"]
    assert [e["node"]["id"] for e in calls["edges"]] == [
        stored["thanks"],
        stored["angry"],
        stored["refund"],
    ]
    assert calls["totalCount"] == 3
    assert calls["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": calls["edges"][0]["cursor"],
        "endCursor": calls["edges"][-1]["cursor"],
    }
    angry = calls["edges"][1]["node"]
    assert angry["topics"] == ["internet", "complaint"]
    assert angry["conflict"] is True
    assert angry["resolution"] == "UNRESOLVED"
    assert angry["sentiment"] == "NEGATIVE"


def test_calls_pages_follow_end_cursor(scripted, stored):
    first = data_of(scripted, CALLS, {"first": 2})["calls"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["totalCount"] == 3
    second = data_of(scripted, CALLS, {"first": 2, "after": first["pageInfo"]["endCursor"]})
    second = second["calls"]
    assert second["pageInfo"]["hasNextPage"] is False
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert ids == [stored["thanks"], stored["angry"], stored["refund"]]
    # Any edge's cursor continues after that edge.
    after_first = data_of(scripted, CALLS, {"after": first["edges"][0]["cursor"]})["calls"]
    assert [e["node"]["id"] for e in after_first["edges"]] == ids[1:]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"topic": "refund"}, ["refund"]),
        ({"topic": "BILLING"}, ["thanks", "refund"]),
        ({"topic": "weather"}, []),
        ({"sentiment": "NEGATIVE"}, ["angry"]),
        ({"sentiment": "POSITIVE"}, ["thanks"]),
        ({"sentiment": "NEUTRAL"}, ["refund"]),
        ({"conflict": True}, ["angry"]),
        ({"conflict": False}, ["thanks", "refund"]),
        ({"resolution": "UNRESOLVED"}, ["angry"]),
        ({"resolution": "RESOLVED", "topic": "billing", "sentiment": "POSITIVE"}, ["thanks"]),
    ],
)
def test_calls_filter(scripted, stored, filter, expected):
    assert listed(scripted, stored, filter=filter) == expected


def test_calls_filter_by_creation_time(scripted, stored):
    created = {
        e["node"]["id"]: e["node"]["createdAt"] for e in data_of(scripted, CALLS)["calls"]["edges"]
    }
    middle = created[stored["angry"]]
    assert listed(scripted, stored, filter={"createdAfter": middle}) == ["thanks", "angry"]
    assert listed(scripted, stored, filter={"createdBefore": middle}) == ["refund"]


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"after": "not a cursor"},
        {"filter": {"createdAfter": "2030-01-02T00:00:00", "createdBefore": "2030-01-01T00:00:00"}},
    ],
)
def test_calls_bad_arguments_are_invalid_input(client, variables):
    body = gql(client, CALLS, variables)
    assert body["data"] is None
    assert error_codes(body) == ["invalid_input"]
    assert body["errors"][0]["extensions"]["hint"] is not None


# ------------------------------------------------------------------------ one call
CALL = """
query Call($id: ID!) {
  call(id: $id) {
    id filename createdAt status durationS language
    audio { durationS sampleRate channels codec }
    speakers {
      id role channel talkTimeS talkRatio wordsPerMinute interruptions sentimentMean
      loudnessDbfs
    }
    utterances {
      index speaker role start end text
      sentiment { label score }
      words { word start end probability }
    }
    metrics {
      talkTimeS nonTalkTimeS silenceRatio longestSilenceS overlapS interruptions
      agentTalkRatio meanResponseLatencyS customerSentimentTrend interruptionUtterances
      sentimentByQuarter { agent customer }
    }
    analysis {
      summary topics reason resolution provider model actionItems
      sources { field source }
      conflict { detected evidence }
      profanity { utterance words }
    }
    stages
    warnings
    agent
    metadata
    qa
  }
}"""

ENUM_KEYS = {"role", "label", "resolution"}


def graphql_shape(value: Any, key: str = "") -> Any:
    """The document as GraphQL spells it: camelCase names, enum values in capitals."""
    if isinstance(value, dict):
        return {camel(k): graphql_shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [graphql_shape(v, key) for v in value]
    if key in ENUM_KEYS and isinstance(value, str):
        return value.upper()
    return value


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_call_is_the_stored_document(scripted, stored):
    call_id = stored["angry"]
    document = runtime_of(scripted).catalog.document(call_id)
    call = data_of(scripted, CALL, {"id": call_id})["call"]

    assert call["stages"] == document["stages"]  # JSON, as stored
    assert datetime.fromisoformat(call["createdAt"]) == datetime.fromisoformat(
        document["created_at"]
    )
    assert call["durationS"] == document["audio"]["duration_s"]
    expected = graphql_shape({k: v for k, v in document.items() if k not in {"stages"}})
    del expected["createdAt"]
    sources = document["analysis"]["sources"]  # a map in JSON, a list of pairs in GraphQL
    expected["analysis"]["sources"] = [{"field": f, "source": s} for f, s in sources.items()]
    got = {k: v for k, v in call.items() if k not in {"stages", "createdAt", "durationS"}}
    assert got == expected
    assert call["utterances"][1]["words"][0]["word"] == "this"
    assert call["analysis"]["conflict"] == {"detected": True, "evidence": [1]}


def test_unknown_call_is_null_without_error(client):
    body = gql(client, CALL, {"id": "no-such-call"})
    assert body == {"data": {"call": None}}


def test_listed_call_resolves_its_document(scripted, stored):
    query = "{ calls(first: 1) { edges { node { id call { id utterances { text } } } } } }"
    node = data_of(scripted, query)["calls"]["edges"][0]["node"]
    assert node["call"]["id"] == node["id"] == stored["thanks"]
    assert node["call"]["utterances"][-1]["text"] == SCRIPTS[12]


# ------------------------------------------------------------------------ search
SEARCH = """
query Search($q: String!, $k: Int! = 10, $callId: ID, $role: Role) {
  search(query: $q, k: $k, callId: $callId, role: $role) {
    callId utteranceIndex speaker role start end text score filename callCreatedAt
    call { id }
  }
}"""


def test_search_finds_utterances_of_stored_calls(scripted, stored):
    runtime = runtime_of(scripted)
    hits = data_of(scripted, SEARCH, {"q": SCRIPTS[10]})["search"]
    assert hits == sorted(hits, key=lambda h: -h["score"])
    [exact] = [h for h in hits if h["callId"] == stored["refund"] and h["text"] == SCRIPTS[10]]
    assert exact["score"] == pytest.approx(hits[0]["score"])  # the best match there is
    assert exact["role"] == "CUSTOMER"
    for hit in hits:  # every hit is a stored utterance, described as the document has it
        document = runtime.catalog.document(hit["callId"])
        utterance = document["utterances"][hit["utteranceIndex"]]
        assert hit["text"] == utterance["text"]
        assert hit["speaker"] == utterance["speaker"]
        assert hit["role"] == utterance["role"].upper()
        assert (hit["start"], hit["end"]) == (utterance["start"], utterance["end"])
        assert hit["filename"] == document["filename"]
        assert hit["call"] == {"id": hit["callId"]}


def test_search_narrows_by_call_role_and_k(scripted, stored):
    in_call = data_of(scripted, SEARCH, {"q": "refund", "callId": stored["angry"]})["search"]
    assert in_call and {h["callId"] for h in in_call} == {stored["angry"]}
    customer = data_of(scripted, SEARCH, {"q": "refund", "role": "CUSTOMER"})["search"]
    assert customer and {h["role"] for h in customer} == {"CUSTOMER"}
    assert len(data_of(scripted, SEARCH, {"q": "refund", "k": 1})["search"]) == 1


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"q": " "}, "invalid_input"),
        ({"q": "x", "k": 0}, "invalid_input"),
        ({"q": "refund " * 143}, "invalid_input"),  # 1,001 characters: REST's cap too
    ],
)
def test_search_bad_arguments(client, variables, code):
    body = gql(client, SEARCH, variables)
    assert body["data"] is None
    assert error_codes(body) == [code]


class BrokenEmbedder(FakeEmbedder):
    async def embed(self, texts):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret connection string")


def test_unexpected_failure_is_masked_and_answered(make_client, caplog):
    client = make_client(embedder=BrokenEmbedder())
    body = gql(client, SEARCH, {"q": "refund"})
    assert body["data"] is None
    assert error_codes(body) == ["internal_error"]
    assert "secret" not in json.dumps(body)
    assert "secret connection string" in caplog.text  # logged for the operator


# ------------------------------------------------------------------------ jobs and stages
JOB = """
query Job($id: ID!) {
  job(id: $id) {
    id callId kind filename status stage progress message error attempts options
    createdAt startedAt finishedAt
    events { jobId seq stage progress message status at terminal }
    call { id }
  }
}"""


def test_job_reports_its_state_and_events(client):
    submitted = analyze(client, 10, numSpeakers=2, language="en")
    follow_job(client, submitted["jobId"])
    job = data_of(client, JOB, {"id": submitted["jobId"]})["job"]
    assert job["id"] == submitted["jobId"]
    assert job["callId"] == submitted["callId"] == job["call"]["id"]
    assert (job["kind"], job["filename"], job["status"]) == ("analyze", "call.wav", "SUCCEEDED")
    assert job["attempts"] == 1 and job["error"] is None and job["progress"] == 1.0
    assert job["options"]["num_speakers"] == 2 and job["options"]["language"] == "en"
    assert job["createdAt"] <= job["startedAt"] <= job["finishedAt"]
    stored = runtime_of(client).service.stored_events(submitted["jobId"])
    assert [(e["seq"], e["stage"], e["status"]) for e in job["events"]] == [
        (e.seq, e.stage, e.status.upper()) for e in stored
    ]
    assert job["events"][-1]["terminal"] is True
    assert not any(e["terminal"] for e in job["events"][:-1])


def test_unknown_job_is_null(client):
    assert gql(client, JOB, {"id": "no-such-job"}) == {"data": {"job": None}}


def test_stages_describe_each_stage(client):
    runtime = runtime_of(client)
    client.portal.call(runtime.models_loaded)
    query = "{ stages { name required status backend engine model device loadSeconds detail } }"
    stages = {s["name"]: s for s in data_of(client, query)["stages"]}
    assert list(stages) == ["diarization", "asr", "sentiment", "embedding", "llm"]
    assert stages["asr"]["required"] and not stages["llm"]["required"]
    assert stages["asr"]["engine"] == "fake-asr"
    assert {s["status"] for s in stages.values()} == {"up"}
    local = {name: state.as_dict() for name, state in runtime.stages.items()}
    assert all(state.pop("remote") is None for state in local.values())  # all in-process
    assert stages == {name: graphql_shape(state) for name, state in local.items()}


# ------------------------------------------------------------------------ mutations
def test_analyze_call_uploads_and_the_call_can_be_read(client):
    submitted = analyze(client, 10)
    assert submitted["status"] == "QUEUED"
    assert follow_job(client, submitted["jobId"])[-1].status == "succeeded"
    call = data_of(
        client, "query($id: ID!) { call(id: $id) { id filename } }", {"id": submitted["callId"]}
    )["call"]
    assert call == {"id": submitted["callId"], "filename": "call.wav"}


def test_analyze_call_refuses_what_is_not_audio(client, api_settings):
    response = upload(client, b"these are meeting notes, not a recording", "notes.wav")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == ["unsupported_audio"]
    assert body["errors"][0]["path"] == ["analyzeCall"]
    assert data_of(client, "{ calls { totalCount } }")["calls"]["totalCount"] == 0
    storage = api_settings.storage_dir
    assert not [p for p in storage.rglob("*") if p.is_file()]


@pytest.mark.parametrize("extra", [1 << 10, 1 << 20])
def test_analyze_call_refuses_an_upload_over_the_limit(client, api_settings, extra):
    """Just over MAX_UPLOAD_MB: refused while streaming to disk (a GraphQL error); far
    over: refused by the body-size limit before anything is read (HTTP 413)."""
    content = wav_bytes(1) + bytes(api_settings.max_upload_mb * (1 << 20) + extra)
    response = upload(client, content)
    if response.status_code == 200:
        assert error_codes(response.json()) == ["upload_too_large"]
    else:
        assert response.status_code == 413
        assert "upload_too_large" in response.text
    assert (response.status_code == 200) is (extra < 1 << 16)
    assert not [p for p in api_settings.storage_dir.rglob("*") if p.is_file()]


def test_analyze_call_checks_options_before_storing(client, api_settings):
    response = upload(client, wav_bytes(10), options={"numSpeakers": 50})
    body = response.json()
    assert error_codes(body) == ["invalid_input"]
    assert "num_speakers" in body["errors"][0]["message"]
    assert not [p for p in api_settings.storage_dir.rglob("*") if p.is_file()]


def test_analyze_call_needs_a_multipart_file(client):
    body = gql(client, ANALYZE, {"file": "not a file"})
    assert body["data"] is None
    assert error_codes(body) == ["invalid_input"]


def test_multipart_request_without_its_file_is_a_bad_request(client):
    response = client.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": ANALYZE, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"other": ("x.wav", b"x", "audio/wav")},
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["bad_request"]


DELETE = "mutation($id: ID!) { deleteCall(id: $id) }"


def test_delete_call_removes_it(client, api_settings):
    submitted = analyze(client, 10)
    follow_job(client, submitted["jobId"])
    assert data_of(client, DELETE, {"id": submitted["callId"]}) == {"deleteCall": True}
    assert gql(client, CALL, {"id": submitted["callId"]}) == {"data": {"call": None}}
    assert gql(client, JOB, {"id": submitted["jobId"]}) == {"data": {"job": None}}
    assert data_of(client, "{ calls { totalCount } }")["calls"]["totalCount"] == 0
    assert not [p for p in api_settings.storage_dir.rglob("*") if p.is_file()]
    assert data_of(client, DELETE, {"id": submitted["callId"]}) == {"deleteCall": False}


REANALYZE = """
mutation($id: ID!, $options: AnalyzeOptionsInput) {
  reanalyzeCall(id: $id, options: $options) { callId jobId status job { kind callId } }
}"""


def test_reanalyze_call_runs_a_new_job_for_the_same_call(client):
    submitted = analyze(client, 10)
    follow_job(client, submitted["jobId"])
    again = data_of(client, REANALYZE, {"id": submitted["callId"], "options": {"language": "en"}})
    again = again["reanalyzeCall"]
    assert again["callId"] == submitted["callId"]
    assert again["jobId"] != submitted["jobId"]
    assert again["status"] == "QUEUED"
    assert again["job"] == {"kind": "reanalyze", "callId": submitted["callId"]}
    assert follow_job(client, again["jobId"])[-1].status == "succeeded"
    assert data_of(client, "{ calls { totalCount } }")["calls"]["totalCount"] == 1


def test_reanalyze_unknown_call_is_not_found(client):
    body = gql(client, REANALYZE, {"id": "no-such-call"})
    assert body["data"] is None
    assert error_codes(body) == ["not_found"]
    assert body["errors"][0]["extensions"]["hint"]


# ------------------------------------------------------------------------ malformed requests
@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ calls { edges ", {}),  # syntax error
        ("{ calls { nope } }", {}),  # unknown field
        ("{ call { id } }", {}),  # missing argument
        ("query($n: Int!) { calls(first: $n) { totalCount } }", {"n": "twenty"}),
        ("query($f: CallFilter) { calls(filter: $f) { totalCount } }", {"f": {"sentiment": "x"}}),
        ("query($f: CallFilter) { calls(filter: $f) { totalCount } }", {"f": {"createdAfter": 5}}),
        ("subscription { jobProgress(jobId: 1) { seq } } query { stages { name } }", {}),
        ("subscription { jobProgress(jobId: 1) { seq } }", {}),  # needs a WebSocket
        ("{" * 30 + "}" * 30, {}),
    ],
)
def test_malformed_operations_are_graphql_errors(client, query, variables):
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body["errors"]
    assert set(error_codes(body)) <= {"invalid_query", "bad_request"}
    assert all(e["message"] for e in body["errors"])


def test_too_many_aliases_are_refused(client):
    fields = " ".join(f"a{i}: stages {{ name }}" for i in range(MAX_ALIASES + 1))
    body = gql(client, "{ " + fields + " }")
    assert body.get("data") is None
    assert error_codes(body) == ["invalid_query"]
    fields = " ".join(f"a{i}: stages {{ name }}" for i in range(MAX_ALIASES))
    assert "errors" not in gql(client, "{ " + fields + " }")


def doubling_fragments(n: int) -> str:
    """The probe's query: fragment k spreads fragment k-1 twice (2**n fields once expanded),
    under 1 KB of text for n=21."""
    lines = ["fragment F0 on Query { __typename }"]
    lines += [f"fragment F{k} on Query {{ ...F{k - 1} ...F{k - 1} }}" for k in range(1, n + 1)]
    return " ".join([*lines, f"query {{ ...F{n} }}"])


@pytest.mark.timeout(120)  # guards against a hang; the exponential check took minutes
@pytest.mark.parametrize("n", [21, 39, 90])
def test_fragments_that_double_are_refused_at_once(client, n):
    query = doubling_fragments(n)
    assert n != 21 or len(query) < 1400
    body = gql(client, query)
    assert body.get("data") is None
    assert error_codes(body) == ["query_too_large"]
    assert "fragment" in body["errors"][0]["message"]
    assert client.get("/health/live").status_code == 200


def test_fragments_that_stay_small_still_work(client):
    body = gql(client, doubling_fragments(6))  # 64 fields once expanded
    assert "errors" not in body and body["data"]["__typename"] == "Query"


def test_a_document_past_the_token_cap_is_refused(client):
    from api.graphql.limits import MAX_TOKENS

    body = gql(client, "{ " + " ".join(["__typename"] * MAX_TOKENS) + " }")
    assert body.get("data") is None and error_codes(body) == ["invalid_query"]
    assert "token" in body["errors"][0]["message"].lower()


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"variables": {}}', "application/json"),
        (b"query=1", "text/plain"),
    ],
)
def test_requests_that_are_not_graphql_are_bad_requests(client, content, content_type):
    response = client.post("/graphql", content=content, headers={"content-type": content_type})
    assert response.status_code == 400
    assert error_codes(response.json()) == ["bad_request"]


def test_mutation_over_get_is_refused(client):
    response = client.get("/graphql", params={"query": 'mutation { deleteCall(id: "x") }'})
    assert 400 <= response.status_code < 500
    assert client.get("/graphql", params={"query": "{ stages { name } }"}).status_code == 200


def test_introspection_for_graphiql(client):
    from graphql import get_introspection_query

    schema = data_of(client, get_introspection_query(descriptions=True))["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"Call", "CallConnection", "Job", "JobEvent", "SearchHit", "Stage"} <= names
    assert schema["subscriptionType"]["name"] == "Subscription"


def test_graphiql_in_a_browser(client):
    response = client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("path", ["/graphql", "/v1/categories"])
def test_a_body_nested_100k_deep_is_a_400(client, path):
    """json.loads raised RecursionError: a 500 before."""
    nested = "[" * 100_000 + "]" * 100_000
    body = '{"query": "{ __typename }", "variables": ' + nested + "}"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert client.get("/health/live").status_code == 200


def test_the_cost_estimate_counts_jobs_pages():
    from graphql import parse

    from api.graphql.limits import selection_cost

    def cost(query: str) -> int:
        operation = parse(query).definitions[0]
        return selection_cost(operation.selection_set, {})  # type: ignore[attr-defined]

    assert cost("{ jobs(first: 100) { id events { seq } } }") == 1 + 100 * (1 + 1 + 30)
    assert cost("{ jobs { id } }") == 1 + 20
