"""What every resolver can reach: the process's :class:`~api.runtime.Runtime`, and who asks.

Over HTTP the caller is authenticated from the request's headers (``Authorization: Bearer``
or ``X-API-Key``). Over a WebSocket, where browsers cannot set headers, from the
``connection_init`` payload (``{"Authorization": "Bearer …"}`` or ``{"apiKey": "…"}``):
:meth:`~api.graphql.CallyticsGraphQLRouter.on_ws_connect` refuses the connection without it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeAlias

import strawberry
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState
from strawberry.fastapi import BaseContext

from api.runtime import Runtime
from core.access.auth import KEY_CACHE_TTL_S, AccessRole, Principal
from core.errors import CallyticsError, UnauthorizedError

log = logging.getLogger(__name__)

# How often an open WebSocket's credentials are checked again: the verified-key cache's
# lifetime, so a revoked key or an expired token loses its socket as soon as REST refuses it.
WS_RECHECK_S = KEY_CACHE_TTL_S
WS_REJECTED = 4403


class GraphQLContext(BaseContext):
    """Strawberry's FastAPI context (request or WebSocket) plus the runtime and the caller.

    One per HTTP request, or one per WebSocket connection (its subscriptions are counted
    here, against :data:`api.graphql.limits.MAX_SUBSCRIPTIONS`)."""

    def __init__(
        self,
        runtime: Runtime,
        principal: Principal | None,
        auth_error: CallyticsError | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.principal = principal
        self.auth_error = auth_error
        self.subscriptions = 0
        # A WebSocket's credentials (authorization, api key), checked again at every
        # operation and every WS_RECHECK_S while it is open; None over HTTP.
        self.credentials: tuple[str | None, str | None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def authenticated_socket(self, authorization: str | None, api_key: str | None) -> None:
        """This WebSocket's caller authenticated with these credentials: keep checking them."""
        self.credentials = (authorization, api_key)
        if self._watchdog is None and self.runtime.auth.enabled:
            self._watchdog = asyncio.create_task(self._watch(), name="ws-credentials")

    def current_principal(self) -> Principal | None:
        """The caller; over a WebSocket, checked again (a revoked key, an expired token)."""
        if self.credentials is not None and self.principal is not None:
            try:
                self.principal = self.runtime.auth.authenticate(*self.credentials)
            except UnauthorizedError as exc:
                self.principal, self.auth_error = None, exc
                self._reject(exc)
        return self.principal

    def _open_socket(self) -> WebSocket | None:
        socket = self.request
        connected = isinstance(socket, WebSocket) and (
            socket.client_state == socket.application_state == WebSocketState.CONNECTED
        )
        return socket if connected else None  # type: ignore[return-value]

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WS_RECHECK_S)
            if self._open_socket() is None or self.current_principal() is None:
                return

    def _reject(self, error: CallyticsError) -> None:
        if (socket := self._open_socket()) is not None:
            log.info("closing a GraphQL WebSocket: %s", error.message)
            self._closing = asyncio.get_running_loop().create_task(
                socket.close(code=WS_REJECTED, reason=error.message[:120])
            )


async def get_context(connection: HTTPConnection) -> GraphQLContext:
    """FastAPI dependency: one context per HTTP request or WebSocket connection."""
    runtime: Runtime = connection.app.state.runtime
    headers = connection.headers
    if isinstance(connection, WebSocket) and not (
        headers.get("authorization") or headers.get("x-api-key")
    ):
        # No credentials on the upgrade request: wait for the connection_init payload
        # (with authentication off, this is already the local admin).
        principal = runtime.auth.authenticate(None) if not runtime.auth.enabled else None
        return GraphQLContext(runtime, principal)
    try:
        principal = runtime.auth.authenticate(
            headers.get("authorization"), headers.get("x-api-key")
        )
    except UnauthorizedError as exc:
        return GraphQLContext(runtime, None, exc)
    context = GraphQLContext(runtime, principal)
    if isinstance(connection, WebSocket):
        context.authenticated_socket(headers.get("authorization"), headers.get("x-api-key"))
    return context


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


def runtime_of(info: Info) -> Runtime:
    return info.context.runtime


def principal_of(info: Info, needed: AccessRole = AccessRole.VIEWER) -> Principal:
    """The caller, if their role allows ``needed``; UnauthorizedError or ForbiddenError if not."""
    context = info.context
    principal = context.current_principal()
    if principal is None:
        raise context.auth_error or UnauthorizedError(
            "This server requires authentication.",
            "Send `Authorization: Bearer <API key or JWT>` (over a WebSocket: in the "
            "connection_init payload).",
        )
    return principal.require(needed)
