"""Serve one stage's in-process engine over gRPC: `callytics stage <name>`.

The server answers ``grpc.health.v1`` from the moment it listens: NOT_SERVING while the
engine loads its model, SERVING once loaded, NOT_SERVING again while it shuts down. On
SIGTERM or SIGINT it stops taking calls and gives those in flight ``grace_s`` to finish.
Each stage's servicer (``services/<stage>/server.py``) turns ``core`` errors into status
codes with :func:`abort_with`, so the client can raise the same error again.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import Counter, Histogram

from core.access.auth import AccessRole, Authenticator, TokenCodec, parse_static_keys
from core.errors import (
    CallyticsError,
    ForbiddenError,
    InvalidInputError,
    ModelNotFoundError,
    UnauthorizedError,
)
from core.stages import SERVED
from shared.stubs.channel import CHANNEL_OPTIONS, ERROR_CODE_KEY, ERROR_HINT_KEY

log = logging.getLogger(__name__)


STAGE_REQUESTS = Counter(
    "callytics_stage_requests",
    "Calls a stage service answered, by method and status code.",
    ["stage", "method", "code"],
)
STAGE_REQUEST_DURATION = Histogram(
    "callytics_stage_request_duration_seconds",
    "Time a stage service spent on each call.",
    ["stage", "method"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)


async def abort_with(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    """End the call with the status code and metadata that say what went wrong."""
    if isinstance(exc, InvalidInputError):
        status = grpc.StatusCode.INVALID_ARGUMENT
    elif isinstance(exc, ModelNotFoundError):
        status = grpc.StatusCode.FAILED_PRECONDITION
    else:
        status = grpc.StatusCode.INTERNAL
        log.exception("stage call failed")
    if isinstance(exc, CallyticsError):
        message, code, hint = exc.message, exc.code, exc.hint
    else:
        message, code, hint = f"{type(exc).__name__}: {exc}", "stage_failed", ""
    context.set_trailing_metadata(((ERROR_CODE_KEY, code), (ERROR_HINT_KEY, hint)))
    await context.abort(status, message)
    raise AssertionError("abort returns only by raising")  # pragma: no cover


class ProgressRelay:
    """Carries an engine's progress callbacks (from its worker thread) into a stream."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()

    def __call__(self, fraction: float, message: str) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (fraction, message))

    async def run(self, work: Callable[[], Any]) -> AsyncIterator[tuple[float, str] | Any]:
        """Yield ``(fraction, message)`` tuples while ``work()`` runs, then its result.

        The result is yielded wrapped as ``Done(value)`` so a caller can tell it apart.
        """
        task = asyncio.ensure_future(work())
        task.add_done_callback(lambda _: self._queue.put_nowait(None))
        try:
            while (item := await self._queue.get()) is not None:
                yield item
            # progress that was posted just before the end is still queued: drain it
            while not self._queue.empty():
                if (item := self._queue.get_nowait()) is not None:
                    yield item
            yield Done(task.result())
        finally:
            if not task.done():
                task.cancel()


class Done:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every call the server answers (health checks included)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = str(handler_call_details.method).rsplit("/", 1)[-1]
        for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
            behavior = getattr(handler, kind)
            if behavior is not None:
                wrap = self._generator if inspect.isasyncgenfunction(behavior) else self._coroutine
                return handler._replace(**{kind: wrap(behavior, method)})
        return handler

    def _observe(self, method: str, context: Any) -> _ObservedContext:
        started = time.perf_counter()

        def record(code: str) -> None:
            STAGE_REQUESTS.labels(self.stage, method, code).inc()
            elapsed = time.perf_counter() - started
            STAGE_REQUEST_DURATION.labels(self.stage, method).observe(elapsed)

        return _ObservedContext(context, record)

    def _coroutine(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def run(request: Any, context: Any) -> Any:
            observed = self._observe(method, context)
            try:
                result = await behavior(request, observed)
            except BaseException as exc:
                observed.finish(_failed_code(context, exc))
                raise
            observed.finish(_code_name(context.code(), "OK"))
            return result

        return run

    def _generator(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        async def run(request: Any, context: Any) -> AsyncIterator[Any]:
            observed = self._observe(method, context)
            try:
                async for item in behavior(request, observed):
                    yield item
            except BaseException as exc:
                observed.finish(_failed_code(context, exc))
                raise
            observed.finish(_code_name(context.code(), "OK"))

        return run


def _code_name(code: Any, default: str) -> str:
    return code.name if isinstance(code, grpc.StatusCode) else default


def _failed_code(context: Any, exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    return _code_name(context.code(), "UNKNOWN")


class _ObservedContext:
    """The servicer's context; records its call once, before the status goes out (an
    ``abort`` sends it at once, so a client never sees a call the metrics have not)."""

    def __init__(self, context: Any, record: Callable[[str], None]) -> None:
        self._context = context
        self._record: Callable[[str], None] | None = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def finish(self, code: str) -> None:
        if self._record is not None:
            record, self._record = self._record, None
            record(code)

    async def abort(self, code: grpc.StatusCode, *args: Any, **kwargs: Any) -> NoReturn:
        self.finish(code.name)
        await self._context.abort(code, *args, **kwargs)
        raise AssertionError("abort returns only by raising")  # pragma: no cover


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Every call but health checks needs ``authorization: Bearer <JWT or API key>`` with the
    analyst role: UNAUTHENTICATED without valid credentials, PERMISSION_DENIED for a viewer."""

    OPEN = ("/grpc.health.v1.Health/",)

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(self.OPEN):
            return handler
        metadata = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}
        try:
            principal = self.authenticator.authenticate(
                metadata.get("authorization"), metadata.get("x-api-key")
            )
            principal.require(AccessRole.ANALYST)
        except UnauthorizedError as exc:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, str(exc))
        except ForbiddenError as exc:
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, str(exc))
        return handler


def _refusal(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    """A handler of the same shape as ``handler`` that only refuses the call."""

    async def unary(request: Any, context: Any) -> Any:
        await context.abort(code, message)

    async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # pragma: no cover

    kinds = {
        "unary_unary": (grpc.unary_unary_rpc_method_handler, unary),
        "unary_stream": (grpc.unary_stream_rpc_method_handler, streaming),
        "stream_unary": (grpc.stream_unary_rpc_method_handler, unary),
        "stream_stream": (grpc.stream_stream_rpc_method_handler, streaming),
    }
    for kind, (make, behaviour) in kinds.items():
        if getattr(handler, kind) is not None:
            return make(
                behaviour,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


def stage_authenticator(settings: Any) -> Authenticator:
    """What a stage accepts: tokens signed with JWT_SECRET, keys listed in API_KEYS (a
    stage has no database); with neither, nothing is checked."""
    return Authenticator(
        static_keys=parse_static_keys(settings.api_keys),
        tokens=TokenCodec(settings.jwt_secret, settings.jwt_max_ttl_s)
        if settings.jwt_secret
        else None,
    )


class StageServer:
    """A grpc.aio server for one stage engine, with health and graceful shutdown."""

    def __init__(
        self,
        stage: str,
        engine: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        add_to_server: Callable[[Any, grpc.aio.Server], str] | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        """``add_to_server(engine, server)`` registers the servicer and returns its full
        name; by default that of ``services/<stage>/server.py``. With an ``authenticator``
        that is on, every call but health checks must carry credentials."""
        if stage not in SERVED:
            raise InvalidInputError(f"No stage {stage!r}.", f"Use one of {', '.join(SERVED)}.")
        self.stage = stage
        self.engine = engine
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        # The tracing interceptor first: a call's server span is the child of the client's;
        # then metrics, so that refused calls are counted too.
        interceptors: list[Any] = [aio_server_interceptor(), MetricsInterceptor(stage)]
        if authenticator is not None and authenticator.enabled:
            interceptors.append(AuthInterceptor(authenticator))
        self.server = grpc.aio.server(options=CHANNEL_OPTIONS, interceptors=interceptors)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if add_to_server is None:
            add_to_server = importlib.import_module(f"services.{stage}.server").add_to_server
        self.service_name: str = add_to_server(engine, self.server)
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {host}:{port}")
        self.address = f"{host}:{self.port}"

    async def _set(self, status: int) -> None:
        for service in ("", self.service_name):
            await self.health.set(service, status)

    async def start(self, *, load: bool = True) -> None:
        """Listen at once (health says NOT_SERVING), load the model, then say SERVING."""
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        log.info("%s stage listening on %s; loading its model", self.stage, self.address)
        if load:
            await self.engine.load()
        await self._set(health_pb2.HealthCheckResponse.SERVING)
        log.info("%s stage SERVING on %s", self.stage, self.address)

    async def stop(self, grace_s: float = 5.0) -> None:
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace_s)
