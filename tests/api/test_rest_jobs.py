"""GET /v1/jobs/{id}: a job while queued, while running, after success and after failure;
GET /v1/jobs (and GraphQL `jobs`): the jobs in given states, newest first."""

from __future__ import annotations

from tests.api.conftest import follow_job
from tests.api.test_rest import AGENT_TEXT, CUSTOMER_TEXT, stored_files, upload
from tests.support.app import GatedTranscriber, make_settings
from tests.unit.fakes import FakeTranscriber, words_of

WORDS = words_of(AGENT_TEXT, 0.2) + words_of(CUSTOMER_TEXT, 4.6)


class ExplodingTranscriber(FakeTranscriber):
    async def transcribe(self, samples, options, progress=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the decoder ran out of beams")


def test_a_job_reads_queued_then_running_then_succeeded(make_client, tmp_path):
    gated = GatedTranscriber(WORDS)
    client = make_client(make_settings(tmp_path, job_concurrency=1), transcriber=gated)
    first = upload(client).json()
    second = upload(client, force=True).json()  # the same tone, queued again
    assert gated.entered.wait(30), "the first job never reached ASR"

    running = client.get(f"/v1/jobs/{first['job_id']}", params={"events": "true"}).json()
    queued = client.get(f"/v1/jobs/{second['job_id']}").json()

    assert running["status"] == "running"
    assert (running["attempts"], running["error"], running["finished_at"]) == (1, None, None)
    assert running["started_at"] is not None
    assert [e["stage"] for e in running["events"][:2]] == ["queued", "start"]
    assert [e["seq"] for e in running["events"]] == list(range(len(running["events"])))
    assert queued["status"] == "queued"
    assert (queued["attempts"], queued["started_at"], queued["events"]) == (0, None, None)

    # What is in progress now, newest first; over REST and GraphQL alike.
    def listed(**params: object) -> list[str]:
        reply = client.get("/v1/jobs", params=params)
        assert reply.status_code == 200, reply.text
        return [job["id"] for job in reply.json()["items"]]

    assert listed(status=["queued", "running"]) == [second["job_id"], first["job_id"]]
    assert listed(status="running") == [first["job_id"]]
    assert listed(status="succeeded") == []
    assert listed(limit=1) == [second["job_id"]]
    query = "{ jobs(status: [RUNNING]) { id status stage } }"
    jobs = client.post("/graphql", json={"query": query}).json()["data"]["jobs"]
    assert [(j["id"], j["status"]) for j in jobs] == [(first["job_id"], "RUNNING")]
    assert client.get("/v1/jobs", params={"status": "lost"}).status_code == 422
    assert client.get("/v1/jobs", params={"limit": 0}).status_code == 422

    gated.gate.set()
    assert follow_job(client, first["job_id"])[-1].status == "succeeded"
    assert follow_job(client, second["job_id"])[-1].status == "succeeded"
    done = client.get(f"/v1/jobs/{first['job_id']}", params={"events": "true"}).json()
    assert (done["status"], done["progress"], done["error"]) == ("succeeded", 1.0, None)
    assert done["finished_at"] is not None
    assert done["events"][-1]["stage"] == "done"
    assert done["events"][-1]["status"] == "succeeded"
    assert "asr" in {e["stage"] for e in done["events"]}
    assert set(listed(status="succeeded")) == {first["job_id"], second["job_id"]}
    assert listed(status=["queued", "running"]) == []


def test_a_failed_job_says_why_and_leaves_no_call_and_no_audio(make_client):
    client = make_client(transcriber=ExplodingTranscriber(WORDS))
    accepted = upload(client).json()

    events = follow_job(client, accepted["job_id"])

    assert events[-1].status == "failed"
    job = client.get(f"/v1/jobs/{accepted['job_id']}").json()
    assert job["status"] == "failed"
    assert "asr" in job["error"]
    assert "the decoder ran out of beams" in job["error"]
    assert job["finished_at"] is not None
    assert client.get(f"/v1/calls/{accepted['call_id']}").status_code == 404
    assert client.get("/v1/calls").json()["total"] == 0
    assert stored_files(client) == []
