"""``/v1/live``: a call streamed in over a WebSocket while it runs, its analysis streamed back.

The protocol (docs/live.md):

1. The client sends a start message (JSON text)::

       {"type": "start", "encoding": "pcm16", "sample_rate": 8000, "channels": 2,
        "agent_channel": 0, "language": "en", "agent": "ana", "api_key": "cly_…"}

   ``live_id`` instead resumes a call whose connection dropped. Credentials come from the
   upgrade's ``Authorization`` / ``X-API-Key`` headers or, for browsers, ``api_key`` /
   ``token`` in this message; streaming needs the analyst role.
2. The server answers ``{"type": "started", "live_id": …, "resumed": …, "received_s": …}``.
3. The client sends audio as binary frames (interleaved when two channels); the server sends
   the call's events as JSON text (``partial``, ``final``, ``metrics``, ``alert``).
4. ``{"type": "stop"}`` hangs up: the server answers ``ended`` with the post-call job's and
   call's ids and closes (1000). A connection that goes away without it leaves the call
   ``dropped``: resumable for LIVE_RESUME_S, then analysed with what was received.

An error is one ``{"type": "error", "code", "message", "hint"}`` message, then a close with
code 4000 + the HTTP status the REST API would answer (4401, 4403, 4404, 4409, 4422, 4429).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import status_for
from api.runtime import Runtime
from api.submission import validate_agent
from core.access.auth import AccessRole
from core.categories.rules import describe_errors
from core.errors import CallyticsError, InvalidInputError
from core.live.audio import LiveFormat
from core.live.events import LiveEvent
from core.live.manager import LiveConflictError, LiveStart
from core.live.session import LiveOptions, LiveSession

log = logging.getLogger(__name__)

router = APIRouter()

START_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 1 << 20  # a frame is a fraction of a second; 1 MB is minutes at 8 kHz


class StartMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["start"]
    live_id: str | None = Field(default=None, max_length=36)
    encoding: Literal["pcm16", "mulaw"] = "pcm16"
    sample_rate: Literal[8000, 16000] = 16000
    channels: Literal[1, 2] = 1
    agent_channel: Literal[0, 1] = 0
    language: str | None = Field(default=None, min_length=2, max_length=8)
    agent: str | None = None
    redact_pii: bool | None = None
    metadata: dict[str, Any] | None = None
    api_key: str | None = None
    token: str | None = None


class LiveProtocolError(InvalidInputError):
    code = "live_protocol"


def _close_code(exc: CallyticsError) -> int:
    if isinstance(exc, LiveConflictError):
        return 4409
    status = status_for(exc)
    return 4000 + status if 400 <= status < 500 else 1011


async def _refuse(socket: WebSocket, exc: CallyticsError) -> None:
    with contextlib.suppress(Exception):
        await socket.send_json(
            {"type": "error", "code": exc.code, "message": exc.message, "hint": exc.hint}
        )
        await socket.close(_close_code(exc), exc.message[:120])


async def _start_message(socket: WebSocket) -> StartMessage:
    try:
        raw = await asyncio.wait_for(socket.receive(), START_TIMEOUT_S)
    except TimeoutError:
        raise LiveProtocolError(
            f"No start message within {START_TIMEOUT_S:g} s.",
            'Send {"type": "start", ...} as the first message.',
        ) from None
    if raw.get("type") == "websocket.disconnect":
        raise WebSocketDisconnect(raw.get("code", 1000))
    text = raw.get("text")
    if text is None:
        raise LiveProtocolError(
            "Audio came before the start message.",
            'Send {"type": "start", "encoding": ..., "sample_rate": ..., "channels": ...} first.',
        )
    try:
        return StartMessage.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise LiveProtocolError(
            f"The start message is not JSON: {exc}.",
            'Send {"type": "start", ...} as a JSON text message.',
        ) from exc
    except ValidationError as exc:
        raise LiveProtocolError(
            f"Bad start message: {describe_errors(exc)}.", "See docs/live.md for its fields."
        ) from exc


def _start(runtime: Runtime, message: StartMessage) -> LiveStart:
    redact = message.redact_pii
    return LiveStart(
        format=LiveFormat(message.encoding, message.sample_rate, message.channels),
        options=LiveOptions(
            language=message.language,
            agent_channel=message.agent_channel,
            redact_pii=runtime.settings.redact_pii if redact is None else redact,
            agent=validate_agent(message.agent),
            metadata=message.metadata or {},
        ),
        live_id=message.live_id,
    )


async def _forward(socket: WebSocket, queue: asyncio.Queue[LiveEvent]) -> None:
    """The session's events to the client, until ``ended``."""
    while True:
        event = await queue.get()
        await socket.send_json(
            {**event.data, "type": event.type.value, "seq": event.seq, "at": event.at.isoformat()}
        )
        if event.terminal:
            return


@router.websocket("/v1/live")
async def live(socket: WebSocket) -> None:
    await socket.accept()
    runtime: Runtime = socket.app.state.runtime
    try:
        message = await _start_message(socket)
        authorization = socket.headers.get("authorization")
        if message.token:
            authorization = f"Bearer {message.token}"
        api_key = message.api_key or socket.headers.get("x-api-key")
        principal = runtime.auth.authenticate(authorization, api_key)
        principal.require(AccessRole.ANALYST)
        start = _start(runtime, message)
        session, resumed = await runtime.live.open(start, principal.actor)
    except WebSocketDisconnect:
        return
    except CallyticsError as exc:
        await _refuse(socket, exc)
        return
    queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
    session.listeners.add(queue)
    forward = asyncio.create_task(_forward(socket, queue))
    hung_up = False
    error: CallyticsError | None = None
    try:
        await socket.send_json(
            {
                "type": "started",
                "live_id": session.live_id,
                "resumed": resumed,
                "received_s": round(session.received_s, 3),
            }
        )
        hung_up = await _receive(runtime, socket, session)
    except CallyticsError as exc:
        error = exc
    finally:
        if not hung_up:  # an error, or the client went away: the call waits for a resume
            session.listeners.discard(queue)
            forward.cancel()
            await runtime.live.drop(session)
    if error is not None:
        await _refuse(socket, error)
    if not hung_up:
        return
    await runtime.live.hang_up(session)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(forward, 10.0)
        await socket.close(1000)
    session.listeners.discard(queue)


class LiveSupersededError(LiveConflictError):
    code = "superseded"


async def _receive(runtime: Runtime, socket: WebSocket, session: LiveSession) -> bool:
    """Frames until ``stop`` (True) or the client leaves (False); a reconnect with this
    call's id (the client's new connection) takes the call over from this one."""
    superseded = asyncio.create_task(session.superseded.wait())
    try:
        while True:
            receive = asyncio.create_task(socket.receive())
            done, _ = await asyncio.wait({receive, superseded}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                raise LiveSupersededError(
                    "Another connection resumed this live call.",
                    "Only the newest connection of a live call streams its audio.",
                )
            raw = receive.result()
            if raw.get("type") == "websocket.disconnect":
                return False
            data = raw.get("bytes")
            if data is not None:
                if len(data) > MAX_FRAME_BYTES:
                    raise LiveProtocolError(
                        f"A frame of {len(data)} bytes is over the limit of {MAX_FRAME_BYTES}.",
                        "Send audio in frames of 20 ms to 1 s.",
                    )
                await runtime.live.feed(session, data)
                continue
            try:
                kind = json.loads(raw.get("text") or "null").get("type")
            except (json.JSONDecodeError, AttributeError):
                kind = None
            if kind == "stop":
                return True
            raise LiveProtocolError(
                'Expected audio frames (binary) or {"type": "stop"}.',
                "A live call takes binary audio frames, then a stop message to hang up.",
            )
    finally:
        superseded.cancel()
