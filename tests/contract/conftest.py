"""Contract tests: every port's suite runs against the in-process engine and against its
gRPC client talking to a real server (the same engine behind ``StageServer``) on a loopback
port. Both must give the same results.

Use the ``implementation`` fixture factory in a test module:

    @pytest.fixture(params=IMPLEMENTATIONS)
    async def embedder(request, implementation):
        async with implementation("embedding", request.param) as engine:
            yield engine
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from bootstrap.settings import Settings
from bootstrap.stage_process import local_engine
from services.grpc_server import StageServer, stage_authenticator

IMPLEMENTATIONS = ["local", "grpc"]


@pytest.fixture(scope="session")
def contract_settings() -> Settings:
    """Small models: the point is that both sides agree, not accuracy."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        asr_model="tiny.en",
        asr_beam_size=1,
        llm_provider="rules",
        grpc_ready_timeout_s=60,
        grpc_retries=1,
    )


@pytest.fixture(scope="session")
def local_engines(contract_settings: Settings) -> Callable[[str], Any]:
    """One in-process engine per stage for the whole session (models load once)."""
    engines: dict[str, Any] = {}

    def get(stage: str) -> Any:
        if stage not in engines:
            engines[stage] = local_engine(stage, contract_settings)
        return engines[stage]

    return get


@asynccontextmanager
async def served(
    stage: str, engine: Any, settings: Settings, server_settings: Settings | None = None
) -> AsyncIterator[Any]:
    """``engine`` behind a real gRPC server on a loopback port, and a client of it (with
    ``settings``); the server authenticates as ``server_settings`` say (JWT_SECRET, API_KEYS)."""
    authenticator = stage_authenticator(server_settings) if server_settings else None
    server = StageServer(stage, engine, host="127.0.0.1", port=0, authenticator=authenticator)
    await server.start()
    module = importlib.import_module(f"shared.stubs.{stage}")
    client = module.build_client(
        settings.model_copy(update={f"{stage}_grpc_target": server.address})
    )
    try:
        yield client
    finally:
        await client.aclose()
        await server.stop(0)


@pytest.fixture
def implementation(
    local_engines: Callable[[str], Any], contract_settings: Settings
) -> Callable[[str, str], AbstractAsyncContextManager[Any]]:
    @asynccontextmanager
    async def make(stage: str, kind: str) -> AsyncIterator[Any]:
        engine = local_engines(stage)
        if kind == "local":
            yield engine
            return
        async with served(stage, engine, contract_settings) as client:
            yield client

    return make
