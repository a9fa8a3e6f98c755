"""Authentication of GraphQL WebSockets (the connection_init payload) and the cap on
subscriptions per connection, on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from api.app import create_app
from api.graphql.limits import MAX_SUBSCRIPTIONS
from core.access.auth import AccessRole, TokenCodec, hash_key
from tests.api.test_graphql_ws import (
    TIMEOUT,
    WORDS,
    events_until_complete,
    receive,
    submit,
    subscribe,
)
from tests.support.app import GatedTranscriber, LiveServer, fake_container, make_settings

SECRET = "ws-test-secret-0123456789abcdef0123456789"
STATIC_KEY = "cly_0000beef_a-static-key-for-the-websocket-tests"


@pytest.fixture
def gated():
    transcriber = GatedTranscriber(WORDS)
    yield transcriber
    transcriber.gate.set()


@pytest.fixture
def server(tmp_path, gated):
    settings = make_settings(
        tmp_path, jwt_secret=SECRET, api_keys=f"dashboard:viewer:{hash_key(STATIC_KEY)}"
    )
    app = create_app(container=fake_container(settings, transcriber=gated))
    with LiveServer(app) as live:
        yield live


def token(role: AccessRole) -> str:
    return TokenCodec(SECRET).issue("tester", role, ttl_s=300)


async def open_ws(
    server: LiveServer, payload: dict[str, Any] | None, protocol: str = "graphql-transport-ws"
) -> Any:
    """Connect and send connection_init (without a payload when ``payload`` is None)."""
    ws = await websockets.connect(server.ws_url + "/graphql", subprotocols=[protocol])
    init = (
        {"type": "connection_init"}
        if payload is None
        else {"type": "connection_init", "payload": payload}
    )
    await ws.send(json.dumps(init))
    return ws


@pytest.mark.parametrize("payload", [{}, None, {"Authorization": "Bearer cly_1234_nope"}])
async def test_a_websocket_without_valid_credentials_is_closed_4403(server, payload):
    ws = await open_ws(server, payload)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_the_legacy_protocol_gets_a_connection_error_that_says_why(server):
    ws = await open_ws(server, {}, protocol="graphql-ws")
    message = await receive(ws)
    assert message["type"] == "connection_error"
    assert message["payload"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": f"Bearer {token(AccessRole.VIEWER)}"},
        {"authorization": f"Bearer {token(AccessRole.VIEWER)}"},
        {"apiKey": STATIC_KEY},
    ],
)
async def test_credentials_in_connection_init_authenticate_the_connection(server, payload):
    ws = await open_ws(server, payload)
    try:
        assert (await receive(ws))["type"] == "connection_ack"
        await subscribe(ws, "no-such-job")
        message = await receive(ws)
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "not_found"
    finally:
        await ws.close()


async def test_an_upgrade_request_with_a_bearer_header_needs_no_payload(server):
    headers = {"Authorization": f"Bearer {token(AccessRole.VIEWER)}"}
    async with websockets.connect(
        server.ws_url + "/graphql",
        subprotocols=["graphql-transport-ws"],
        additional_headers=headers,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert (await receive(ws))["type"] == "connection_ack"


async def test_one_connection_may_hold_only_so_many_subscriptions(server, gated):
    job_id = await submit(server, {"Authorization": f"Bearer {token(AccessRole.ANALYST)}"})
    assert await asyncio.to_thread(gated.entered.wait, TIMEOUT)  # held in ASR
    ws = await open_ws(server, {"Authorization": f"Bearer {token(AccessRole.VIEWER)}"})
    try:
        assert (await receive(ws))["type"] == "connection_ack"
        ops = [str(i) for i in range(MAX_SUBSCRIPTIONS)]
        for op in ops:
            await subscribe(ws, job_id, op)
        # Each of them is live: every one has received its first replayed event.
        first: dict[str, int] = {}
        while len(first) < len(ops):
            message = await receive(ws)
            assert message["type"] == "next", message
            first.setdefault(message["id"], 0)
        await subscribe(ws, job_id, "one-too-many")
        while (message := await receive(ws))["id"] != "one-too-many":
            pass
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "rate_limited"

        gated.gate.set()
        await ws.send(json.dumps({"id": "0", "type": "complete"}))  # one ends early: a slot frees
        done: set[str] = set()
        while len(done) < len(ops) - 1:
            message = await receive(ws)
            if message["type"] == "complete":
                done.add(message["id"])
        await subscribe(ws, job_id, "after")
        events = await events_until_complete(ws, "after")
        assert events[-1]["status"] == "SUCCEEDED"
    finally:
        await ws.close()


STAGES = "{ stages { name } }"


async def operation(ws: Any, op: str, query: str) -> dict[str, Any]:
    """A query over the socket; its first answer (next or error) for ``op``."""
    await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": {"query": query}}))
    while (message := await receive(ws)).get("id") != op:
        pass
    return message


async def closed_code(ws: Any) -> int | None:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await receive(ws)
    return closed.value.rcvd.code if closed.value.rcvd else None


@pytest.fixture
def keyed(tmp_path, gated):
    """A server whose admin key lives in the database (revocable), its container and key."""
    settings = make_settings(tmp_path, jwt_secret=SECRET)
    container = fake_container(settings, transcriber=gated)
    container.database().upgrade()
    issued = container.api_keys().create("dashboard", AccessRole.ADMIN)
    with LiveServer(create_app(container=container)) as live:
        yield live, container, issued


async def test_a_key_revoked_while_its_socket_is_open_is_refused_and_the_socket_closed(keyed):
    """The probe: after revoking an admin key, deleteCall on its open socket still ran 40 s
    later, audited as that key. Now the next operation is refused and the socket closes 4403."""
    live, container, issued = keyed
    ws = await open_ws(live, {"apiKey": issued.key})
    try:
        assert (await receive(ws))["type"] == "connection_ack"
        assert (await operation(ws, "before", STAGES))["type"] == "next"
        await asyncio.to_thread(container.api_keys().revoke, issued.info.id, "test")
        container.authenticator().refresh()  # what DELETE /v1/keys/{id} does here
        refused = await operation(ws, "after", 'mutation { deleteCall(id: "x") }')
        errors = refused["payload"]["errors"] if refused["type"] == "next" else refused["payload"]
        assert refused["type"] != "next" or refused["payload"]["data"] is None, refused
        assert [e["extensions"]["code"] for e in errors] == ["unauthorized"]
        assert await closed_code(ws) == 4403
    finally:
        await ws.close()


async def test_a_token_that_expires_while_its_socket_is_open_closes_it(server, monkeypatch):
    """The probe: a 3 s JWT still answered on its socket after 40 s. Now the socket's own
    check closes it once the token has expired (every WS_RECHECK_S, 5 s in production)."""
    monkeypatch.setattr("api.graphql.context.WS_RECHECK_S", 0.2)
    monkeypatch.setattr("core.access.auth.JWT_LEEWAY_S", 0)  # 30 s of clock skew allowed otherwise
    short = TokenCodec(SECRET).issue("brief", AccessRole.VIEWER, ttl_s=3)
    ws = await open_ws(server, {"Authorization": f"Bearer {short}"})
    try:
        assert (await receive(ws))["type"] == "connection_ack"
        assert (await operation(ws, "while-valid", STAGES))["type"] == "next"
        assert await closed_code(ws) == 4403
    finally:
        await ws.close()
