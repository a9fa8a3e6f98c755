"""Errors in GraphQL responses: every error carries ``extensions: {code, hint}``.

- A domain error (:class:`core.errors.CallyticsError`) keeps its message; its code and hint
  go to ``extensions``, exactly as REST puts them in ``{"error": {...}}``.
- A malformed operation (syntax, unknown field, wrong variable type) is ``invalid_query``.
- Anything else raised by a resolver is a bug: it is logged with its traceback and the
  client reads ``internal_error`` without the details.

HTTP-level problems (a body that is not JSON, a multipart request without its file) are
answered 400 with the same ``{"errors": [...]}`` shape rather than plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from starlette.responses import JSONResponse

from api.errors import status_for
from core.errors import CallyticsError

log = logging.getLogger(__name__)

INVALID_QUERY = "invalid_query"
INTERNAL_ERROR = "internal_error"
BAD_REQUEST = "bad_request"
BAD_REQUEST_HINT = (
    "POST JSON {query, variables}, or a GraphQL multipart request to upload a file; "
    "subscribe over a WebSocket (graphql-transport-ws) at /graphql."
)


def describe(error: GraphQLError) -> None:
    """Give ``error`` its code and hint, and hide the details of unexpected exceptions."""
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    if isinstance(original, CallyticsError):
        error.message = original.message
        extensions.update(code=original.code, hint=original.hint)
        if status_for(original) >= 500:
            log.warning("graphql %s: %s", error.path, original)
    elif original is None or isinstance(original, GraphQLError) or error.path is None:
        # Parsing, validation and variable coercion: the client's request is at fault.
        extensions.setdefault("code", INVALID_QUERY)
        extensions.setdefault("hint", "Check the operation against the schema (GraphiQL).")
    else:
        log.error("graphql %s failed", error.path, exc_info=original)
        error.message = "Internal error."
        extensions.update(code=INTERNAL_ERROR, hint="The server logged the details.")
    error.extensions = extensions


def bad_request(reason: str, status_code: int) -> JSONResponse:
    extensions = {"code": BAD_REQUEST, "hint": BAD_REQUEST_HINT}
    body = {"errors": [{"message": reason, "extensions": extensions}]}
    return JSONResponse(body, status_code=status_code)


def unauthorized(message: str | None, hint: str | None) -> JSONResponse:
    extensions = {
        "code": "unauthorized",
        "hint": hint or "Send `Authorization: Bearer <API key or JWT>` (or `X-API-Key`).",
    }
    body = {
        "errors": [
            {"message": message or "This server requires authentication.", "extensions": extensions}
        ]
    }
    return JSONResponse(
        body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="callytics"'}
    )
