"""How a gRPC stage client behaves when the stage misbehaves: retries, the circuit breaker,
failover to the in-process engine, waiting for a stage that loads its model, round-robin
over replicas, deadlines and error mapping. Real servers on loopback ports; the engine
behind them is a small fake so that each case is exact."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import grpc
import numpy as np
import pytest

from core.domain import StageInfo
from core.errors import InvalidInputError, StageUnavailableError
from services.embedding.server import EmbedderServicer
from services.grpc_server import StageServer
from shared.stubs.callytics.embedding.v1 import embedding_pb2_grpc
from shared.stubs.channel import ChannelConfig
from shared.stubs.embedding import GrpcEmbedder

FAST = ChannelConfig(
    deadline_s=10, ready_timeout_s=10, retries=2, breaker_threshold=2, breaker_ttl_s=60,
    retry_initial_s=0.01, retry_max_s=0.02,
)  # fmt: skip


class CountingEmbedder:
    """An Embedder whose vectors say which text they are; counts calls; can refuse input."""

    dimension = 4

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.calls = 0
        self.loaded = asyncio.Event()
        self.loaded.set()

    def info(self) -> StageInfo:
        return StageInfo("local", "counting", self.name)

    async def load(self) -> None:
        await self.loaded.wait()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if any(t == "bad" for t in texts):
            raise InvalidInputError("bad text", "send good text")
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


class FlakyServicer(EmbedderServicer):
    """Answers UNAVAILABLE to the first ``failures`` calls, as a restarting replica does."""

    def __init__(self, engine: CountingEmbedder, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures
        self.attempts = 0

    async def Embed(self, request, context):
        self.attempts += 1
        if self.attempts <= self.failures:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
        return await super().Embed(request, context)


@asynccontextmanager
async def stage(engine: CountingEmbedder, *, failures: int = 0) -> AsyncIterator[StageServer]:
    """A real embedding stage server; ``failures``: its first calls answer UNAVAILABLE."""
    flaky = FlakyServicer(engine, failures)

    def add_to_server(_engine: object, server: grpc.aio.Server) -> str:
        embedding_pb2_grpc.add_EmbedderServicer_to_server(flaky, server)
        return "callytics.embedding.v1.Embedder"

    server = StageServer("embedding", engine, add_to_server=add_to_server)
    server.flaky = flaky  # type: ignore[attr-defined]
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unavailable_is_retried_with_backoff_until_the_replica_answers():
    engine = CountingEmbedder()
    async with stage(engine, failures=2) as server:
        client = GrpcEmbedder(server.address, FAST)
        vectors = await client.embed(["hello"])
        assert vectors.tolist() == [[5.0, 1.0, 0.0, 0.0]]
        assert server.flaky.attempts == 3 and engine.calls == 1  # two refusals, then served
        assert client.channel.state()["circuit"] == "closed"
        await client.aclose()


async def test_retries_give_up_with_a_stage_unavailable_error_that_says_what_to_do():
    engine = CountingEmbedder()
    async with stage(engine, failures=100) as server:
        client = GrpcEmbedder(server.address, FAST)
        with pytest.raises(StageUnavailableError) as caught:
            await client.embed(["hello"])
        assert server.flaky.attempts == 3  # the call and two retries
        assert caught.value.stage == "embedding" and "UNAVAILABLE" in caught.value.message
        assert "FAILOVER_TO_LOCAL" in caught.value.hint and "USE_EMBEDDING_MS" in caught.value.hint
        await client.aclose()


async def test_the_circuit_opens_after_the_threshold_then_fails_fast():
    engine = CountingEmbedder()
    async with stage(engine, failures=100) as server:
        client = GrpcEmbedder(server.address, FAST)
        for _ in range(2):  # threshold 2: two failed calls (each after its retries)
            with pytest.raises(StageUnavailableError):
                await client.embed(["hello"])
        attempts = server.flaky.attempts
        with pytest.raises(StageUnavailableError, match="circuit open"):
            await client.embed(["hello"])
        assert server.flaky.attempts == attempts  # refused without reaching the stage
        state = client.channel.state()
        assert (state["circuit"], state["consecutive_failures"]) == ("opened", 2)
        probe = await client.probe()
        assert probe["circuit"] == "opened" and probe["replicas"] == {server.address: "SERVING"}
        await client.aclose()


async def test_after_its_ttl_the_circuit_lets_a_call_through_and_closes_on_success():
    engine = CountingEmbedder()
    async with stage(engine, failures=2) as server:
        config = ChannelConfig(**{**FAST.__dict__, "retries": 0, "breaker_ttl_s": 0.0})
        client = GrpcEmbedder(server.address, config)
        for _ in range(2):
            with pytest.raises(StageUnavailableError):
                await client.embed(["hello"])
        assert client.channel.state()["circuit"] == "opened"
        assert (await client.embed(["hello"])).shape == (1, 4)  # TTL 0: half-open, succeeds
        assert client.channel.state()["circuit"] == "closed"
        await client.aclose()


async def test_invalid_input_keeps_its_type_and_hint_and_is_neither_retried_nor_counted():
    engine = CountingEmbedder()
    async with stage(engine) as server:
        client = GrpcEmbedder(server.address, FAST)
        for _ in range(3):
            with pytest.raises(InvalidInputError) as caught:
                await client.embed(["bad"])
            assert (caught.value.message, caught.value.hint) == ("bad text", "send good text")
        assert engine.calls == 3  # once per call: not retried
        assert client.channel.state()["circuit"] == "closed"  # the client's fault, not the stage's
        await client.aclose()


async def test_failover_runs_the_in_process_engine_when_the_stage_is_down():
    local = CountingEmbedder("local")
    nothing_there = f"127.0.0.1:{free_port()}"
    config = ChannelConfig(**{**FAST.__dict__, "ready_timeout_s": 0.0})
    client = GrpcEmbedder(nothing_there, config, fallback=lambda: local)
    assert (await client.embed(["hello", "hi"])).tolist()[1] == [2.0, 1.0, 0.0, 0.0]
    assert local.calls == 1 and client.channel.state()["failovers"] == 1
    await client.aclose()


async def test_without_failover_a_stage_that_never_came_up_fails_with_its_address():
    nothing_there = f"127.0.0.1:{free_port()}"
    config = ChannelConfig(**{**FAST.__dict__, "ready_timeout_s": 0.0})
    client = GrpcEmbedder(nothing_there, config)
    with pytest.raises(StageUnavailableError, match=nothing_there):
        await client.embed(["hello"])
    await client.aclose()


async def test_a_stage_still_loading_its_model_is_waited_for_instead_of_failing():
    engine = CountingEmbedder()
    engine.loaded.clear()  # the model is "loading" until the test says so
    server = StageServer("embedding", engine)
    starting = asyncio.ensure_future(server.start())
    client = GrpcEmbedder(server.address, FAST)
    while server.port == 0 or not (await client.probe())["replicas"]:
        await asyncio.sleep(0)
    assert (await client.probe())["replicas"] == {server.address: "NOT_SERVING"}
    call = asyncio.ensure_future(client.embed(["hello"]))
    while client.channel._ready is None:  # the client is now waiting for SERVING
        await asyncio.sleep(0)
    assert not call.done() and engine.calls == 0
    engine.loaded.set()
    assert (await call).shape == (1, 4)
    await starting
    assert (await client.probe())["replicas"] == {server.address: "SERVING"}
    await client.aclose()
    await server.stop(0)


async def test_calls_rotate_over_several_replicas():
    engines = [CountingEmbedder("a"), CountingEmbedder("b")]
    async with stage(engines[0]) as a, stage(engines[1]) as b:
        client = GrpcEmbedder(f"{a.address},{b.address}", FAST)
        for _ in range(4):
            await client.embed(["x"])
        assert [e.calls for e in engines] == [2, 2]
        probe = await client.probe()
        assert probe["replicas"] == {a.address: "SERVING", b.address: "SERVING"}
        await client.aclose()


async def test_a_call_past_its_deadline_is_a_stage_unavailable_error():
    engine = CountingEmbedder()
    async with stage(engine) as server:
        client = GrpcEmbedder(server.address, ChannelConfig(**{**FAST.__dict__, "deadline_s": 5}))
        await client.load()
        gate = asyncio.Event()
        original = engine.embed

        async def stuck(texts: Sequence[str]) -> np.ndarray:
            await gate.wait()
            return await original(texts)

        engine.embed = stuck  # type: ignore[method-assign]
        client.channel.config = ChannelConfig(**{**FAST.__dict__, "deadline_s": 0.2})
        with pytest.raises(StageUnavailableError, match="DEADLINE_EXCEEDED"):
            await client.embed(["hello"])
        gate.set()
        await client.aclose()


async def test_after_an_outage_the_next_call_waits_for_the_stage_to_be_back():
    engine = CountingEmbedder()
    first = StageServer("embedding", engine)
    await first.start()
    address, port = first.address, first.port
    client = GrpcEmbedder(address, ChannelConfig(**{**FAST.__dict__, "retries": 0}))
    await client.embed(["hello"])
    await first.stop(0)  # the stage goes down (a crash, a redeploy)
    with pytest.raises(StageUnavailableError):
        await client.embed(["hello"])  # this job is deferred by the job queue

    call = asyncio.ensure_future(client.embed(["again"]))  # its next attempt
    while client.channel._ready is None or client.channel._ready.done():
        await asyncio.sleep(0)  # until the client is waiting for SERVING
    second = StageServer("embedding", engine, port=port)  # back on the same address
    await second.start()
    assert (await call).tolist() == [[5.0, 1.0, 0.0, 0.0]]
    assert engine.calls == 2
    await client.aclose()
    await second.stop(0)


async def test_shutdown_lets_the_call_in_flight_finish_and_refuses_new_ones():
    engine = CountingEmbedder()
    gate, entered = asyncio.Event(), asyncio.Event()
    original = engine.embed

    async def slow(texts: Sequence[str]) -> np.ndarray:
        entered.set()
        await gate.wait()
        return await original(texts)

    server = StageServer("embedding", engine)
    await server.start()
    client = GrpcEmbedder(server.address, ChannelConfig(**{**FAST.__dict__, "retries": 0}))
    await client.load()
    engine.embed = slow  # type: ignore[method-assign]
    in_flight = asyncio.ensure_future(client.embed(["hello"]))
    await entered.wait()
    stopping = asyncio.ensure_future(server.stop(30))  # SIGTERM does this
    while (await client.probe())["replicas"][server.address] == "SERVING":
        await asyncio.sleep(0)  # until health says NOT_SERVING (or the port is closed)
    gate.set()
    assert (await in_flight).tolist() == [[5.0, 1.0, 0.0, 0.0]]  # finished within the grace
    await stopping
    with pytest.raises(StageUnavailableError):
        await client.embed(["new"])
    await client.aclose()
