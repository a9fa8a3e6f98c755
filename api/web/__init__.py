"""The web UI: static files served by the same process, no build step.

``/ui/`` is one page (``static/index.html``) whose ES modules talk to the same REST and
GraphQL API a program would use, with the user's API key when authentication is on. The
files hold no data, so they are served without credentials; everything they show comes
from ``/v1`` and ``/graphql`` under the usual roles. ``/`` redirects to the UI.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from core.stages import STAGES

STATIC = Path(__file__).parent / "static"

# The page runs only its own scripts and styles; audio and downloads come from blob: URLs the
# page makes from authenticated fetches; the subscription is a WebSocket to this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",  # CSP 3: 'self' covers ws(s):// to this origin
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui")
@router.get("/ui/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/ui/stages.js")
async def stages() -> Response:
    """The pipeline's stages for the page's progress rows, from the registry (core/stages.py)."""
    rows = json.dumps([[s.name, s.label] for s in STAGES])
    body = f"// The pipeline's stages, in order (core/stages.py).\nexport const STAGES = {rows};\n"
    return Response(body, media_type="text/javascript", headers=SECURITY_HEADERS)


class _StaticFiles(StaticFiles):
    """Static files with the same headers as the page (nosniff, no-cache: a new release's
    scripts are picked up on the next load, revalidated by ETag)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_web_ui(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/ui/static", _StaticFiles(directory=STATIC), name="ui-static")
