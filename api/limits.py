"""Request-size limit, enforced while the body streams in (before anything is spooled)."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Answer 413 for a request body over ``max_bytes``.

    A declared Content-Length over the limit is refused before a byte is read; a chunked body
    is counted as it arrives and cut off the moment it passes the limit, so the multipart
    parser never spools more than the limit to disk.
    """

    def __init__(self, app: ASGIApp, max_mb: int, slack_bytes: int = 1 << 16) -> None:
        """``max_mb``: the upload limit; ``slack_bytes``: room for the multipart framing."""
        self.app = app
        self.max_mb = max_mb
        self.max_bytes = max_mb * (1 << 20) + slack_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_mb)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body: dict[str, Any] = {
            "error": {
                "code": "upload_too_large",
                "message": f"The upload is larger than the limit of {self.max_mb} MB.",
                "hint": "Send a shorter or more compressed recording, or raise MAX_UPLOAD_MB.",
            }
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions from body parsing as they are."""

    def __init__(self, max_mb: int) -> None:
        super().__init__(413, f"The upload is larger than the limit of {max_mb} MB.")
