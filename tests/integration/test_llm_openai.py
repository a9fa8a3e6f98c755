"""OpenAICallAnalyzer against a real HTTP server: the fake OpenAI-compatible one on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest
from openai import AsyncOpenAI

from core.domain import ProfanityHit, Resolution
from core.errors import StageError
from services.llm import build_call_analyzer
from services.llm.openai_analyzer import OpenAICallAnalyzer
from services.llm.prompt import ANALYSIS_SCHEMA
from tests.support import scripts
from tests.support.conversations import make_conversation
from tests.support.openai_server import FakeOpenAIServer, Mode

pytest_plugins = ["tests.support.fixtures"]

MODEL = "fake-analyst"
BILLING = make_conversation(scripts.UNRESOLVED_BILLING)
FIRST_CUSTOMER_LINE = scripts.UNRESOLVED_BILLING[1][1]

MakeAnalyzer = Callable[..., OpenAICallAnalyzer]


@pytest.fixture
async def make_analyzer(openai_server: FakeOpenAIServer) -> AsyncIterator[MakeAnalyzer]:
    """Analyzers pointed at the fake server; closed at the end of the test."""
    made: list[OpenAICallAnalyzer] = []

    def make(**overrides: object) -> OpenAICallAnalyzer:
        options: dict = {
            "model": MODEL,
            "base_url": openai_server.base_url,
            "timeout": 10.0,
            "max_retries": 0,
        } | overrides
        analyzer = OpenAICallAnalyzer(**options)
        made.append(analyzer)
        return analyzer

    yield make
    for analyzer in made:
        await analyzer.aclose()


async def test_reply_fields_come_from_the_transcript_sent(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    result = await make_analyzer().analyze(BILLING)
    assert result.summary == f"The customer opened with: {FIRST_CUSTOMER_LINE}"
    assert result.reason == FIRST_CUSTOMER_LINE
    assert result.topics == ["refund", "billing"]
    assert result.resolution == Resolution.UNRESOLVED
    assert (result.conflict_detected, result.conflict_evidence) == (True, [4, 5])
    assert result.profanity == [ProfanityHit(utterance=7, words=["damn"])]
    assert result.provider == f"openai:{MODEL}"


async def test_request_carries_model_schema_and_numbered_transcript(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    await make_analyzer().analyze(BILLING)
    (request,) = openai_server.requests
    assert request["model"] == MODEL
    assert request["temperature"] == 0
    fmt = request["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == ANALYSIS_SCHEMA
    user = request["messages"][-1]["content"]
    for u in BILLING.utterances:
        assert f"[{u.index}] {u.role.value.upper()} ({u.speaker}): {u.text}" in user
    assert openai_server.headers[0]["authorization"] == "Bearer not-needed"


async def test_api_key_is_sent(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    await make_analyzer(api_key="sk-test-123").analyze(BILLING)
    assert openai_server.headers[0]["authorization"] == "Bearer sk-test-123"


async def test_indexes_not_in_the_transcript_are_dropped(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.bogus_indexes = True
    result = await make_analyzer().analyze(BILLING)
    assert result.conflict_evidence == [4, 5]
    assert [hit.utterance for hit in result.profanity] == [7]


async def test_reply_in_json_fences_is_parsed(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.FENCED
    result = await make_analyzer().analyze(BILLING)
    assert result.reason == FIRST_CUSTOMER_LINE


async def test_json_object_fallback_when_json_schema_is_rejected(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.REJECT_SCHEMA
    analyzer = make_analyzer()
    result = await analyzer.analyze(BILLING)
    assert result.reason == FIRST_CUSTOMER_LINE
    kinds = [r["response_format"]["type"] for r in openai_server.requests]
    assert kinds == ["json_schema", "json_object"]
    await analyzer.analyze(BILLING)  # remembered: straight to json_object
    kinds = [r["response_format"]["type"] for r in openai_server.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]


async def test_rejected_fallback_is_a_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.REJECT_ALL
    with pytest.raises(StageError, match="HTTP 400") as caught:
        await make_analyzer().analyze(BILLING)
    assert caught.value.stage == "llm"
    assert len(openai_server.requests) == 2


async def test_server_error_is_retried_then_a_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.ERROR
    with pytest.raises(StageError, match="HTTP 500 after 2 retries") as caught:
        await make_analyzer(max_retries=2).analyze(BILLING)
    assert caught.value.stage == "llm"
    assert caught.value.code == "stage_failed"
    assert len(openai_server.requests) == 3


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (Mode.GARBAGE, "did not return a call analysis.*Sorry, I cannot produce JSON"),
        (Mode.GARBAGE_BODY, "reply without choices.*Bad Gateway"),
    ],
)
async def test_garbage_is_a_clear_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer, mode: Mode, message: str
) -> None:
    openai_server.mode = mode
    with pytest.raises(StageError, match=message) as caught:
        await make_analyzer(max_retries=2).analyze(BILLING)
    assert caught.value.stage == "llm"
    assert len(openai_server.requests) == 1  # a 200 is not retried


async def test_unknown_model_names_the_setting(make_analyzer: MakeAnalyzer) -> None:
    with pytest.raises(StageError, match="does not serve model 'no-such-model'") as caught:
        await make_analyzer(model="no-such-model").analyze(BILLING)
    assert "LLM_MODEL" in caught.value.hint


async def test_unreachable_server_is_a_stage_error(make_analyzer: MakeAnalyzer) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(StageError, match="cannot reach") as caught:
        await make_analyzer(base_url=f"http://127.0.0.1:{port}/v1").analyze(BILLING)
    assert "OPENAI_BASE_URL" in caught.value.hint


async def test_load_and_empty_calls_make_no_request(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    analyzer = make_analyzer()
    await analyzer.load()
    result = await analyzer.analyze(make_conversation([]))
    assert result.resolution == Resolution.UNKNOWN
    assert result.provider == f"openai:{MODEL}"
    assert openai_server.requests == []


async def test_factory_builds_an_analyzer_for_the_server(openai_server: FakeOpenAIServer) -> None:
    analyzer = build_call_analyzer("auto", None, openai_server.base_url, MODEL, 10.0, 0)
    assert isinstance(analyzer, OpenAICallAnalyzer)
    try:
        result = await analyzer.analyze(BILLING)
    finally:
        await analyzer.aclose()
    assert result.provider == f"openai:{MODEL}"
    assert openai_server.requests[0]["model"] == MODEL


async def test_fake_server_lists_its_models(openai_server: FakeOpenAIServer) -> None:
    async with AsyncOpenAI(api_key="x", base_url=openai_server.base_url) as client:
        models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL]
