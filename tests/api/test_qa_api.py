"""The QA scorecard in an analysed call's document, over REST and GraphQL."""

from __future__ import annotations

from tests.api.conftest import follow_job
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeTranscriber, words_of

AGENT = "thank you for calling how can I help"
CUSTOMER = "my bill is wrong"


def test_each_call_is_scored_against_the_checklist_with_its_evidence(make_client):
    words = words_of(AGENT, 0.2) + words_of(CUSTOMER, 4.6)
    client = make_client(transcriber=FakeTranscriber(words))
    response = client.post("/v1/calls", files={"file": ("c.wav", wav_bytes(60), "audio/wav")})
    follow_job(client, response.json()["job_id"])
    call_id = response.json()["call_id"]

    qa = client.get(f"/v1/calls/{call_id}").json()["qa"]
    items = {item["id"]: item for item in qa["items"]}
    assert qa["method"] == "rules" and qa["scorecard"] == "default"
    assert items["greeting"]["passed"] is True
    assert items["greeting"]["evidence"] == {"utterance": 0, "text": AGENT}
    assert items["closing"]["passed"] is False and items["closing"]["evidence"] is None
    applicable = [i for i in items.values() if i["passed"] is not None]
    assert qa["score"] == round(100 * sum(i["passed"] for i in applicable) / len(applicable), 1)

    query = "query($id: ID!) { call(id: $id) { qa } }"
    body = client.post("/graphql", json={"query": query, "variables": {"id": call_id}}).json()
    assert body["data"]["call"]["qa"] == qa
