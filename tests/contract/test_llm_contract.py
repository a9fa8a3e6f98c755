"""core.ports.CallAnalyzer: the in-process engine and the gRPC client agree, and the
Conversation / CallAnalysis conversions to protobuf are exact."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.domain import (
    CallAnalysis,
    Conversation,
    ProfanityHit,
    Resolution,
    Role,
    Sentiment,
    SentimentLabel,
    Speaker,
    StageInfo,
    Utterance,
    Word,
)
from core.errors import (
    CallyticsError,
    InvalidInputError,
    ModelNotFoundError,
    StageError,
    StageUnavailableError,
)
from services.grpc_server import StageServer
from services.llm.openai_analyzer import OpenAICallAnalyzer
from services.llm.prompt import TASKS
from services.llm.rules_analyzer import LocalCallAnalyzer
from shared.stubs.callytics.llm.v1 import llm_pb2, llm_pb2_grpc
from shared.stubs.channel import ERROR_CODE_KEY, ChannelConfig
from shared.stubs.llm import (
    GrpcCallAnalyzer,
    analysis_from_proto,
    analysis_to_proto,
    conversation_from_proto,
    conversation_to_proto,
)
from tests.contract.conftest import IMPLEMENTATIONS, served
from tests.support.openai_server import FakeOpenAIServer, Mode

pytest_plugins = ["tests.support.fixtures"]

UINT32_MAX = 2**32 - 1


def turn(
    index: int, speaker: str, role: Role, start: float, text: str, score: float | None
) -> Utterance:
    words, clock = [], start
    for token in text.split():
        words.append(Word(token, clock, clock + 0.35, 0.9))
        clock += 0.35
    sentiment = None
    if score is not None:
        label = (
            SentimentLabel.POSITIVE
            if score > 0.25
            else SentimentLabel.NEGATIVE
            if score < -0.25
            else SentimentLabel.NEUTRAL
        )
        sentiment = Sentiment(label, score)
    return Utterance(index, speaker, start, clock, text, words, sentiment, role)


AGENT, CUSTOMER = Role.AGENT, Role.CUSTOMER
LINES: list[tuple[str, Role, str, float | None]] = [
    ("S0", AGENT, "Thank you for calling Northwind Broadband, this is Sam. How can I help?", 0.3),
    (
        "S1",
        CUSTOMER,
        "I'm calling because my internet keeps dropping and the router light is blinking red.",
        -0.4,
    ),
    ("S0", AGENT, "I'm sorry to hear that. Can I have your account number please?", None),
    (
        "S1",
        CUSTOMER,
        "This is ridiculous, it's the third time I call about this damn router.",
        -0.9,
    ),
    ("S1", CUSTOMER, "I want to speak to your manager.", -0.8),
    (
        "S0",
        AGENT,
        "I understand. I have reset your connection and pushed an update to the router.",
        0.1,
    ),
    ("S1", CUSTOMER, "Okay, the light is green now. That fixed it, it's working again.", 0.7),
    ("S0", AGENT, "Great. Is there anything else I can help you with today?", 0.5),
    ("S1", CUSTOMER, "No, that's all I needed. Thanks for your help!", 0.8),
]


def hand_made_conversation() -> Conversation:
    """Agent on channel 0 (zero, not None), customer with no channel and no loudness."""
    utterances, clock = [], 0.0
    for index, (speaker, role, text, score) in enumerate(LINES):
        u = turn(index, speaker, role, clock, text, score)
        utterances.append(u)
        clock = u.end + 0.5
    speakers = [
        Speaker("S0", AGENT, channel=0, talk_time_s=14.7, talk_ratio=0.45, words_per_minute=150.0,
                interruptions=0, sentiment_mean=0.0, loudness_dbfs=-23.5),
        Speaker("S1", CUSTOMER, channel=None, talk_time_s=18.2, talk_ratio=0.55,
                words_per_minute=171.5, interruptions=2, sentiment_mean=-0.12,
                loudness_dbfs=None),
    ]  # fmt: skip
    return Conversation(utterances, speakers, "en", duration_s=clock)


CONVERSATION = hand_made_conversation()
EMPTY = Conversation([], [], "en", 0.0)


@pytest.fixture(params=IMPLEMENTATIONS)
async def analyzer(request, implementation):
    async with implementation("llm", request.param) as engine:
        await engine.load()
        yield engine


@asynccontextmanager
async def side(kind: str, engine: Any, settings: Any) -> AsyncIterator[Any]:
    """``engine`` itself ("local") or the client of a server wrapping it ("grpc")."""
    if kind == "local":
        yield engine
        return
    async with served("llm", engine, settings) as client:
        yield client


class Rejecting:
    """An engine that refuses every call with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def info(self) -> StageInfo:
        return StageInfo("local", "rejecting", "none")

    async def load(self) -> None:
        pass

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        self.calls += 1
        raise self.error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_enums(analysis: CallAnalysis) -> None:
    assert type(analysis.resolution) is Resolution
    assert all(type(i) is int for i in analysis.conflict_evidence)
    assert all(type(p) is ProfanityHit for p in analysis.profanity)


# ------------------------------------------------------------------ same results


async def test_same_analysis_on_both_sides(analyzer, local_engines):
    expected = await local_engines("llm").analyze(CONVERSATION)
    got = await analyzer.analyze(CONVERSATION)
    assert got == expected
    assert_enums(got)


async def test_conflict_profanity_and_a_resolved_outcome_are_found(analyzer):
    got = await analyzer.analyze(CONVERSATION)
    assert got.provider == "rules"
    assert got.resolution == Resolution.RESOLVED
    assert got.conflict_detected and {3, 4} <= set(got.conflict_evidence)
    assert ProfanityHit(3, ["damn"]) in got.profanity
    assert "outage" in got.topics
    assert got.summary and got.reason


async def test_an_empty_conversation_gives_the_same_empty_analysis(analyzer, local_engines):
    got = await analyzer.analyze(EMPTY)
    assert got == await local_engines("llm").analyze(EMPTY)
    assert (got.conflict_detected, got.conflict_evidence, got.profanity) == (False, [], [])
    assert_enums(got)


async def test_info_names_the_engine_and_the_side(analyzer):
    info = analyzer.info()
    assert (info.engine, info.model) == ("rules", "lexicon-v2")
    assert info.backend in ("local", "grpc")


async def test_the_conversation_reaches_the_engine_unchanged(contract_settings):
    seen: list[Conversation] = []

    class Spy(LocalCallAnalyzer):
        async def analyze(self, conversation: Conversation) -> CallAnalysis:
            seen.append(conversation)
            return await super().analyze(conversation)

    async with served("llm", Spy(), contract_settings) as client:
        await client.analyze(CONVERSATION)
    assert seen == [CONVERSATION]
    assert seen[0].speakers[0].channel == 0 and seen[0].speakers[1].channel is None
    assert seen[0].utterances[2].sentiment is None


# ------------------------------------------------------------------ openai provider


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
async def test_openai_provider_gives_the_same_analysis_on_both_sides(
    kind, openai_server: FakeOpenAIServer, contract_settings
):
    def make() -> OpenAICallAnalyzer:
        return OpenAICallAnalyzer(
            model="fake-analyst",
            base_url=openai_server.base_url,
            timeout=10.0,
            max_retries=0,
            fields="all",
        )

    reference, engine = make(), make()
    try:
        expected = await reference.analyze(CONVERSATION)
        async with side(kind, engine, contract_settings) as analyzer:
            got = await analyzer.analyze(CONVERSATION)
            info = analyzer.info()
    finally:
        await reference.aclose()
        await engine.aclose()
    assert got == expected
    assert_enums(got)
    assert got.provider == "openai:fake-analyst"
    assert got.conflict_detected and got.profanity  # the fake derives them from the lines
    # the model's sentiment, roles, sources and warnings cross the wire too
    assert got.utterance_sentiment and got.speaker_roles and got.sources
    assert len(openai_server.requests) == 2 * len(TASKS)  # the served one reached it too
    assert (info.engine, info.model, info.device) == ("openai", "fake-analyst", "remote")

    openai_server.mode = Mode.GARBAGE  # no usable reply: rules, with warnings, both ways
    engine = make()
    try:
        async with side(kind, engine, contract_settings) as analyzer:
            degraded = await analyzer.analyze(CONVERSATION)
    finally:
        await engine.aclose()
    assert set(degraded.sources.values()) == {"rules"}
    assert degraded.warnings and degraded.provider == "openai:fake-analyst"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    "error",
    [
        InvalidInputError("The call is too long to analyse.", "Split it."),
        ModelNotFoundError("No model 'gpt-x'.", "Set LLM_MODEL."),
    ],
    ids=["invalid-input", "model-not-found"],
)
async def test_engine_errors_come_back_as_the_same_core_error(kind, error, contract_settings):
    async with side(kind, Rejecting(error), contract_settings) as analyzer:
        with pytest.raises(CallyticsError) as caught:
            await analyzer.analyze(CONVERSATION)
    assert type(caught.value) is type(error)
    assert (caught.value.message, caught.value.hint) == (error.message, error.hint)


@pytest.mark.parametrize("kind", IMPLEMENTATIONS)
async def test_an_engine_failure_is_a_stage_error(kind, contract_settings):
    error = StageError("llm", "the model crashed")
    async with side(kind, Rejecting(error), contract_settings) as analyzer:
        with pytest.raises(StageError, match="the model crashed"):
            await analyzer.analyze(CONVERSATION)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: setattr(c.speakers[0], "channel", -1),
        lambda c: setattr(c.utterances[0], "index", UINT32_MAX + 1),
        lambda c: setattr(c.speakers[1], "interruptions", -3),
        lambda c: setattr(c.utterances[1], "text", "lone \ud800 surrogate"),
        lambda c: setattr(c.utterances[1], "role", "boss"),
    ],
    ids=["negative-channel", "index-over-uint32", "negative-count", "surrogate", "bad-role"],
)
async def test_what_protobuf_cannot_carry_is_invalid_input_before_the_call(
    change, contract_settings
):
    conversation = hand_made_conversation()
    change(conversation)
    engine = Rejecting(AssertionError("must not be reached"))
    async with served("llm", engine, contract_settings) as client:
        with pytest.raises(InvalidInputError, match="cannot be sent to the llm service"):
            await client.analyze(conversation)
    assert engine.calls == 0


async def test_the_server_rejects_a_malformed_conversation_as_invalid_argument(local_engines):
    server = StageServer("llm", local_engines("llm"), host="127.0.0.1", port=0)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = llm_pb2_grpc.CallAnalyzerStub(channel)
            bad = conversation_to_proto(CONVERSATION)
            bad.utterances[0].role = "boss"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Analyze(bad, timeout=10)
    finally:
        await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (ERROR_CODE_KEY, InvalidInputError.code) in tuple(caught.value.trailing_metadata())


# ------------------------------------------------------------------ down & failover

QUICK = ChannelConfig(ready_timeout_s=0.3, retries=0, retry_initial_s=0.01)


async def test_a_stage_that_is_down_fails_over_to_the_local_engine():
    client = GrpcCallAnalyzer(f"127.0.0.1:{closed_port()}", QUICK, fallback=LocalCallAnalyzer)
    try:
        assert await client.analyze(CONVERSATION) == await LocalCallAnalyzer().analyze(CONVERSATION)
        assert client.channel.state()["failovers"] == 1
    finally:
        await client.aclose()


async def test_a_stage_that_is_down_without_failover_is_unavailable():
    client = GrpcCallAnalyzer(f"127.0.0.1:{closed_port()}", QUICK)
    try:
        with pytest.raises(StageUnavailableError, match="llm"):
            await client.analyze(CONVERSATION)
    finally:
        await client.aclose()


# ------------------------------------------------------------------ conversions

floats = st.floats(allow_nan=False)
optional_floats = st.none() | st.just(0.0) | floats
uint32 = st.integers(0, UINT32_MAX)
sentiments = st.builds(Sentiment, st.sampled_from(SentimentLabel), floats)
words = st.builds(Word, st.text(), floats, floats, floats)
utterances = st.builds(
    Utterance,
    index=uint32,
    speaker=st.text(),
    start=floats,
    end=floats,
    text=st.text(),
    words=st.lists(words, max_size=4),
    sentiment=st.none() | sentiments,
    role=st.sampled_from(Role),
)
speakers = st.builds(
    Speaker,
    id=st.text(),
    role=st.sampled_from(Role),
    channel=st.none() | st.just(0) | uint32,
    talk_time_s=floats,
    talk_ratio=floats,
    words_per_minute=floats,
    interruptions=uint32,
    sentiment_mean=optional_floats,
    loudness_dbfs=optional_floats,
)
conversations = st.builds(
    Conversation,
    utterances=st.lists(utterances, max_size=5),
    speakers=st.lists(speakers, max_size=3),
    language=st.text(max_size=5),
    duration_s=floats,
)
analyses = st.builds(
    CallAnalysis,
    summary=st.text(),
    topics=st.lists(st.text(), max_size=4),
    reason=st.text(),
    resolution=st.sampled_from(Resolution),
    conflict_detected=st.booleans(),
    conflict_evidence=st.lists(uint32, max_size=4),
    profanity=st.lists(
        st.builds(ProfanityHit, uint32, st.lists(st.text(), max_size=3)), max_size=3
    ),
    action_items=st.lists(st.text(), max_size=3),
    provider=st.text(),
    model=st.text(),
    sources=st.dictionaries(st.text(), st.sampled_from(["model", "rules"]), max_size=4),
    utterance_sentiment=st.none()
    | st.dictionaries(uint32, st.sampled_from(SentimentLabel), min_size=1, max_size=4),
    speaker_roles=st.none()
    | st.dictionaries(st.text(), st.sampled_from(Role), min_size=1, max_size=3),
    warnings=st.lists(st.text(), max_size=2),
)

ZEROS = Conversation(
    [Utterance(0, "", 0.0, 0.0, "", [Word("", 0.0, 0.0, 0.0)], Sentiment(SentimentLabel.NEUTRAL, 0.0))],
    [Speaker("", channel=0, sentiment_mean=0.0, loudness_dbfs=0.0), Speaker("")],
    "",
    0.0,
)  # fmt: skip


def over_the_wire(message: Any) -> Any:
    return type(message).FromString(message.SerializeToString())


@given(conversations)
@example(CONVERSATION)
@example(EMPTY)
@example(ZEROS)
def test_conversation_round_trip_is_exact(conversation):
    back = conversation_from_proto(over_the_wire(conversation_to_proto(conversation)))
    assert back == conversation
    for before, after in zip(conversation.speakers, back.speakers, strict=True):
        # 0 and None compare unequal, but say it outright: None stays None, 0 stays 0.
        assert (after.channel is None) == (before.channel is None)
        assert (after.sentiment_mean is None) == (before.sentiment_mean is None)
        assert (after.loudness_dbfs is None) == (before.loudness_dbfs is None)
        assert type(after.role) is Role
    for before, after in zip(conversation.utterances, back.utterances, strict=True):
        assert (after.sentiment is None) == (before.sentiment is None)
        assert type(after.role) is Role
        if after.sentiment is not None:
            assert type(after.sentiment.label) is SentimentLabel


def test_none_and_zero_stay_apart():
    back = conversation_from_proto(over_the_wire(conversation_to_proto(ZEROS)))
    zero, unset = back.speakers
    assert (zero.channel, zero.sentiment_mean, zero.loudness_dbfs) == (0, 0.0, 0.0)
    assert (unset.channel, unset.sentiment_mean, unset.loudness_dbfs) == (None, None, None)
    assert back.utterances[0].sentiment == Sentiment(SentimentLabel.NEUTRAL, 0.0)
    assert (
        conversation_from_proto(conversation_to_proto(CONVERSATION)).utterances[2].sentiment is None
    )


@given(analyses)
def test_analysis_round_trip_is_exact(analysis):
    back = analysis_from_proto(over_the_wire(analysis_to_proto(analysis)))
    assert back == analysis
    assert_enums(back)


def test_unknown_enum_values_are_rejected_on_the_side_that_reads_them():
    message = conversation_to_proto(CONVERSATION)
    message.speakers[0].role = "boss"
    with pytest.raises(InvalidInputError, match="boss"):
        conversation_from_proto(message)
    message = conversation_to_proto(CONVERSATION)
    message.utterances[0].sentiment.label = "ecstatic"
    with pytest.raises(InvalidInputError, match="ecstatic"):
        conversation_from_proto(message)
    reply = llm_pb2.CallAnalysis(resolution="maybe")
    with pytest.raises(StageError, match="maybe"):
        analysis_from_proto(reply)
