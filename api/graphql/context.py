"""What every resolver can reach: the process's :class:`~api.runtime.Runtime`."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from api.runtime import Runtime


class GraphQLContext(BaseContext):
    """Strawberry's FastAPI context (request or WebSocket) plus the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime


async def get_context(connection: HTTPConnection) -> GraphQLContext:
    """FastAPI dependency: one context per HTTP request or WebSocket connection."""
    runtime: Runtime = connection.app.state.runtime
    return GraphQLContext(runtime)


Info: TypeAlias = strawberry.Info[GraphQLContext, None]


def runtime_of(info: Info) -> Runtime:
    return info.context.runtime
