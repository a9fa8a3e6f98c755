"""Custom vocabularies over REST and GraphQL: kept, checked, and merged into each call's
analysis (global + the call's team + the call's own), the replacements in its transcript."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from core.domain import Transcript, TranscriptionOptions
from core.persistence.models import VocabularyRow
from tests.api.conftest import follow_job, runtime_of
from tests.api.test_auth import auth, with_keys
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeTranscriber, words_of

PRODUCTS = {
    "name": "products",
    "terms": ["Zentrix Plus", "Kalvora"],
    "replacements": [{"spoken": "flexi max", "written": "FlexiMax"}],
}


class RecordingTranscriber(FakeTranscriber):
    """The fake ASR engine, remembering the options of each call."""

    def __init__(self, text: str) -> None:
        super().__init__(words_of(text, 0.2))
        self.options: list[TranscriptionOptions] = []

    async def transcribe(self, samples, options, progress=None) -> Transcript:
        self.options.append(options)
        return await super().transcribe(samples, options, progress)


def create(client: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/vocabularies", json=body, headers=headers)


def rows(client: Any) -> int:
    database = runtime_of(client).database
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(VocabularyRow)) or 0)


def analyse(client: Any, **data: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/calls",
        files={"file": ("c.wav", wav_bytes(), "audio/wav")},
        data={"force": "true", **data},  # the same audio each time
    )
    assert response.status_code == 202, response.text
    assert follow_job(client, response.json()["job_id"])[-1].status == "succeeded"
    document = client.get(f"/v1/calls/{response.json()['call_id']}")
    assert document.status_code == 200
    return dict(document.json())


def test_crud_round_trip(client):
    made = create(client, PRODUCTS)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["scope"], body["team"], body["terms"]) == ("global", None, PRODUCTS["terms"])
    assert client.get(f"/v1/vocabularies/{body['id']}").json() == body
    assert [v["name"] for v in client.get("/v1/vocabularies").json()] == ["products"]

    changed = {**PRODUCTS, "scope": "team", "team": "billing", "terms": ["Omnivault"]}
    put = client.put(f"/v1/vocabularies/{body['id']}", json=changed)
    assert put.status_code == 200, put.text
    assert (put.json()["team"], put.json()["terms"]) == ("billing", ["Omnivault"])

    assert client.delete(f"/v1/vocabularies/{body['id']}").status_code == 204
    missing = client.get(f"/v1/vocabularies/{body['id']}")
    assert missing.status_code == 404
    assert "GET /v1/vocabularies" in missing.json()["error"]["hint"]
    assert client.delete(f"/v1/vocabularies/{body['id']}").status_code == 404


def test_a_name_is_taken_once(client):
    assert create(client, PRODUCTS).status_code == 201
    again = create(client, {**PRODUCTS, "name": "Products"})  # names are lower-cased
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "vocabulary_exists"
    assert rows(client) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({**PRODUCTS, "name": "no spaces"}, "letters, digits"),
        ({**PRODUCTS, "scope": "team"}, "needs `team`"),
        ({**PRODUCTS, "team": "billing"}, "global vocabulary has no `team`"),
        ({"name": "empty"}, "needs terms, replacements or both"),
        ({**PRODUCTS, "terms": ["x" * 61]}, "over 60 characters"),
        ({**PRODUCTS, "terms": [f"t{i}" for i in range(101)]}, "at most 100"),
        ({**PRODUCTS, "terms": [f"Supercalifragilistic{i}" for i in range(60)]}, "tokens"),
        ({**PRODUCTS, "replacements": [{"spoken": "...", "written": "X"}]}, "empty form"),
        ({**PRODUCTS, "replacements": [{"spoken": "a", "said": "b"}]}, "written"),
        ({**PRODUCTS, "scope": "everyone"}, "global"),
    ],
    ids=[
        "name",
        "team-missing",
        "team-on-global",
        "empty",
        "long-term",
        "many-terms",
        "over-prompt",
        "no-spoken-word",
        "bad-replacement",
        "bad-scope",
    ],
)
def test_bad_input_is_a_422_that_says_what_to_do_and_writes_nothing(client, body, says):
    response = create(client, body)
    assert response.status_code == 422, response.text
    assert says in json.dumps(response.json())
    assert rows(client) == 0


def test_roles_viewer_reads_analyst_writes_admin_deletes(client):
    keys = with_keys(client)
    assert create(client, PRODUCTS, **auth(keys["viewer"])).status_code == 403
    made = create(client, PRODUCTS, **auth(keys["analyst"]))
    assert made.status_code == 201
    assert made.json()["created_by"]
    path = f"/v1/vocabularies/{made.json()['id']}"
    assert client.get("/v1/vocabularies", headers=auth(keys["viewer"])).status_code == 200
    assert client.delete(path, headers=auth(keys["analyst"])).status_code == 403
    assert client.delete(path, headers=auth(keys["admin"])).status_code == 204


def test_a_call_gets_the_global_its_teams_and_its_own_vocabulary(make_client):
    # (within the fake diarizer's first turn: a spoken form is matched within an utterance)
    asr = RecordingTranscriber("from flexi max to zentrix plus at kal vora")
    client = make_client(transcriber=asr)
    assert create(client, PRODUCTS).status_code == 201
    team = {"name": "billing", "scope": "team", "team": "billing", "terms": ["Omnivault"]}
    other = {"name": "sales", "scope": "team", "team": "sales", "terms": ["Quintara"]}
    assert create(client, team).status_code == 201
    assert create(client, other).status_code == 201

    document = analyse(
        client,
        metadata=json.dumps({"team": "billing"}),
        terms=["Brelo Connect", "Kalvora"],
        replacements=json.dumps([{"spoken": "kal vora", "written": "Kalvora"}]),
    )
    # the call's own first, then its team's, then the global; duplicates once; not sales'
    expected = ("Brelo Connect", "Kalvora", "Omnivault", "Zentrix Plus")
    assert asr.options[-1].terms == expected
    used = document["stages"]["asr"]["vocabulary"]
    assert used["terms"] == list(expected)
    assert used["sources"] == ["call", "team:billing", "global:products"]
    assert used["replaced"] == 3  # FlexiMax, Zentrix Plus (case), Kalvora (two words)
    text = " ".join(u["text"] for u in document["utterances"])
    assert text == "from FlexiMax to Zentrix Plus at Kalvora"

    # no team: the global vocabulary only, and nothing recorded without one
    assert analyse(client)["stages"]["asr"]["vocabulary"]["sources"] == ["global:products"]
    assert asr.options[-1].terms == ("Zentrix Plus", "Kalvora")
    client.delete(f"/v1/vocabularies/{client.get('/v1/vocabularies').json()[1]['id']}")
    client.delete(f"/v1/vocabularies/{client.get('/v1/vocabularies').json()[0]['id']}")
    assert "vocabulary" not in analyse(client)["stages"]["asr"]
    assert asr.options[-1].terms == ()


def test_a_bad_per_call_vocabulary_is_refused_before_anything_is_queued(client):
    for data in (
        {"terms": ["x" * 61]},
        {"replacements": "not json"},
        {"replacements": json.dumps([{"spoken": "a"}])},
    ):
        response = client.post(
            "/v1/calls", files={"file": ("c.wav", wav_bytes(), "audio/wav")}, data=data
        )
        assert response.status_code == 422, (data, response.text)
    assert client.get("/v1/jobs").json()["items"] == []


def test_graphql_creates_lists_and_deletes_a_vocabulary(client):
    create_mutation = """mutation($input: VocabularyInput!) {
        createVocabulary(input: $input) { id name scope team terms replacements } }"""
    made = client.post(
        "/graphql",
        json={
            "query": create_mutation,
            "variables": {
                "input": {
                    "name": "gql",
                    "scope": "team",
                    "team": "billing",
                    "terms": ["Kalvora"],
                    "replacements": [{"spoken": "cal vora", "written": "Kalvora"}],
                }
            },
        },
    ).json()
    assert "errors" not in made, made
    vocabulary = made["data"]["createVocabulary"]
    assert vocabulary["replacements"] == [{"spoken": "cal vora", "written": "Kalvora"}]
    listed = client.post("/graphql", json={"query": "{ vocabularies { name terms } }"}).json()
    assert listed["data"]["vocabularies"] == [{"name": "gql", "terms": ["Kalvora"]}]

    bad = client.post(
        "/graphql",
        json={
            "query": create_mutation,
            "variables": {"input": {"name": "bad", "scope": "team", "terms": ["x"]}},
        },
    ).json()
    assert bad["errors"][0]["extensions"]["code"] == "invalid_input"
    assert "needs `team`" in bad["errors"][0]["message"]

    gone = client.post(
        "/graphql",
        json={"query": f'mutation {{ deleteVocabulary(id: "{vocabulary["id"]}") }}'},
    ).json()
    assert gone["data"]["deleteVocabulary"] is True
    assert rows(client) == 0


def test_graphql_analysis_options_check_a_calls_own_vocabulary():
    from api.graphql.inputs import AnalyzeOptionsInput
    from api.graphql.vocabularies import ReplacementInput
    from core.errors import InvalidInputError

    options = AnalyzeOptionsInput(
        terms=[" Kalvora ", "kalvora"],
        replacements=[ReplacementInput(spoken="cal vora", written="Kalvora")],
    ).to_options()
    assert options.terms == ("Kalvora",)
    assert options.replacements == ({"spoken": "cal vora", "written": "Kalvora"},)
    with pytest.raises(InvalidInputError, match="60 characters"):
        AnalyzeOptionsInput(terms=["x" * 61]).to_options()
