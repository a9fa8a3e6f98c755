"""Authentication between the API and the gRPC stages: real servers on loopback ports.

A stage with JWT_SECRET (or API_KEYS) set refuses calls without credentials; the API's
clients sign a short-lived token with the same secret; health checks stay open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bootstrap.settings import Settings
from core.access.auth import AccessRole, hash_key
from core.domain import TranscriptionOptions
from core.errors import StageError, StageUnavailableError
from services.grpc_server import StageServer, stage_authenticator
from shared.stubs.callytics.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from tests.contract.conftest import served
from tests.unit.fakes import FakeEmbedder, FakeTranscriber, words_of

SECRET = "stage-secret-0123456789abcdef0123456789"
VIEWER_KEY = "cly_0000f00d_viewer-key-for-the-stage-tests"
ANALYST_KEY = "cly_0000beef_analyst-key-for-the-stage-tests"
API_KEYS = f"ops:viewer:{hash_key(VIEWER_KEY)},batch:analyst:{hash_key(ANALYST_KEY)}"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"grpc_retries": 0, "grpc_ready_timeout_s": 10, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def stage(name: str, engine: Any, server_settings: Settings) -> AsyncIterator[StageServer]:
    server = StageServer(
        name, engine, host="127.0.0.1", port=0, authenticator=stage_authenticator(server_settings)
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


async def embed_with_key(server: StageServer, key: str | None) -> grpc.StatusCode:
    """A raw call, as grpcurl or another service would make it."""
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = embedding_pb2_grpc.EmbedderStub(channel)
        metadata = (("authorization", f"Bearer {key}"),) if key else ()
        try:
            await stub.Embed(embedding_pb2.EmbedRequest(texts=["hi"]), metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def test_a_client_with_the_shared_secret_is_served_unary_and_streaming():
    protected = settings(jwt_secret=SECRET)
    async with served("embedding", FakeEmbedder(), protected, protected) as remote:
        vectors = await remote.embed(["refund please", "thanks"])
        assert np.asarray(vectors).shape[0] == 2
    words = words_of("my bill is wrong", 0.5)
    async with served("asr", FakeTranscriber(words), protected, protected) as remote:
        samples = np.zeros(16000, dtype=np.float32)
        result = await remote.transcribe(samples, TranscriptionOptions())  # a stream
        assert [w.text for w in result.words] == [w.text for w in words]


@pytest.mark.parametrize(
    "client_settings, says",
    [
        (settings(), "requires authentication"),
        (settings(jwt_secret="a-different-secret-0123456789abcdef"), "Signature"),
    ],
)
async def test_a_client_without_the_secret_is_refused_with_a_hint(client_settings, says):
    protected = settings(jwt_secret=SECRET)
    async with served("embedding", FakeEmbedder(), client_settings, protected) as remote:
        with pytest.raises(StageError) as refused:
            await remote.embed(["hello"])
    assert not isinstance(refused.value, StageUnavailableError)  # not retried as "down"
    assert says in refused.value.message and "JWT_SECRET" in refused.value.hint


async def test_api_keys_from_the_environment_need_the_analyst_role():
    async with stage("embedding", FakeEmbedder(), settings(api_keys=API_KEYS)) as server:
        assert await embed_with_key(server, None) == grpc.StatusCode.UNAUTHENTICATED
        assert await embed_with_key(server, "cly_0000_wrong") == grpc.StatusCode.UNAUTHENTICATED
        assert await embed_with_key(server, VIEWER_KEY) == grpc.StatusCode.PERMISSION_DENIED
        assert await embed_with_key(server, ANALYST_KEY) == grpc.StatusCode.OK


async def test_health_checks_need_no_credentials():
    async with (
        stage("embedding", FakeEmbedder(), settings(jwt_secret=SECRET)) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="")
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_without_a_secret_or_keys_a_stage_checks_nothing():
    async with stage("embedding", FakeEmbedder(), settings()) as server:
        assert await embed_with_key(server, None) == grpc.StatusCode.OK


def test_the_service_token_is_an_analyst_token_renewed_before_it_expires():
    from core.access.auth import ServiceToken, TokenCodec

    codec = TokenCodec(SECRET)
    token = ServiceToken(codec, ttl_s=600)
    first = token()
    assert token() == first  # reused while fresh
    principal = codec.verify(first)
    assert principal.role is AccessRole.ANALYST and principal.actor == "jwt:callytics-api"
    token._renew_at = 0  # as if its renewal time had come
    assert codec.verify(token()).role is AccessRole.ANALYST
