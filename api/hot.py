"""The hot read: ``GET /v1/calls/{id}`` answered from this process's memory tier, in front
of the framework.

A cached call document is bytes ready to send, yet going through FastAPI (routing, the
dependency graph, the exception layers, three more middlewares) cost most of a read's CPU:
measured under 50 connections, about 600 µs of which the document lookup was 1
(docs/performance.md). :class:`HotReads` answers that one request shape itself, when, and
only when, everything it needs is at hand without I/O:

- the caller's credentials are ones the authenticator has already verified (it caches them
  per key, see :class:`core.access.auth.Authenticator`) and allow reading;
- the document is in the memory tier (:meth:`core.calls.catalog.CallCatalog.cached_document_json`).

Anything else (no credentials, a refused role, a miss, another path or method) goes on to
the app unchanged, which answers it with its one set of rules and errors. The answer is the
route's own: the same body, ``content-type``, ``content-length`` and the headers of
:class:`api.limits.ApiHeaders`; ``HttpMetrics`` outside it counts it under the route's template.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from core.access.auth import AccessRole
from core.errors import CallyticsError

CALL_PATH = re.compile(r"/v1/calls/([^/]+)")


class HotReads:
    def __init__(self, app: ASGIApp, route: Any = None) -> None:
        """``route``: the ``get_call`` route, set in the scope for the metrics' label."""
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = CALL_PATH.fullmatch(scope["path"])
            if match is not None and (body := self._cached(scope, match[1])) is not None:
                if self.route is not None:
                    scope["route"] = self.route
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-length", str(len(body)).encode()),
                            (b"content-type", b"application/json"),
                            (b"x-content-type-options", b"nosniff"),
                            (b"cache-control", b"no-store"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _cached(scope: Scope, call_id: str) -> bytes | None:
        runtime = getattr(scope["app"].state, "runtime", None)
        if runtime is None:
            return None
        authorization = api_key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":
                api_key = value.decode("latin-1")
        try:
            principal = runtime.auth.cached(authorization, api_key)
        except CallyticsError:
            return None  # the app says what is wrong with the credentials
        if principal is None or not principal.can(AccessRole.VIEWER):
            return None
        body: bytes | None = runtime.catalog.cached_document_json(call_id)
        return body
