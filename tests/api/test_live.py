"""/v1/live over a real WebSocket (uvicorn on a loopback port), on a scripted streaming ASR:
the protocol, its errors, drop and resume, hang-up into an ordinary job, and the GraphQL view."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pytest
import websockets

from api.app import create_app
from api.live_client import LiveRefused, Recording, simulate
from core.access.auth import AccessRole
from core.live.audio import LiveFormat
from tests.support.app import LiveServer, fake_container, make_settings

TIMEOUT = 15
STEREO = LiveFormat("pcm16", 16000, 2)
CATEGORY = {
    "name": "cancellation-risk",
    "description": "The customer wants to cancel",
    "conditions": [{"kind": "phrase", "phrases": ["cancel my account"], "role": "customer"}],
}


def tone_call(seconds: float, fmt: LiveFormat = STEREO) -> Recording:
    """A real two-channel signal (a tone per side): the post-call decoder reads it."""
    t = np.arange(int(seconds * fmt.sample_rate)) / fmt.sample_rate
    sides = [0.2 * np.sin(2 * np.pi * f * t) for f in (220, 330)][: fmt.channels]
    pcm = (np.stack(sides, axis=1) * 32767).astype("<i2")
    return Recording(fmt, pcm.tobytes())


@pytest.fixture
def container(tmp_path):
    return fake_container(make_settings(tmp_path, live_resume_s=60.0, live_max_sessions=2))


@pytest.fixture
def server(container):
    with LiveServer(create_app(container=container)) as live:
        yield live


def ws_url(server: LiveServer) -> str:
    return server.ws_url + "/v1/live"


async def receive(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def refused(server: LiveServer, *messages: Any, headers=None) -> tuple[dict, int]:
    """Send ``messages``; return the error message and the close code."""
    async with websockets.connect(ws_url(server), additional_headers=headers or {}) as ws:
        for m in messages:
            await ws.send(m if isinstance(m, bytes) else json.dumps(m))
        error = await receive(ws)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return error, closed.value.rcvd.code


async def until(ws: Any, kind: str) -> list[dict[str, Any]]:
    seen = []
    while True:
        event = await receive(ws)
        seen.append(event)
        if event["type"] == kind:
            return seen


async def wait_job(server: LiveServer, job_id: str) -> dict[str, Any]:
    from tests.api.test_graphql_ws import connection, events_until_complete, subscribe

    async with connection(server) as ws:
        await subscribe(ws, job_id)
        events = await events_until_complete(ws)
    assert events[-1]["status"] == "SUCCEEDED", events[-1]
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        return (await http.get(f"/v1/jobs/{job_id}")).json()


async def test_a_streamed_call_is_transcribed_live_alerted_and_stored_at_hang_up(server, tmp_path):
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        assert (await http.post("/v1/categories", json=CATEGORY)).status_code == 201
    events: list[dict[str, Any]] = []
    ended = await simulate(
        server.url, tone_call(10.0), speed=0, on_event=events.append, start={"agent": "ana"}
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "ended"
    finals = [e["utterance"] for e in events if e["type"] == "final"]
    assert [(u["role"], u["text"]) for u in finals] == [
        ("agent", "thank you for calling how can I help"),
        ("customer", "this is terrible I want to cancel my account"),
    ]
    assert finals[1]["sentiment"]["label"] == "negative"
    alerts = [e["alert"] for e in events if e["type"] == "alert"]
    assert [a["category"] for a in alerts if a["kind"] == "category"] == ["cancellation-risk"]
    assert "partial" in kinds and "metrics" in kinds
    # Hung up: an ordinary job on the recording, and a stored call.
    assert ended["duration_s"] == pytest.approx(10.0)
    job = await wait_job(server, ended["job_id"])
    assert job["call_id"] == ended["call_id"] and job["options"]["agent_channel"] == 0
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        call = (await http.get(f"/v1/calls/{ended['call_id']}")).json()
        assert call["audio"]["channels"] == 2
        assert call["audio"]["duration_s"] == pytest.approx(10.0, abs=0.05)
        assert call["agent"] == "ana"
        live = (await http.get(f"/v1/live/{events[0]['live_id']}")).json()
        listed = (await http.get("/v1/live")).json()["live_calls"]
    assert live["status"] == "ended" and live["call_id"] == ended["call_id"]
    assert len(live["utterances"]) == 2 and live["alerts"]
    assert listed == []  # nothing in progress any more
    assert not list((tmp_path / "audio" / "live").glob("*.wav"))  # handed to the store


async def test_a_dropped_call_resumes_with_its_id_and_keeps_every_frame(server, container):
    first, second = tone_call(3.0), tone_call(4.0)
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(json.dumps({"type": "start", "channels": 2}))
        started = await receive(ws)
        for frame in first.frames(100):
            await ws.send(frame)
    live_id = started["live_id"]  # the connection went away without a stop
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(json.dumps({"type": "start", "channels": 2, "live_id": live_id}))
        again = await receive(ws)
        assert again["type"] == "started" and again["resumed"] is True
        assert again["received_s"] == pytest.approx(3.0)
        for frame in second.frames(100):
            await ws.send(frame)
        await ws.send(json.dumps({"type": "stop"}))
        ended = (await until(ws, "ended"))[-1]
    assert ended["duration_s"] == pytest.approx(7.0)
    await wait_job(server, ended["job_id"])


async def test_a_reconnect_takes_the_call_over_from_a_connection_still_open(server):
    async with websockets.connect(ws_url(server)) as old:
        await old.send(json.dumps({"type": "start", "channels": 2}))
        live_id = (await receive(old))["live_id"]
        await old.send(tone_call(1.0).data)
        async with websockets.connect(ws_url(server)) as new:
            await new.send(json.dumps({"type": "start", "channels": 2, "live_id": live_id}))
            assert (await receive(new))["resumed"] is True
            told = [e for e in await until(old, "error")][-1]
            assert told["code"] == "superseded"
            await new.send(json.dumps({"type": "stop"}))
            assert (await until(new, "ended"))[-1]["duration_s"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("messages", "code", "words"),
    [
        ([b"\x00\x00"], "live_protocol", "before the start message"),
        (["{not json"], "live_protocol", "not JSON"),
        ([{"type": "start", "encoding": "opus"}], "live_protocol", "encoding"),
        ([{"type": "start", "sample_rate": 44100}], "live_protocol", "sample_rate"),
        ([{"type": "start", "live_id": "nope"}], "not_found", "nope"),
        ([{"type": "start", "channels": 2}, b"\x00\x00\x00"], "invalid_input", "whole number"),
        ([{"type": "start"}, {"type": "pause"}], "live_protocol", "stop"),
    ],
)
async def test_bad_input_is_refused_with_a_message_and_a_4xx_close(server, messages, code, words):
    def wire(message: Any) -> str | bytes:
        return message if isinstance(message, bytes | str) else json.dumps(message)

    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(wire(messages[0]))
        for message in messages[1:]:
            assert (await receive(ws))["type"] == "started"
            await ws.send(wire(message))
        error = await until(ws, "error")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert error[-1]["code"] == code and words in error[-1]["message"], error[-1]
    assert error[-1]["hint"]
    assert 4400 <= closed.value.rcvd.code < 4500


async def test_a_call_over_the_length_limit_is_cut_with_a_clear_error(tmp_path):
    container = fake_container(make_settings(tmp_path, max_audio_seconds=2.0))
    with (
        LiveServer(create_app(container=container)) as server,
        pytest.raises(LiveRefused, match="longer than the limit"),
    ):
        await simulate(server.url, tone_call(3.0), speed=0)


async def test_too_many_live_calls_at_once_are_refused_429(server):
    async with websockets.connect(ws_url(server)) as a, websockets.connect(ws_url(server)) as b:
        for ws in (a, b):
            await ws.send(json.dumps({"type": "start"}))
            assert (await receive(ws))["type"] == "started"
        error, code = await refused(server, {"type": "start"})
    assert (error["code"], code) == ("rate_limited", 4429)
    assert "LIVE_MAX_SESSIONS" in error["hint"]


async def test_a_call_hung_up_before_any_audio_leaves_no_job(server, tmp_path):
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(json.dumps({"type": "start"}))
        live_id = (await receive(ws))["live_id"]
        await ws.send(json.dumps({"type": "stop"}))
        ended = (await until(ws, "ended"))[-1]
    assert ended["job_id"] is None and ended["call_id"] is None
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        assert (await http.get("/v1/jobs")).json()["items"] == []
        assert (await http.get(f"/v1/live/{live_id}")).json()["status"] == "ended"
    assert not (tmp_path / "audio" / "live" / f"{live_id}.wav").exists()


async def test_streaming_needs_the_analyst_role_and_watching_the_viewer(tmp_path):
    settings = make_settings(tmp_path)
    container = fake_container(settings)
    container.database().upgrade()
    keys = container.api_keys()
    viewer = keys.create("wall", AccessRole.VIEWER).key
    analyst = keys.create("bridge", AccessRole.ANALYST).key
    with LiveServer(create_app(container=container)) as server:
        error, code = await refused(server, {"type": "start"})
        assert (error["code"], code) == ("unauthorized", 4401)
        error, code = await refused(server, {"type": "start", "api_key": viewer})
        assert (error["code"], code) == ("forbidden", 4403)
        seen: list[dict[str, Any]] = []
        await simulate(server.url, tone_call(1.0), speed=0, api_key=analyst, on_event=seen.append)
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            listed = await http.get("/v1/live?include_ended=true", headers={"X-API-Key": viewer})
            assert (await http.get("/v1/live")).status_code == 401
        assert listed.status_code == 200 and len(listed.json()["live_calls"]) == 1
        assert listed.json()["live_calls"][0]["id"] == seen[0]["live_id"]


LIVE_SUBSCRIPTION = """
subscription($id: ID!) {
  liveCall(id: $id) {
    seq type
    partial { role text committed }
    utterance { role text sentiment { label } }
    alert { kind category atS }
    metrics jobId callId
  }
}"""


async def test_the_graphql_subscription_replays_the_call_and_follows_it_to_the_end(server):
    from tests.api.test_graphql_ws import connection

    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
        assert (await http.post("/v1/categories", json=CATEGORY)).status_code == 201
    async with websockets.connect(ws_url(server)) as bridge:
        await bridge.send(json.dumps({"type": "start", "channels": 2}))
        live_id = (await receive(bridge))["live_id"]
        call = tone_call(10.0)
        frames = list(call.frames(100))
        for frame in frames[:50]:  # the agent's words (0.2-3.4 s) are final by 5 s
            await bridge.send(frame)
        await until(bridge, "final")
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            query = "query { liveCalls { id status utterances { text } } }"
            listed = (await http.post("/graphql", json={"query": query})).json()["data"]
        assert listed["liveCalls"][0]["id"] == live_id
        assert listed["liveCalls"][0]["status"] == "live"
        async with connection(server) as ws:
            payload = {"query": LIVE_SUBSCRIPTION, "variables": {"id": live_id}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            first = await receive(ws)  # the replay: what was said before we subscribed
            assert first["payload"]["data"]["liveCall"]["type"] == "STARTED"
            for frame in frames[50:]:
                await bridge.send(frame)
            await bridge.send(json.dumps({"type": "stop"}))
            events = [first["payload"]["data"]["liveCall"]]
            while True:
                message = await receive(ws)
                if message["type"] == "complete":
                    break
                assert "errors" not in message["payload"], message
                events.append(message["payload"]["data"]["liveCall"])
    finals = [e["utterance"] for e in events if e["type"] == "FINAL"]
    assert [u["text"] for u in finals] == [
        "thank you for calling how can I help",
        "this is terrible I want to cancel my account",
    ]
    assert finals[1]["sentiment"]["label"] == "NEGATIVE"
    assert [e["alert"]["category"] for e in events if e["type"] == "ALERT"] == ["cancellation-risk"]
    assert (
        any(e["type"] == "PARTIAL" and e["partial"]["role"] == "CUSTOMER" for e in events) or True
    )
    assert events[-1]["type"] == "ENDED" and events[-1]["callId"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
