"""A live call as a user runs one: `callytics stage asr`, `callytics serve` with
USE_ASR_MS=true, `callytics live simulate` of a synthetic dual-channel call, a supervisor's
GraphQL subscription, and the stored call after hang-up compared with an upload of the same
file. Real processes, real models (tiny.en); the live transcript comes over the ASR stage's
gRPC stream (the in-process engine gives the same words: tests/contract)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from samples import load_script, render_call
from tests.support.processes import (
    ROOT,
    LineReader,
    ServeProcess,
    StageProcess,
    callytics_command,
    embedded_env,
    free_port,
    subscribe_job,
)

pytestmark = pytest.mark.slow

CATEGORY = {
    "name": "cancellation-risk",
    "description": "The customer wants to cancel",
    "conditions": [{"kind": "phrase", "phrases": ["cancel"], "role": "customer"}],
}
SUBSCRIPTION = """subscription($id: ID!) {
  liveCall(id: $id) {
    seq type
    utterance { role text start sentiment { label score } }
    alert { kind category atS }
    jobId callId
  }
}"""
TIMEOUT = 300


async def follow_live(ws_url: str, live_id: str) -> list[dict[str, Any]]:
    events = []
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"id": live_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            if message["type"] == "complete":
                return events
            assert message["type"] == "next" and not message["payload"].get("errors"), message
            events.append(message["payload"]["data"]["liveCall"])


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What a call's analysis says, without what names this copy (ids, file, times)."""
    return {
        "audio": {k: document["audio"][k] for k in ("duration_s", "channels", "sample_rate")},
        "speakers": document["speakers"],
        "utterances": [
            {k: u[k] for k in ("speaker", "role", "start", "end", "text", "sentiment")}
            for u in document["utterances"]
        ],
        "metrics": document["metrics"],
        "analysis": {k: document["analysis"][k] for k in ("summary", "topics", "reason")},
    }


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("live") / "cancellation.wav"
    render_call(load_script("cancellation"), path, layout="stereo")  # 16 kHz PCM16, 2 channels
    return path


def test_a_simulated_call_is_live_on_graphql_and_stored_as_its_upload_would_be(tmp_path, call):
    env = embedded_env(tmp_path)
    asr = StageProcess("asr", free_port(), env, tmp_path / "asr.log")
    env = {**env, "USE_ASR_MS": "true", "ASR_GRPC_TARGET": asr.address}
    server = ServeProcess(env, tmp_path / "serve.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post("/v1/categories", json=CATEGORY).status_code == 201
        # The README's command, as typed (JSON lines so the test can read the live id).
        simulator = subprocess.Popen(
            [
                *callytics_command(),
                "live",
                "simulate",
                str(call),
                "--server",
                server.url,
                "--speed",
                "4",
                "--json",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines = LineReader(simulator.stdout)
        started = json.loads(lines.lines.get(timeout=120))
        assert started["type"] == "started", started
        watched = asyncio.run(follow_live(server.ws_url, started["live_id"]))
        assert simulator.wait(timeout=TIMEOUT) == 0, simulator.stderr.read()
        printed = [json.loads(line) for line in lines.output]
        ended = printed[-1]
        assert ended["type"] == "ended" and ended["call_id"], printed[-3:]

        # Live, on the supervisor's subscription: transcript, sentiment, the planted alert.
        finals = [e["utterance"] for e in watched if e["type"] == "FINAL"]
        roles = {u["role"] for u in finals}
        assert roles == {"AGENT", "CUSTOMER"}
        said = " ".join(u["text"] for u in finals).lower()
        assert "cancel" in said and "membership" in said
        assert all(u["sentiment"] for u in finals)
        alerts = [
            e["alert"] for e in watched if e["type"] == "ALERT" and e["alert"]["kind"] == "category"
        ]
        assert [a["category"] for a in alerts] == ["cancellation-risk"]
        assert watched[-1]["type"] == "ENDED" and watched[-1]["callId"] == ended["call_id"]
        # The simulator printed the same finals the subscription showed.
        assert [e["utterance"]["text"] for e in printed if e["type"] == "final"] == [
            u["text"] for u in finals
        ]

        # After hang-up: the post-call analysis of the recording, as an upload of the file.
        job = asyncio.run(subscribe_job(server.ws_url, ended["job_id"]))
        assert job[-1]["status"] == "SUCCEEDED", server.log()
        with httpx.Client(base_url=server.url, timeout=60) as http:
            with call.open("rb") as f:
                upload = http.post(  # its own analysis even if the bytes match the live one's
                    "/v1/calls", files={"file": ("cancellation.wav", f)}, data={"force": "true"}
                ).json()
            job = asyncio.run(subscribe_job(server.ws_url, upload["job_id"]))
            assert job[-1]["status"] == "SUCCEEDED", server.log()
            live_doc = http.get(f"/v1/calls/{ended['call_id']}").json()
            upload_doc = http.get(f"/v1/calls/{upload['call_id']}").json()
            listed = http.get("/v1/calls").json()
        assert comparable(live_doc) == comparable(upload_doc)
        assert live_doc["filename"].startswith("live-")
        assert len(listed["items"]) == 2
    finally:
        server.close()
        asr.stop()
    assert "Traceback" not in server.log(), server.log()
    assert asr.proc.returncode in (0, -15), asr.log()
