"""GraphQL at /graphql: GraphiQL in a browser, queries and mutations over HTTP (uploads as
GraphQL multipart requests), and ``jobProgress`` over WebSocket (graphql-transport-ws, and
the older graphql-ws)."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException  # what strawberry's views raise for a bad request
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from api.graphql.context import GraphQLContext, get_context
from api.graphql.errors import bad_request, unauthorized
from api.graphql.schema import build_schema
from core.errors import CallyticsError


class CallyticsGraphQLRouter(GraphQLRouter[Any, None]):
    """Answers a request that is not GraphQL at all (not JSON, no query, a missing file)
    with ``{"errors": [...]}`` and its 4xx status, like every other GraphQL error; and a
    request without valid credentials with 401 (GraphiQL itself loads without any)."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if (
            isinstance(context, GraphQLContext)
            and context.principal is None
            and not self.is_websocket_request(request)
            and not (request.method == "GET" and "query" not in request.query_params)
        ):
            error = context.auth_error
            return unauthorized(error.message if error else None, error.hint if error else None)
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            return bad_request(exc.reason, exc.status_code)

    async def on_ws_connect(self, context: Any) -> Any:
        """Authenticate a WebSocket from its ``connection_init`` payload, unless its upgrade
        request already carried credentials; refuse the connection (4403) otherwise."""
        if not isinstance(context, GraphQLContext) or context.principal is not None:
            return UNSET
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        lowered = {str(k).lower(): v for k, v in params.items()}
        authorization = lowered.get("authorization")
        api_key = lowered.get("apikey") or lowered.get("api_key") or lowered.get("x-api-key")
        credentials = (
            authorization if isinstance(authorization, str) else None,
            api_key if isinstance(api_key, str) else None,
        )
        try:
            context.principal = context.runtime.auth.authenticate(*credentials)
        except CallyticsError as exc:
            raise ConnectionRejectionError(
                {"message": exc.message, "code": exc.code, "hint": exc.hint}
            ) from None
        context.authenticated_socket(*credentials)
        return UNSET


def graphql_router() -> GraphQLRouter[Any, None]:
    return CallyticsGraphQLRouter(
        build_schema(),
        context_getter=get_context,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
    )


__all__ = ["graphql_router"]
