"""The hot reads: ``GET /v1/calls/{id}`` from this process's memory tier, and a list page
the app answered for the very same URL and still keeps, answered in front of the framework.

A cached call document is bytes ready to send, yet going through FastAPI (routing, the
dependency graph, the exception layers, three more middlewares) cost most of a read's CPU:
measured under 50 connections, about 600 µs of which the document lookup was 1
(docs/performance.md). :class:`HotReads` answers that one request shape itself, when, and
only when, everything it needs is at hand without I/O:

- the caller's credentials are ones the authenticator has already verified (it caches them
  per key, see :class:`core.access.auth.Authenticator`) and allow reading;
- the document is in the memory tier (:meth:`core.calls.catalog.CallCatalog.cached_document_json`),
  or the app rendered this exact path and query string before (:class:`KeptAnswers`) from a
  result it still keeps (a list page, for READ_REFRESH_S): the query string the route parsed
  and checked then means the same now.

Anything else (no credentials, a refused role, a miss, another path or method) goes on to
the app unchanged, which answers it with its one set of rules and errors. The answer is the
route's own: the same body, ``content-type``, ``content-length`` and the headers of
:class:`api.limits.ApiHeaders`; ``HttpMetrics`` outside it counts it under the route's template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from starlette.types import ASGIApp, Receive, Scope, Send

from core.access.auth import AccessRole
from core.errors import CallyticsError

CALL_PATH = re.compile(r"/v1/calls/([^/]+)")


class KeptAnswers:
    """JSON the app rendered for an exact GET (path, query string), each with the test of
    whether the result it was rendered from is still the one the app keeps."""

    def __init__(self, maxsize: int = 256) -> None:
        self._answers: LRUCache[tuple[str, bytes], tuple[Callable[[], bool], bytes, str]] = (
            LRUCache(maxsize)
        )

    def remember(self, scope: Scope, current: Callable[[], bool], body: bytes, route: str) -> None:
        """``route``: the name of the route that rendered it (the metrics' label)."""
        self._answers[(scope["path"], scope.get("query_string", b""))] = (current, body, route)

    def lookup(self, scope: Scope) -> tuple[bytes, str] | None:
        kept = self._answers.get((scope["path"], scope.get("query_string", b"")))
        if kept is None or not kept[0]():
            return None
        return kept[1], kept[2]


class HotReads:
    def __init__(self, app: ASGIApp, routes: dict[str, Any] | None = None) -> None:
        """``routes``: the routes it answers for by name, set in the scope for the metrics'
        label (``get_call``, and those that remember answers in ``runtime.answers``)."""
        self.app = app
        self.routes = routes or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = self._answer(scope)
            if found is not None:
                body, route = found
                if (matched := self.routes.get(route)) is not None:
                    scope["route"] = matched
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
    def _answer(scope: Scope) -> tuple[bytes, str] | None:
        """The body to send and the route it stands for, or None: the app answers."""
        runtime = getattr(scope["app"].state, "runtime", None)
        if runtime is None:
            return None
        match = CALL_PATH.fullmatch(scope["path"])
        kept = None if match is not None else runtime.answers.lookup(scope)
        if match is None and kept is None:
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
        if kept is not None or match is None:
            return kept
        body: bytes | None = runtime.catalog.cached_document_json(match[1])
        return None if body is None else (body, "get_call")
