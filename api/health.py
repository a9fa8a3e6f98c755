"""Health: liveness, readiness, and the aggregate view an operator reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.runtime import Runtime

router = APIRouter(tags=["health"])


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@router.get("/health/live", summary="The process is up")
async def live() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/health/ready", summary="Ready for traffic: database, Redis, every stage loaded")
async def ready(request: Request) -> JSONResponse:
    report = await runtime_of(request).health()
    is_ready = report["status"] in {"ok", "degraded"} and all(
        s["status"] == "up" for s in report["stages"].values()
    )
    body = {"status": "ready" if is_ready else "not_ready", **report}
    return JSONResponse(body, status_code=200 if is_ready else 503)


@router.get("/health", summary="Aggregate health: ok, degraded (optional part down) or down")
async def health(request: Request) -> JSONResponse:
    report = await runtime_of(request).health()
    return JSONResponse(
        report, status_code=503 if report["status"] in {"down", "starting"} else 200
    )
