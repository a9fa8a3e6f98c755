"""GraphQL at /graphql: GraphiQL in a browser, queries and mutations over HTTP (uploads as
GraphQL multipart requests), and ``jobProgress`` over WebSocket (graphql-transport-ws, and
the older graphql-ws)."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException  # what strawberry's views raise for a bad request
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from api.graphql.context import get_context
from api.graphql.errors import bad_request
from api.graphql.schema import build_schema


class CallyticsGraphQLRouter(GraphQLRouter[Any, None]):
    """Answers a request that is not GraphQL at all (not JSON, no query, a missing file)
    with ``{"errors": [...]}`` and its 4xx status, like every other GraphQL error."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            return bad_request(exc.reason, exc.status_code)


def graphql_router() -> GraphQLRouter[Any, None]:
    return CallyticsGraphQLRouter(
        build_schema(),
        context_getter=get_context,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
    )


__all__ = ["graphql_router"]
