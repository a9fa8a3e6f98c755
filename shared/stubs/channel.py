"""One remote stage as the clients see it: channels, deadlines, retries, a circuit breaker,
readiness, failover, and gRPC status codes turned into ``core`` errors.

Targets: ``host:port``, several separated by commas (one channel each, calls rotate over
them), or one ``dns:///name:port`` whose addresses gRPC balances round-robin itself.
Retries (tenacity: exponential backoff with jitter) are for UNAVAILABLE only: the stage
was not reached, so sending again is safe. The breaker (purgatory) counts calls that failed
after their retries; while it is open, calls fail at once (or fail over to the in-process
engine with ``FAILOVER_TO_LOCAL``) until its TTL lets one call through to try again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import Counter, Gauge
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from core.errors import (
    AudioTooLongError,
    CallyticsError,
    InvalidInputError,
    ModelNotFoundError,
    StageError,
    StageUnavailableError,
    UnsupportedAudioError,
)

with warnings.catch_warnings():  # purgatory imports pkg_resources
    warnings.simplefilter("ignore", UserWarning)
    from purgatory import AsyncCircuitBreakerFactory
    from purgatory.domain.model import OpenedState

log = logging.getLogger(__name__)

T = TypeVar("T")

# Audio and vectors travel in chunks under gRPC's 4 MB message limit.
CHUNK_BYTES = 1 << 20
MAX_MESSAGE_BYTES = 16 << 20
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
]
# Errors a server sends back carry the core error's code and hint in trailing metadata.
ERROR_CODE_KEY = "callytics-error-code"
ERROR_HINT_KEY = "callytics-error-hint"
_INPUT_ERRORS: dict[str, type[InvalidInputError]] = {
    cls.code: cls for cls in (InvalidInputError, UnsupportedAudioError, AudioTooLongError)
}
GRPC_CLIENT_ERRORS = Counter(
    "callytics_grpc_client_errors",
    "gRPC calls to a stage service that ended with an error status, by code.",
    ["stage", "code"],
)
CIRCUIT_STATE = Gauge(
    "callytics_circuit_state",
    "Circuit breaker of each remote stage: 0 closed, 1 half-opened, 2 opened.",
    ["stage"],
    multiprocess_mode="livemax",
)
CIRCUIT_VALUES = {"closed": 0, "half-opened": 1, "opened": 2}


@dataclass(frozen=True)
class ChannelConfig:
    deadline_s: float = 600.0
    ready_timeout_s: float = 300.0
    retries: int = 3
    breaker_threshold: int = 5
    breaker_ttl_s: float = 30.0
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    # Shared with the stages: every call carries a token signed with it (core.access.auth).
    jwt_secret: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> ChannelConfig:
        return cls(
            deadline_s=settings.grpc_deadline_s,
            ready_timeout_s=settings.grpc_ready_timeout_s,
            retries=settings.grpc_retries,
            breaker_threshold=settings.grpc_breaker_threshold,
            breaker_ttl_s=settings.grpc_breaker_ttl_s,
            jwt_secret=settings.jwt_secret,
        )


class _Bearer:
    """Adds ``authorization: Bearer <token>`` to a call's metadata."""

    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token

    def _details(self, details: Any) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        metadata.add("authorization", f"Bearer {self.token()}")
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _BearerUnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _BearerUnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _BearerStreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _BearerStreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def bearer_interceptors(token: Callable[[], str]) -> list[Any]:
    """One interceptor per call shape (a grpc.aio channel files each under one shape only)."""
    kinds = (_BearerUnaryUnary, _BearerUnaryStream, _BearerStreamUnary, _BearerStreamStream)
    return [kind(token) for kind in kinds]


def split_targets(target: str) -> list[str]:
    targets = [t.strip() for t in target.split(",") if t.strip()]
    if not targets:
        raise InvalidInputError(f"No gRPC target in {target!r}.", "Give host:port.")
    return targets


def _unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE


class StageChannel:
    """The connection to one stage service (one or several replicas)."""

    def __init__(
        self,
        stage: str,
        target: str,
        config: ChannelConfig | None = None,
        *,
        fallback: Callable[[], Any] | None = None,
    ) -> None:
        self.stage = stage
        self.target = target
        self.config = config or ChannelConfig()
        self._fallback_factory = fallback
        self._fallback: Any = None
        self._channels: list[grpc.aio.Channel] = []
        self._next: itertools.cycle[grpc.aio.Channel] | None = None
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=self.config.breaker_threshold,
            default_ttl=self.config.breaker_ttl_s,
            exclude=[InvalidInputError, ModelNotFoundError],
        )
        self._breaker_state = "closed"
        self._failures = 0
        self._last_error = ""
        self._failovers = 0
        self._breakers.add_listener(self._on_breaker_event)
        CIRCUIT_STATE.labels(stage).set(0)
        self._ready: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ channels
    def channel(self) -> grpc.aio.Channel:
        """The next channel, round-robin over the targets (created on first use)."""
        if self._next is None:
            # Tracing: each call's span carries the caller's context (W3C traceparent) to
            # the stage server; with no tracer provider set up the spans are no-ops.
            from opentelemetry.instrumentation.grpc import aio_client_interceptors

            interceptors: list[Any] = []
            if self.config.jwt_secret:
                from core.access.auth import ServiceToken, TokenCodec

                token = ServiceToken(TokenCodec(self.config.jwt_secret))
                interceptors.extend(bearer_interceptors(token))
            interceptors.extend(aio_client_interceptors())
            self._channels = [
                grpc.aio.insecure_channel(t, options=CHANNEL_OPTIONS, interceptors=interceptors)
                for t in split_targets(self.target)
            ]
            self._next = itertools.cycle(self._channels)
        return next(self._next)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
        self._channels, self._next, self._ready = [], None, None

    # ------------------------------------------------------------------ readiness
    async def wait_ready(self) -> None:
        """Wait (up to ``ready_timeout_s``) until every replica reports SERVING.

        A stage still loading its model answers NOT_SERVING; one not started yet (or
        restarting) is UNAVAILABLE. Both are waited for. Concurrent callers share one
        wait. After a call found the stage unavailable, the next call waits again, so a
        deferred job resumes once the stage is back; with FAILOVER_TO_LOCAL it does not
        wait: the in-process engine stands in at once.
        """
        ready = self._ready
        if ready is not None and ready.done():
            if not ready.cancelled() and ready.exception() is None:
                return
            if self._fallback_factory is not None:
                return
            ready = None
        if ready is None:
            self.channel()
            self._ready = ready = asyncio.ensure_future(self._wait_all_serving())
        try:
            await asyncio.shield(ready)
        except TimeoutError as exc:
            raise self._down(f"not SERVING after {self.config.ready_timeout_s:.0f} s") from exc

    async def _wait_all_serving(self) -> None:
        deadline = time.monotonic() + self.config.ready_timeout_s
        await asyncio.gather(*(self._wait_serving(c, deadline) for c in self._channels))

    async def _wait_serving(self, channel: grpc.aio.Channel, deadline: float) -> None:
        stub = health_pb2_grpc.HealthStub(channel)
        delay = 0.1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=""),
                    timeout=min(left, 10.0),
                    wait_for_ready=True,
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                ):
                    raise
            # NOT_SERVING (a model loading): ask again, backing off up to 2 s.
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(2.0, delay * 2)

    async def probe(self) -> dict[str, Any]:
        """The standard health check of every replica, for /health/ready."""
        self.channel()
        replicas = {}
        for target, channel in zip(split_targets(self.target), self._channels, strict=False):
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2.0
                )
                replicas[target] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.aio.AioRpcError as exc:
                replicas[target] = exc.code().name
        serving = any(status == "SERVING" for status in replicas.values())
        return {"serving": serving, "replicas": replicas, **self.state()}

    # ------------------------------------------------------------------ calls
    async def call(
        self,
        attempt: Callable[[grpc.aio.Channel, float], Awaitable[T]],
        *,
        deadline_s: float | None = None,
        local: Callable[[Any], Awaitable[T]] | None = None,
    ) -> T:
        """Run ``attempt(channel, timeout)`` with retries under the stage's breaker.

        ``attempt`` must build its request anew each time (streams cannot be replayed).
        ``local(engine)`` runs the same operation on the in-process engine, used when
        ``FAILOVER_TO_LOCAL`` is set and the stage cannot be reached.
        """
        timeout = deadline_s or self.config.deadline_s
        try:
            breaker = await self._breakers.get_breaker(self.stage)
            async with breaker:
                await self.wait_ready()
                try:
                    return await self._with_retries(attempt, timeout)
                except StageUnavailableError:
                    if self._fallback_factory is None:
                        self._ready = None  # the next call waits for the stage to be back
                    raise
        except OpenedState:
            error = self._down(
                f"circuit open after {self._failures} failed calls in a row; it lets a call "
                f"through {self.config.breaker_ttl_s:.0f} s after opening"
            )
        except StageUnavailableError as exc:
            error = exc
        engine = self.fallback_engine() if local is not None else None
        if local is None or engine is None:
            raise error
        self._failovers += 1
        log.warning("%s; running %s in-process instead.", error, self.stage)
        return await local(engine)

    async def _with_retries(
        self, attempt: Callable[[grpc.aio.Channel, float], Awaitable[T]], timeout: float
    ) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.retries + 1),
            wait=wait_exponential_jitter(
                initial=self.config.retry_initial_s, max=self.config.retry_max_s
            ),
            retry=retry_if_exception(_unavailable),
            before_sleep=lambda state: log.info(
                "%s unavailable (attempt %d); retrying", self.stage, state.attempt_number
            ),
            reraise=True,
        )
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    return await attempt(self.channel(), timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._from_status(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def fallback_engine(self) -> Any:
        if self._fallback is None and self._fallback_factory is not None:
            self._fallback = self._fallback_factory()
        return self._fallback

    # ------------------------------------------------------------------ errors & state
    def _from_status(self, exc: grpc.aio.AioRpcError) -> CallyticsError:
        meta = {k: v for k, v in (exc.trailing_metadata() or ()) if isinstance(v, str)}
        code, hint = meta.get(ERROR_CODE_KEY, ""), meta.get(ERROR_HINT_KEY, "")
        message = exc.details() or exc.code().name
        status = exc.code()
        GRPC_CLIENT_ERRORS.labels(self.stage, status.name).inc()
        if status == grpc.StatusCode.INVALID_ARGUMENT:
            return _INPUT_ERRORS.get(code, InvalidInputError)(message, hint)
        if status == grpc.StatusCode.FAILED_PRECONDITION and code == ModelNotFoundError.code:
            return ModelNotFoundError(message, hint)
        if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return self._down(f"{status.name}: {message}")
        if status in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return StageError(
                self.stage,
                f"the {self.stage} service at {self.target} refused the call ({message}).",
                "Give the API, the workers and every stage the same JWT_SECRET.",
            )
        message = message.removeprefix(f"{self.stage}: ")  # the server's StageError said it
        return StageError(self.stage, f"remote {status.name}: {message}", hint)

    def _down(self, why: str) -> StageUnavailableError:
        self._last_error = why
        flag = f"USE_{self.stage.upper()}_MS"
        return StageUnavailableError(
            self.stage,
            f"the {self.stage} service at {self.target} is unavailable ({why}).",
            f"Start `callytics stage {self.stage}` there, set FAILOVER_TO_LOCAL=true, "
            f"or {flag}=false to run it in-process.",
        )

    def _on_breaker_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type == "state_changed":
            self._breaker_state = str(event.state)
            CIRCUIT_STATE.labels(self.stage).set(CIRCUIT_VALUES.get(self._breaker_state, 0))
            log.warning("%s circuit %s", self.stage, self._breaker_state)
        elif event_type == "failed":
            self._failures = int(event.failure_count)
        elif event_type == "recovered":
            self._failures = 0

    def state(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "circuit": self._breaker_state,
            "consecutive_failures": self._failures,
            "failovers": self._failovers,
            "last_error": self._last_error,
        }
