"""OpenAICallAnalyzer against a real HTTP server: the fake OpenAI-compatible one on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import pytest
from openai import AsyncOpenAI

from core.domain import ProfanityHit, Resolution, Role, SentimentLabel
from core.errors import StageError
from services.llm import build_call_analyzer
from services.llm.openai_analyzer import OpenAICallAnalyzer
from services.llm.parsing import FIELDS
from services.llm.prompt import TASKS
from services.llm.rules_analyzer import analyze_conversation
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
            "fields": "all",  # every field asked, whatever the measured default
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
    assert result.profanity == [ProfanityHit(utterance=7, words=["damn"])]  # by rules
    assert result.provider == f"openai:{MODEL}"
    assert result.model == MODEL
    assert result.sources == {**dict.fromkeys(FIELDS, "model"), "profanity": "rules"}
    assert result.speaker_roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER}
    assert result.utterance_sentiment is not None
    assert result.utterance_sentiment[4] == SentimentLabel.NEGATIVE
    assert result.warnings == []


async def test_one_request_per_task_each_with_the_same_transcript_first(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    await make_analyzer().analyze(BILLING)
    assert len(openai_server.requests) == len(TASKS)
    users = [r["messages"][-1]["content"] for r in openai_server.requests]
    prefix = users[0].split("\n\nTask:\n")[0]
    assert all(u.startswith(prefix + "\n\nTask:\n") for u in users)
    for u in BILLING.utterances:
        assert f"[{u.index}] {u.role.value.upper()} ({u.speaker}): {u.text}" in prefix
    for request, task in zip(openai_server.requests, TASKS, strict=True):
        assert request["model"] == MODEL
        assert request["temperature"] == 0
        fmt = request["response_format"]
        assert fmt["type"] == "json_schema"
        assert fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"] == task.schema(None, None)
    assert openai_server.headers[0]["authorization"] == "Bearer not-needed"


async def test_only_the_chosen_fields_are_asked_and_the_rest_come_from_rules(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    result = await make_analyzer(fields="summary,sentiment").analyze(BILLING)
    assert len(openai_server.requests) == 2  # the summary task and the sentiment task
    assert result.summary.startswith("The customer opened with:")
    assert result.reason != FIRST_CUSTOMER_LINE or result.sources["reason"] == "rules"
    assert result.sources["summary"] == result.sources["sentiment"] == "model"
    assert {f for f, s in result.sources.items() if s == "rules"} == (
        set(FIELDS) - {"summary", "sentiment"} | {"profanity"}
    )
    assert result.speaker_roles is None  # roles were not the model's to decide
    assert result.warnings == []


async def test_a_call_too_long_for_one_request_is_analysed_in_parts(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    result = await make_analyzer(max_chunk_chars=400).analyze(BILLING)
    parts = [r for r in openai_server.requests if "This is part" in r["messages"][-1]["content"]]
    assert len(parts) > len(TASKS)  # every task on every part
    merge = openai_server.requests[-1]["messages"][-1]["content"]
    assert "The lines below are the summaries" in merge
    assert result.summary.startswith("Merged: The customer opened with:")
    assert result.reason == FIRST_CUSTOMER_LINE  # from the first part
    assert (result.conflict_detected, result.conflict_evidence) == (True, [4, 5])


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
    assert kinds == ["json_schema"] + ["json_object"] * len(TASKS)
    assert "schema" in openai_server.requests[1]["response_format"]  # llama.cpp's form
    await analyzer.analyze(BILLING)  # remembered: straight to json_object
    kinds = [r["response_format"]["type"] for r in openai_server.requests]
    assert kinds == ["json_schema"] + ["json_object"] * (2 * len(TASKS))


async def test_rejected_fallback_is_a_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.REJECT_ALL
    with pytest.raises(StageError, match="HTTP 400") as caught:
        await make_analyzer().analyze(BILLING)
    assert caught.value.stage == "llm"
    assert len(openai_server.requests) == 3  # json_schema, json_object + schema, json_object


async def test_server_error_is_retried_then_a_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.ERROR
    with pytest.raises(StageError, match="HTTP 500 after 2 retries") as caught:
        await make_analyzer(max_retries=2).analyze(BILLING)
    assert caught.value.stage == "llm"
    assert caught.value.code == "stage_failed"
    assert len(openai_server.requests) == 3


async def test_garbage_falls_back_to_rules_field_by_field_with_warnings(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.GARBAGE
    rules = analyze_conversation(BILLING)
    result = await make_analyzer(max_retries=2).analyze(BILLING)
    assert len(openai_server.requests) == len(TASKS)  # a 200 is not retried
    assert result.provider == f"openai:{MODEL}"
    assert set(result.sources.values()) == {"rules"}
    assert (result.summary, result.reason, result.resolution) == (
        rules.summary,
        rules.reason,
        rules.resolution,
    )
    assert len(result.warnings) == len(FIELDS)
    assert all("by rules" in w and "malformed or cut off" in w for w in result.warnings)


async def test_a_reply_cut_off_keeps_what_was_complete(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.TRUNCATED  # every reply cut inside its last field
    result = await make_analyzer().analyze(BILLING)
    assert result.reason == FIRST_CUSTOMER_LINE  # complete before the cut
    assert result.sources["reason"] == result.sources["summary"] == "model"
    # conflict_lines was cut: the verdict stands, without evidence
    assert (result.conflict_detected, result.conflict_evidence) == (True, [])
    # a reply with one field, cut inside it: nothing complete, so the rules answer
    assert result.sources["action_items"] == result.sources["sentiment"] == "rules"
    assert sorted(w.split()[1] for w in result.warnings) == ["action_items", "sentiment"]


async def test_a_body_that_is_no_completion_is_a_stage_error(
    openai_server: FakeOpenAIServer, make_analyzer: MakeAnalyzer
) -> None:
    openai_server.mode = Mode.GARBAGE_BODY
    with pytest.raises(StageError, match=r"reply without choices.*Bad Gateway") as caught:
        await make_analyzer(max_retries=2).analyze(BILLING)
    assert caught.value.stage == "llm"
    assert len(openai_server.requests) == 1


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
