"""REST /v1 over a call's life: upload, document, exports, audio, search, re-analysis, delete."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from core.domain import SpeakerTurn
from core.persistence.models import CallRow, UtteranceRow
from tests.api.conftest import follow_job, runtime_of
from tests.support.app import wav_bytes
from tests.unit.fakes import FakeDiarizer, FakeTranscriber, words_of

AGENT_TEXT = "thank you for calling how can I help"
CUSTOMER_TEXT = "my bill is wrong and I want a refund"


def upload(
    client: Any, content: bytes | None = None, filename: str = "call.wav", **options: Any
) -> httpx.Response:
    data = {name: str(value) for name, value in options.items()}
    file = (filename, wav_bytes() if content is None else content, "audio/wav")
    return client.post("/v1/calls", files={"file": file}, data=data)


def analysed(client: Any, **kwargs: Any) -> dict[str, Any]:
    """Upload, wait until the job has succeeded, return the 202 body. The fake engines make
    each upload of the same tone a different call, so each is analysed (``force``), not
    answered as a duplicate of the first."""
    response = upload(client, **{"force": True, **kwargs})
    assert response.status_code == 202, response.text
    events = follow_job(client, response.json()["job_id"])
    assert events[-1].status == "succeeded", events[-1]
    return response.json()


def stored_files(client: Any) -> list[Path]:
    """Every file under the storage directory (the ``incoming/`` spool included)."""
    root = Path(runtime_of(client).settings.storage_dir)
    return sorted(p for p in root.rglob("*") if p.is_file())


def search_hits(client: Any, q: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()["hits"]


def test_an_upload_is_accepted_at_once_and_its_document_follows(client):
    response = upload(client, language="en")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"] == body["links"]["job"]
    assert body["links"]["job"].endswith(f"/v1/jobs/{body['job_id']}")
    assert body["links"]["call"].endswith(f"/v1/calls/{body['call_id']}")
    job = client.get(body["links"]["job"]).json()
    assert (job["id"], job["call_id"]) == (body["job_id"], body["call_id"])
    assert job["options"]["language"] == "en"

    assert follow_job(client, body["job_id"])[-1].status == "succeeded"
    document = client.get(body["links"]["call"]).json()
    assert document["id"] == body["call_id"]
    assert document["filename"] == "call.wav"
    assert document["status"] == "succeeded"
    assert document["audio"]["duration_s"] == 2.0
    assert [(u["speaker"], u["role"], u["text"]) for u in document["utterances"]] == [
        ("S1", "agent", AGENT_TEXT),
        ("S2", "customer", CUSTOMER_TEXT),
    ]
    assert [w["word"] for w in document["utterances"][1]["words"]] == CUSTOMER_TEXT.split()
    assert {s["id"]: s["role"] for s in document["speakers"]} == {"S1": "agent", "S2": "customer"}
    assert document["analysis"]["topics"] == ["billing"]
    assert document["stages"]["asr"]["engine"] == "fake-asr"
    assert client.get(body["links"]["job"]).json()["status"] == "succeeded"


def parse_cues(content: str, separator: str) -> list[tuple[float, float, str]]:
    stamp = rf"(\d\d):(\d\d):(\d\d){re.escape(separator)}(\d\d\d)"
    pattern = re.compile(rf"^{stamp} --> {stamp}\n(.+)$", re.MULTILINE)

    def seconds(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [
        (seconds(*g[0:4]), seconds(*g[4:8]), g[8])
        for g in (match.groups() for match in pattern.finditer(content))
    ]


def test_the_transcript_exports_in_every_format(client):
    call_id = analysed(client, filename="Support call.wav")["call_id"]
    utterances = client.get(f"/v1/calls/{call_id}").json()["utterances"]
    expected = [
        (u["start"], u["end"], f"{u['role']} ({u['speaker']}): {u['text']}") for u in utterances
    ]

    def export(fmt: str) -> httpx.Response:
        response = client.get(f"/v1/calls/{call_id}/transcript", params={"format": fmt})
        assert response.status_code == 200, response.text
        disposition = f'attachment; filename="Support_call.{fmt}"'
        assert response.headers["content-disposition"] == disposition
        return response

    as_json = export("json")
    assert as_json.headers["content-type"] == "application/json"
    exported = json.loads(as_json.text)["utterances"]
    assert [(u["text"], u["words"]) for u in exported] == [
        (u["text"], u["words"]) for u in utterances
    ]
    assert export("txt").text.splitlines() == [
        f"[00:00:00.20] agent (S1): {AGENT_TEXT}",
        f"[00:00:04.60] customer (S2): {CUSTOMER_TEXT}",
    ]
    srt = export("srt")
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.text.startswith("1\n00:00:00,200 --> ")
    assert parse_cues(srt.text, ",") == expected
    vtt = export("vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n")
    assert parse_cues(vtt.text, ".") == expected

    unknown = client.get(f"/v1/calls/{call_id}/transcript", params={"format": "docx"})
    assert unknown.status_code == 422


def test_the_audio_download_is_the_upload_under_a_safe_name(client):
    content = wav_bytes(1.5, rate=8000)
    call_id = analysed(client, content=content, filename="Anruf März (01);x.wav")["call_id"]

    response = client.get(f"/v1/calls/{call_id}/audio")

    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["content-disposition"] == 'attachment; filename="Anruf_Marz_01_x.wav"'
    assert client.get(f"/v1/calls/{call_id}").json()["filename"] == "Anruf März (01);x.wav"
    # Stored under a generated name, never the client's.
    assert [p.name for p in stored_files(client)] == [f"{call_id}.wav"]


def test_delete_removes_the_call_its_utterances_audio_jobs_and_search_hits(client):
    kept = analysed(client)["call_id"]
    gone = analysed(client)
    call_id = gone["call_id"]
    audio = runtime_of(client).catalog.audio(call_id)[0]
    assert call_id in {h["call_id"] for h in search_hits(client, CUSTOMER_TEXT, k=10)}

    assert client.delete(f"/v1/calls/{call_id}").status_code == 204

    missing = client.get(f"/v1/calls/{call_id}")
    assert missing.status_code == 410
    assert missing.json()["error"]["code"] == "gone"
    assert "deleted by local" in missing.json()["error"]["message"]
    assert client.get(f"/v1/calls/{call_id}/audio").status_code == 410
    assert client.post(f"/v1/calls/{call_id}/reanalyze").status_code == 410
    assert client.get(f"/v1/jobs/{gone['job_id']}").status_code == 404
    assert not audio.exists()
    with runtime_of(client).database.session() as session:
        count = select(func.count()).select_from(UtteranceRow)
        assert session.scalar(count.where(UtteranceRow.call_id == call_id)) == 0
    hits = search_hits(client, CUSTOMER_TEXT, k=10)
    assert {h["call_id"] for h in hits} == {kept}
    listed = client.get("/v1/calls").json()
    assert [c["id"] for c in listed["items"]] == [kept]
    assert listed["total"] == 1
    assert client.delete(f"/v1/calls/{call_id}").status_code == 410
    assert client.delete("/v1/calls/no-such-call").status_code == 404
    # The tombstone keeps who did what and when, and nothing of the content.
    audit = client.get(f"/v1/calls/{call_id}/audit").json()
    assert audit["status"] == "deleted"
    assert audit["created_by"] == audit["deleted_by"] == "local"
    assert audit["deleted_at"] >= audit["created_at"]
    with runtime_of(client).database.session() as session:
        row = session.get(CallRow, call_id)
        assert (row.filename, row.document, row.embedding, row.audio_path) == ("", {}, None, None)


def test_reanalysis_keeps_the_call_id_and_created_at_and_replaces_the_document(make_client):
    transcriber = FakeTranscriber(words_of(AGENT_TEXT, 0.2) + words_of(CUSTOMER_TEXT, 4.6))
    client = make_client(transcriber=transcriber)
    first = analysed(client)
    call_id = first["call_id"]
    before = client.get(f"/v1/calls/{call_id}").json()
    transcriber.words = words_of("hello support speaking", 0.2) + words_of(
        "my router keeps dropping the connection", 4.6
    )

    response = client.post(f"/v1/calls/{call_id}/reanalyze", json={"language": "de"})

    assert response.status_code == 202
    second = response.json()
    assert second["call_id"] == call_id
    assert second["job_id"] != first["job_id"]
    assert response.headers["location"].endswith(f"/v1/jobs/{second['job_id']}")
    events = follow_job(client, second["job_id"])
    assert events[-1].status == "succeeded"
    after = client.get(f"/v1/calls/{call_id}").json()
    assert after["id"] == call_id
    assert after["created_at"] == before["created_at"]
    assert [u["text"] for u in after["utterances"]] == [
        "hello support speaking",
        "my router keeps dropping the connection",
    ]
    job = client.get(f"/v1/jobs/{second['job_id']}").json()
    assert (job["kind"], job["options"]["language"]) == ("reanalyze", "de")
    assert client.get(f"/v1/jobs/{first['job_id']}").json()["kind"] == "analyze"
    assert client.get("/v1/calls").json()["total"] == 1
    texts = {h["text"] for h in search_hits(client, "router", k=10, call_id=call_id)}
    assert texts == {"hello support speaking", "my router keeps dropping the connection"}


def test_search_finds_utterances_with_their_call_role_and_score(client):
    call_id = analysed(client)["call_id"]

    response = client.get("/v1/search", params={"q": CUSTOMER_TEXT, "k": 10})

    assert response.status_code == 200
    body = response.json()
    assert (body["query"], body["backend"]) == (CUSTOMER_TEXT, "numpy")
    exact = [h for h in body["hits"] if h["text"] == CUSTOMER_TEXT]
    assert len(exact) == 1
    assert exact[0]["call_id"] == call_id
    assert (exact[0]["utterance_index"], exact[0]["speaker"], exact[0]["role"]) == (
        1,
        "S2",
        "customer",
    )
    assert (exact[0]["start"], exact[0]["filename"]) == (4.6, "call.wav")
    assert abs(exact[0]["score"] - 1.0) < 1e-5
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert len(search_hits(client, CUSTOMER_TEXT, k=1)) == 1
    customers = search_hits(client, CUSTOMER_TEXT, role="customer")
    assert [h["text"] for h in customers] == [CUSTOMER_TEXT]
    assert all(h["role"] == "agent" for h in search_hits(client, CUSTOMER_TEXT, role="agent"))
    assert search_hits(client, CUSTOMER_TEXT, call_id="no-such-call") == []


def test_cache_stats_count_the_memory_hits_of_repeated_reads(client):
    call_id = analysed(client)["call_id"]
    assert client.get(f"/v1/calls/{call_id}").status_code == 200  # loaded into memory
    before = client.get("/v1/cache/stats").json()

    for _ in range(2):
        assert client.get(f"/v1/calls/{call_id}").status_code == 200

    after = client.get("/v1/cache/stats").json()
    assert after["memory"]["hits"] == before["memory"]["hits"] + 2
    assert after["database"] == before["database"]
    assert after["redis_configured"] is False


def test_a_stereo_upload_passes_the_agent_channel_through(make_client):
    agent_first = [words_of(AGENT_TEXT, 0.2), words_of(CUSTOMER_TEXT, 4.6)]
    turns = [SpeakerTurn("S1", 0, 4), SpeakerTurn("S2", 4.5, 9)]
    diarizer = FakeDiarizer(turns, method="channel", channel_of={"S1": 0, "S2": 1})
    client = make_client(diarizer=diarizer, transcriber=FakeTranscriber(agent_first))

    body = analysed(client, content=wav_bytes(10, rate=8000, channels=2), agent_channel=1)

    assert client.get(f"/v1/jobs/{body['job_id']}").json()["options"]["agent_channel"] == 1
    document = client.get(f"/v1/calls/{body['call_id']}").json()
    assert document["audio"]["channels"] == 2
    # Channel 1 holds the agent, although S1 (channel 0) talks like one.
    assert {s["id"]: (s["channel"], s["role"]) for s in document["speakers"]} == {
        "S1": (0, "customer"),
        "S2": (1, "agent"),
    }


def test_links_never_come_from_the_host_header(make_client, tmp_path):
    from tests.support.app import make_settings

    client = make_client()
    file = {"file": ("call.wav", wav_bytes(), "audio/wav")}
    evil = client.post("/v1/calls", files=file, headers={"Host": "evil.example"})
    assert evil.status_code == 202, evil.text
    assert evil.headers["location"] == f"/v1/jobs/{evil.json()['job_id']}"
    assert "evil" not in evil.text
    public = make_client(make_settings(tmp_path / "p", public_url="https://calls.example.com/"))
    body = public.post("/v1/calls", files=file, headers={"Host": "evil.example"}).json()
    assert body["links"]["call"] == f"https://calls.example.com/v1/calls/{body['call_id']}"


def test_api_answers_are_nosniff_and_never_cached(client):
    for path in ["/v1/calls", "/v1/calls/nope", "/health/live"]:
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["cache-control"] == "no-store", path
    graphql = client.post("/graphql", json={"query": "{ __typename }"})
    assert graphql.headers["cache-control"] == "no-store"
    assert "no-store" not in client.get("/ui/").headers.get("cache-control", "")
