"""Request-size limits, enforced while the body streams in (before anything is spooled).

An upload (``multipart/form-data``) may be up to ``MAX_UPLOAD_MB``; any other body (JSON:
GraphQL operations, re-analysis options) up to :data:`MAX_OTHER_BODY` bytes, since it is
parsed in memory."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_OTHER_BODY = 1 << 20  # 1 MiB: far more than any GraphQL operation or options object
UPLOAD_HINT = "Send a shorter or more compressed recording, or raise MAX_UPLOAD_MB."
OTHER_HINT = "Only uploads (multipart/form-data) may be larger; send less."


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
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_bytes if multipart else MAX_OTHER_BODY
        describe = f"{self.max_mb} MB" if multipart else f"{MAX_OTHER_BODY >> 20} MB"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, describe, multipart)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(describe, multipart)
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
                await self._reject(send, describe, multipart)

    async def _reject(self, send: Send, limit: str, upload: bool) -> None:
        hint = UPLOAD_HINT if upload else OTHER_HINT
        body: dict[str, Any] = {
            "error": {
                "code": "upload_too_large" if upload else "request_too_large",
                "message": f"The {'upload' if upload else 'request body'} is larger than "
                f"the limit of {limit}.",
                "hint": hint,
            }
        }
        await send_json_error(send, 413, body)


async def send_json_error(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    """Answer with ``body`` as JSON straight from a middleware (no app behind it), and close
    the connection: the request's body is left unread."""
    payload = json.dumps(body).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions from body parsing as they are."""

    def __init__(self, limit: str, upload: bool) -> None:
        what = "upload" if upload else "request body"
        super().__init__(413, f"The {what} is larger than the limit of {limit}.")
        self.error_code = "upload_too_large" if upload else "request_too_large"
        self.hint = UPLOAD_HINT if upload else OTHER_HINT


class UploadGate:
    """Check an upload's credentials before a byte of its body is read.

    FastAPI parses a multipart form (and spools its file to disk) before it runs a route's
    dependencies, so an anonymous upload would reach the disk before the route's role check
    refused it. This answers 401 or 403 from the request's headers first, for every
    ``multipart/form-data`` request (REST uploads, GraphQL multipart mutations).
    """

    def __init__(self, app: ASGIApp, auth: Any) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        from api.errors import error_body, headers_for, status_for
        from core.access.auth import AccessRole
        from core.errors import CallyticsError

        try:
            self.auth.authenticate(
                _header(headers, b"authorization"), _header(headers, b"x-api-key")
            ).require(AccessRole.ANALYST)
        except CallyticsError as exc:
            body = error_body(exc.code, exc.message, exc.hint)
            await send_json_error(send, status_for(exc), body, headers_for(exc))
            return
        await self.app(scope, receive, send)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


class ApiHeaders:
    """``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store`` on every API
    answer (REST, GraphQL, health): no browser guesses a type for a document, and no cache
    keeps a call's content (a route that sets its own Cache-Control keeps it)."""

    PREFIXES = ("/v1", "/graphql", "/health", "/metrics")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
