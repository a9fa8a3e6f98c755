"""The FastAPI application: REST under /v1, GraphQL at /graphql, health, one runtime.

``create_app(settings)`` is the only way the app is built (uvicorn's ``--factory`` uses
:func:`app_from_env`). Its lifespan upgrades the schema, starts the job queue (which picks
up jobs interrupted by a previous stop) and loads the stage models in the background.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.health import router as health_router
from api.hot import HotReads
from api.limits import ApiHeaders, BodySizeLimit, UploadGate
from api.metrics import HttpMetrics
from api.metrics import router as metrics_router
from api.runtime import Runtime
from bootstrap.container import Container, build_container
from bootstrap.prometheus import mark_process_dead
from bootstrap.settings import Settings

API_DESCRIPTION = """Call analytics, offline: upload a customer-service call and get who spoke
when, what was said, how each side felt, how the conversation went and what it was about.
Uploads return at once with a job id; follow the job over `GET /v1/jobs/{id}` or the GraphQL
subscription `jobProgress` at `/graphql`."""


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    load_models: bool = True,
    run_jobs: bool = True,
    freeze_heap: bool = False,
) -> FastAPI:
    from bootstrap.tracing import instrument_app, instrument_database, setup_tracing

    container = container or build_container(settings or Settings())
    settings = container.settings()
    # Tracing (exporting only with OTEL_EXPORTER_OTLP_ENDPOINT): requests, SQL, jobs, stages.
    setup_tracing(settings, "callytics-api")
    instrument_database(container.database())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(container)
        app.state.runtime = runtime
        await runtime.start(load_models=load_models, run_jobs=run_jobs, freeze_heap=freeze_heap)
        try:
            yield
        finally:
            await runtime.stop()
            mark_process_dead()

    app = FastAPI(
        title="Callytics",
        version="0.3.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        **_without_native_telemetry(),
    )
    app.state.container = container
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    _include_interfaces(app)
    app.add_middleware(ApiHeaders)
    app.add_middleware(UploadGate, auth=container.authenticator())  # before any body is read
    app.add_middleware(BodySizeLimit, max_mb=settings.max_upload_mb)
    hot = {name: _route(app, name) for name in ("get_call", "list_calls")}
    app.add_middleware(HotReads, routes=hot)  # cached documents and kept pages, first
    app.add_middleware(HttpMetrics, metrics=container.metrics())
    instrument_app(app)
    return app


def _without_native_telemetry() -> dict[str, Any]:
    """FastAPI's own telemetry off: since 0.16x it makes a span and metrics for every request
    whenever a tracer provider is installed (setup_tracing installs one), beside the spans of
    ``instrument_app`` (only when exporting) and the Prometheus metrics (``HttpMetrics``)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


def _route(app: FastAPI, name: str) -> Any:
    """The route called ``name``, also inside included routers (FastAPI 0.16x keeps them
    nested), or None."""
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        if getattr(route, "name", None) == name:
            return route
        nested = getattr(route, "original_router", None) or getattr(route, "app", None)
        routes.extend(getattr(nested, "routes", None) or [])
    return None


def _include_interfaces(app: FastAPI) -> None:
    from api.graphql import graphql_router
    from api.live import router as live_router
    from api.rest import router as rest_router
    from api.web import install_web_ui

    app.include_router(rest_router, prefix="/v1")
    app.include_router(live_router)  # the /v1/live WebSocket (authenticated by its own rules)
    app.include_router(graphql_router(), prefix="/graphql")
    install_web_ui(app)


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory api.app:app_from_env``: settings from the environment; the
    heap frozen once the models are loaded (a serving process, see Runtime.load_stages)."""
    return create_app(freeze_heap=True)
