"""core.ports.SentimentAnalyzer: the in-process engine and the gRPC client agree."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from core.domain import Sentiment, SentimentLabel, StageInfo
from core.errors import (
    CallyticsError,
    InvalidInputError,
    ModelNotFoundError,
    StageError,
    StageUnavailableError,
)
from services.sentiment.vader import VaderSentimentAnalyzer
from shared.stubs.channel import ChannelConfig
from shared.stubs.sentiment import BATCH_TEXTS, GrpcSentimentAnalyzer
from tests.contract.conftest import IMPLEMENTATIONS, served

TEXTS = [
    "Thank you so much, that fixed it and you were really helpful!",
    "This is ridiculous, I have been waiting for two weeks and nobody calls me back.",
    "My account number is 4471 2290.",
    "I was charged twice on my bill this month and I want a refund.",
    "Great, I really appreciate it, have a lovely day.",
    "I'm fed up with this terrible service, cancel my contract.",
]


@pytest.fixture(params=IMPLEMENTATIONS)
async def analyzer(request, implementation):
    async with implementation("sentiment", request.param) as engine:
        await engine.load()
        yield engine


@asynccontextmanager
async def side(kind: str, engine: Any, settings: Any) -> AsyncIterator[Any]:
    """``engine`` itself ("local") or the client of a server wrapping it ("grpc")."""
    if kind == "local":
        yield engine
        return
    async with served("sentiment", engine, settings) as client:
        yield client


class Recording:
    """Wraps an engine and records the size of every batch it is asked to analyse."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.batches: list[int] = []

    def info(self) -> StageInfo:
        return self.inner.info()

    async def load(self) -> None:
        await self.inner.load()

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        self.batches.append(len(texts))
        return await self.inner.analyze(texts)


class Rejecting:
    """An engine that refuses every call with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def info(self) -> StageInfo:
        return StageInfo("local", "rejecting", "none")

    async def load(self) -> None:
        pass

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        raise self.error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


QUICK = ChannelConfig(ready_timeout_s=0.3, retries=0, retry_initial_s=0.01)


# ------------------------------------------------------------------ same results


async def test_same_sentiments_on_both_sides(analyzer, local_engines):
    expected = await local_engines("sentiment").analyze(TEXTS)
    got = await analyzer.analyze(TEXTS)
    assert got == expected  # labels and scores, exactly (doubles travel losslessly)
    assert all(type(s.label) is SentimentLabel and type(s.score) is float for s in got)


async def test_labels_and_scores_make_sense(analyzer):
    got = await analyzer.analyze(TEXTS)
    assert all(-1.0 <= s.score <= 1.0 for s in got)
    assert got[0].label == SentimentLabel.POSITIVE and got[0].score > 0
    assert got[1].label == SentimentLabel.NEGATIVE and got[1].score < 0


async def test_blank_texts_are_neutral_zero_in_place(analyzer):
    got = await analyzer.analyze(["", TEXTS[1], "   ", TEXTS[0]])
    assert got[0] == got[2] == Sentiment(SentimentLabel.NEUTRAL, 0.0)
    assert (got[1].label, got[3].label) == (SentimentLabel.NEGATIVE, SentimentLabel.POSITIVE)


async def test_no_texts_give_no_sentiments(analyzer):
    assert await analyzer.analyze([]) == []


async def test_info_names_the_engine_and_the_side(analyzer, local_engines):
    info, local = analyzer.info(), local_engines("sentiment").info()
    assert (info.engine, info.model, info.device) == (local.engine, local.model, local.device)
    assert info.engine == "learned"
    assert info.extra["embedding_model"] == local.extra["embedding_model"]
    assert info.backend in ("local", "grpc")


async def test_info_of_the_client_says_grpc_and_where(contract_settings, local_engines):
    async with served("sentiment", local_engines("sentiment"), contract_settings) as client:
        await client.load()
        info = client.info()
        assert info.backend == "grpc"
        assert info.extra["target"] == client.channel.target
        assert client.channel.state()["circuit"] == "closed"


# ------------------------------------------------------------------ batching


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
async def test_many_texts_cross_the_batch_limit_in_order(kind, contract_settings):
    engine = Recording(VaderSentimentAnalyzer())  # cheap: thousands of texts a second
    texts = [f"call {i}: {TEXTS[i % len(TEXTS)]}" for i in range(2 * BATCH_TEXTS + 1)]
    async with side(kind, engine, contract_settings) as analyzer:
        got = await analyzer.analyze(texts)
    assert got == await VaderSentimentAnalyzer().analyze(texts)
    expected_batches = [len(texts)] if kind == "local" else [BATCH_TEXTS, BATCH_TEXTS, 1]
    assert engine.batches == expected_batches


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "error",
    [
        InvalidInputError("Text 3 is too long.", "Split it."),
        ModelNotFoundError("No sentiment model 'x'.", "Set SENTIMENT_MODEL."),
    ],
    ids=["invalid-input", "model-not-found"],
)
async def test_engine_errors_come_back_as_the_same_core_error(kind, error, contract_settings):
    async with side(kind, Rejecting(error), contract_settings) as analyzer:
        with pytest.raises(CallyticsError) as caught:
            await analyzer.analyze(["hello"])
    assert type(caught.value) is type(error)
    assert (caught.value.message, caught.value.hint) == (error.message, error.hint)


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
async def test_an_engine_failure_is_a_stage_error(kind, contract_settings):
    error = StageError("sentiment", "the model crashed")
    async with side(kind, Rejecting(error), contract_settings) as analyzer:
        with pytest.raises(StageError, match="the model crashed"):
            await analyzer.analyze(["hello"])


async def test_text_that_is_not_unicode_is_invalid_input_before_the_call(
    contract_settings, local_engines
):
    engine = Recording(VaderSentimentAnalyzer())
    async with served("sentiment", engine, contract_settings) as client:
        with pytest.raises(InvalidInputError, match="Text 1"):
            await client.analyze(["fine", "lone \ud800 surrogate"])
    assert engine.batches == []


# ------------------------------------------------------------------ down & failover


async def test_a_stage_that_is_down_fails_over_to_the_local_engine():
    client = GrpcSentimentAnalyzer(
        f"127.0.0.1:{closed_port()}", QUICK, fallback=VaderSentimentAnalyzer
    )
    try:
        assert await client.analyze(TEXTS) == await VaderSentimentAnalyzer().analyze(TEXTS)
        assert client.channel.state()["failovers"] == 1
    finally:
        await client.aclose()


async def test_a_stage_that_is_down_without_failover_is_unavailable():
    client = GrpcSentimentAnalyzer(f"127.0.0.1:{closed_port()}", QUICK)
    try:
        with pytest.raises(StageUnavailableError, match="sentiment"):
            await client.analyze(TEXTS)
    finally:
        await client.aclose()
