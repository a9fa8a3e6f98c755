"""Domain errors to HTTP: every failure a client can cause is a 4xx with a message and a hint.

The body is always ``{"error": {"code", "message", "hint"}}``. Nothing here ever answers 500
for bad input; an unexpected exception is logged and answered 500 with a request id only.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    AudioTooLongError,
    CallyticsError,
    DatabaseUnavailableError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
    ModelNotFoundError,
    NotFoundError,
    RateLimitedError,
    StageError,
    StorageFullError,
    UnauthorizedError,
    UnsupportedAudioError,
)

log = logging.getLogger(__name__)


class UploadTooLargeError(InvalidInputError):
    code = "upload_too_large"


# The first class that matches gives the status: subclasses before their bases.
STATUSES: tuple[tuple[type[CallyticsError], int], ...] = (
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (GoneError, 410),
    (RateLimitedError, 429),
    (StorageFullError, 507),
    (DatabaseUnavailableError, 503),
    (NotFoundError, 404),
    (UploadTooLargeError, 413),
    (AudioTooLongError, 422),  # an unsupported input, but the file itself is audio
    (UnsupportedAudioError, 415),
    (InvalidInputError, 422),
    (StageError, 503),
    (ModelNotFoundError, 503),
)


def status_for(exc: CallyticsError) -> int:
    for kind, status in STATUSES:
        if isinstance(exc, kind):
            return status
    return 500 if type(exc) is CallyticsError else 503


def headers_for(exc: CallyticsError) -> dict[str, str] | None:
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": 'Bearer realm="callytics"'}
    if isinstance(exc, RateLimitedError):
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    return None


def error_body(code: str, message: str, hint: str = "") -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message, "hint": hint}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CallyticsError)
    async def _domain(_request: Request, exc: CallyticsError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.hint), status_for(exc), headers=headers_for(exc)
        )

    @app.exception_handler(OSError)
    async def _disk(_request: Request, exc: OSError) -> JSONResponse:
        # A disk with no room while a body is spooled (the multipart parser's temporary file)
        from core.jobs.audio_store import AudioStore

        full = AudioStore.storage_full(exc)
        if full is None:
            raise exc
        return JSONResponse(error_body(full.code, full.message, full.hint), status_for(full))

    @app.exception_handler(RecursionError)
    async def _nested(_request: Request, _exc: RecursionError) -> JSONResponse:
        # JSON or a GraphQL document nested deeper than the parser's recursion can follow
        return JSONResponse(
            error_body(
                "bad_request",
                "The request body is nested too deeply to read.",
                "Send JSON and GraphQL documents nested a few dozen levels at most.",
            ),
            400,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body("invalid_request", "; ".join(problems), "See /docs for the parameters."),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "error_code", None) or {
            404: "not_found",
            405: "method_not_allowed",
            413: "upload_too_large",
        }.get(exc.status_code, "http_error")
        hint = getattr(exc, "hint", None) or (
            "Send a shorter or more compressed recording, or raise MAX_UPLOAD_MB."
            if exc.status_code == 413
            else ""
        )
        return JSONResponse(
            error_body(code, str(exc.detail), hint), exc.status_code, headers=exc.headers
        )
