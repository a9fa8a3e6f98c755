"""What every resolver can reach: the process's :class:`~api.runtime.Runtime`, and who asks.

Over HTTP the caller is authenticated from the request's headers (``Authorization: Bearer``
or ``X-API-Key``). Over a WebSocket, where browsers cannot set headers, from the
``connection_init`` payload (``{"Authorization": "Bearer …"}`` or ``{"apiKey": "…"}``):
:meth:`~api.graphql.CallyticsGraphQLRouter.on_ws_connect` refuses the connection without it.
"""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from api.runtime import Runtime
from core.auth import AccessRole, Principal
from core.errors import CallyticsError, UnauthorizedError


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
    return GraphQLContext(runtime, principal)


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


def runtime_of(info: Info) -> Runtime:
    return info.context.runtime


def principal_of(info: Info, needed: AccessRole = AccessRole.VIEWER) -> Principal:
    """The caller, if their role allows ``needed``; UnauthorizedError or ForbiddenError if not."""
    context = info.context
    if context.principal is None:
        raise context.auth_error or UnauthorizedError(
            "This server requires authentication.",
            "Send `Authorization: Bearer <API key or JWT>` (over a WebSocket: in the "
            "connection_init payload).",
        )
    return context.principal.require(needed)
