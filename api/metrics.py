"""The HTTP side of the Prometheus metrics: each request counted and timed by its route
template (:class:`HttpMetrics`), and ``GET /metrics``; the registry and the job, stage and
cache metrics are bootstrap/prometheus.py."""

from __future__ import annotations

import contextlib
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bootstrap.prometheus import Metrics


def route_template(scope: Scope) -> str:
    """The matched route's template with its routers' prefixes, e.g. ``/v1/calls/{call_id}``.

    Routers included with a prefix match the rest of the path, so the prefix is the part of
    the path in front of what the route's own pattern matches (prefixes here are literal).
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if template is None:
        return "unmatched"
    pattern, path = getattr(route, "path_regex", None), str(scope.get("path", ""))
    if pattern is None:
        return str(template)
    for i, char in enumerate(path):
        if (i == 0 or char == "/") and pattern.match(path[i:]):
            return path[:i] + template
    return path + template if pattern.match("") else str(template)


class HttpMetrics:
    """ASGI middleware: count and time each HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            label = route_template(scope)
            method = scope.get("method", "")
            self.metrics.http_requests.labels(method, label, str(status)).inc()
            self.metrics.http_duration.labels(method, label).observe(time.perf_counter() - started)


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    runtime = getattr(request.app.state, "runtime", None)
    collected: Metrics = request.app.state.container.metrics()
    if runtime is not None:
        with contextlib.suppress(Exception):  # the queue's backend down: keep the last values
            collected.set_queue(await runtime.queue.stats())
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)
