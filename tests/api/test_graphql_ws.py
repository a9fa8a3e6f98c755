"""The jobProgress subscription over a real WebSocket (uvicorn on a loopback port)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets

from api.app import create_app
from core.stages import PROGRESS_ORDER as PIPELINE_STAGES
from tests.support.app import GatedTranscriber, LiveServer, fake_container, make_settings, wav_bytes
from tests.unit.fakes import words_of

TIMEOUT = 15  # seconds for any one message; a bug fails fast instead of hanging
PIPELINE = ["queued", "start", *PIPELINE_STAGES, "done"]
WORDS = words_of("thank you for calling how can I help", 0.2) + words_of(
    "my bill is wrong and I want a refund", 4.6
)
PROGRESS = """
subscription Progress($jobId: ID!) {
  jobProgress(jobId: $jobId) { jobId seq stage progress message status at terminal }
}"""
ANALYZE = "mutation($file: Upload!) { analyzeCall(file: $file) { callId jobId status } }"


@pytest.fixture
def gated():
    transcriber = GatedTranscriber(WORDS)
    yield transcriber
    transcriber.gate.set()  # never leave a job blocked behind a failed test


@pytest.fixture
def app(tmp_path, gated) -> Any:
    return create_app(container=fake_container(make_settings(tmp_path), transcriber=gated))


@pytest.fixture
def server(app) -> Any:
    with LiveServer(app) as live:
        yield live


async def submit(server: LiveServer, headers: dict[str, str] | None = None) -> str:
    operations = {"query": ANALYZE, "variables": {"file": None}}
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.post(
            "/graphql",
            headers=headers,
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("call.wav", wav_bytes(10), "audio/wav")},
        )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]["analyzeCall"]["jobId"]


async def job_status(server: LiveServer, job_id: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": "query($id: ID!) { job(id: $id) { status } }",
                "variables": {"id": job_id},
            },
        )
    return response.json()["data"]["job"]["status"]


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


@asynccontextmanager
async def connection(
    server: LiveServer, protocol: str = "graphql-transport-ws"
) -> AsyncIterator[Any]:
    async with websockets.connect(server.ws_url + "/graphql", subprotocols=[protocol]) as ws:
        assert ws.subprotocol == protocol
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        yield ws


async def subscribe(ws: Any, job_id: str, op: str = "1") -> None:
    payload = {"query": PROGRESS, "variables": {"jobId": job_id}}
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))


async def events_until_complete(ws: Any, op: str = "1") -> list[dict[str, Any]]:
    events = []
    while True:
        message = await receive(ws)
        assert message.get("id") == op, message
        if message["type"] == "complete":
            return events
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        events.append(message["payload"]["data"]["jobProgress"])


def stored_events(app: Any, job_id: str) -> list[dict[str, Any]]:
    return [
        {"seq": e.seq, "stage": e.stage, "status": e.status.upper(), "message": e.message}
        for e in app.state.runtime.service.stored_events(job_id)
    ]


def check_history(events: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """All the job's events, once each, in order, ending with its success."""
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert [{k: e[k] for k in ("seq", "stage", "status", "message")} for e in events] == stored
    stages = [
        s for i, s in enumerate(e["stage"] for e in events) if i == 0 or s != events[i - 1]["stage"]
    ]
    assert len(stages) == len(set(stages)), stages  # each stage's events together
    assert stages == sorted(stages, key=PIPELINE.index)
    assert {"queued", "start", "decode", "diarization", "asr", "done"} <= set(stages)
    assert events[-1]["status"] == "SUCCEEDED" and events[-1]["terminal"] is True
    assert not any(e["terminal"] for e in events[:-1])


async def test_subscriber_mid_job_gets_every_event_in_order(app, server, gated):
    job_id = await submit(server)
    assert await asyncio.to_thread(gated.entered.wait, TIMEOUT)  # the job is held in ASR
    async with connection(server) as ws:
        await subscribe(ws, job_id)
        first = await receive(ws)  # the subscription is live: replayed history has begun
        assert first["type"] == "next", first
        assert await job_status(server, job_id) == "RUNNING"
        gated.gate.set()
        events = [first["payload"]["data"]["jobProgress"], *await events_until_complete(ws)]
    check_history(events, stored_events(app, job_id))
    assert any(e["stage"] == "asr" for e in events)


async def test_subscriber_after_the_job_ended_gets_the_history_then_complete(app, server, gated):
    gated.gate.set()
    job_id = await submit(server)
    async with connection(server) as ws:  # wait for the end through a first subscription
        await subscribe(ws, job_id)
        await events_until_complete(ws)
    assert await job_status(server, job_id) == "SUCCEEDED"

    async with connection(server) as ws:
        await subscribe(ws, job_id, op="late")
        events = await events_until_complete(ws, op="late")
    check_history(events, stored_events(app, job_id))


async def test_legacy_graphql_ws_protocol(app, server, gated):
    gated.gate.set()
    job_id = await submit(server)
    async with connection(server, "graphql-ws") as ws:
        payload = {"query": PROGRESS, "variables": {"jobId": job_id}}
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
        events = []
        while (message := await receive(ws))["type"] != "complete":
            if message["type"] == "ka":
                continue
            assert message["type"] == "data", message
            events.append(message["payload"]["data"]["jobProgress"])
    check_history(events, stored_events(app, job_id))


async def test_unknown_job_is_an_error_message(server):
    async with connection(server) as ws:
        await subscribe(ws, "no-such-job", op="x")
        message = await receive(ws)
        assert message["type"] == "error" and message["id"] == "x", message
        assert [e["extensions"]["code"] for e in message["payload"]] == ["not_found"]
        # The connection stays usable.
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive(ws))["type"] == "pong"
