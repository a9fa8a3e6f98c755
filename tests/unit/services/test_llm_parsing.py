"""Reading a model's reply (no server): JSON extraction, cut-off replies, field-by-field
reading, index and speaker checks, grounding of action items, and the prompt's shape."""

from __future__ import annotations

import json

import pytest

from core.domain import Resolution, Role, SentimentLabel
from services.llm.openai_analyzer import merge_chunks, parse_fields
from services.llm.parsing import FIELDS, ModelReply, ReplyError, extract_json, read_reply
from services.llm.prompt import (
    ACTION_ITEMS,
    FACTS,
    SENTIMENT,
    SUMMARY,
    TASKS,
    chunk_utterances,
    task_messages,
    tasks_for,
    transcript_prefix,
    utterance_line,
)
from tests.support import scripts
from tests.support.conversations import make_conversation

KNOWN = set(range(8))
SPEAKERS = {"S1", "S2"}
REPLY = {
    "reason": "The customer was charged twice.",
    "speakers": [{"speaker": "S1", "role": "agent"}, {"speaker": "S2", "role": "customer"}],
    "resolution": "unresolved",
    "conflict": True,
    "conflict_lines": [4, 5],
    "action_items": [{"owner": "agent", "action": "escalate to billing", "due": "today"}],
    "sentiment": ["0 neutral", "1 negative", "2 neutral", "3 positive"],
    "summary": "A customer disputed a double charge; billing must approve the refund.",
    "topics": ["billing", "refund"],
    "other_topics": ["double charge"],
}


@pytest.mark.parametrize(
    "content",
    [
        json.dumps(REPLY),
        f"```json\n{json.dumps(REPLY)}\n```",
        f"Sure! Here it is:\n```\n{json.dumps(REPLY, indent=2)}\n```\nAnything else?",
        f"<think>The customer is angry {{not json}}</think>\n{json.dumps(REPLY)}",
        f"Analysis: {json.dumps(REPLY)} -- end",
    ],
)
def test_extract_json_bare_fenced_wrapped(content: str) -> None:
    assert extract_json(content) == REPLY


@pytest.mark.parametrize("content", ["", "no json here", "[1, 2, 3]", "{broken: json"])
def test_extract_json_rejects_non_objects(content: str) -> None:
    with pytest.raises(ReplyError):
        extract_json(content)


def test_a_reply_cut_off_at_the_token_limit_keeps_its_complete_fields() -> None:
    whole = json.dumps(REPLY)
    cut = whole[: whole.index('"summary"') + 30]  # inside the summary string
    data = extract_json(cut)
    assert data["reason"] == REPLY["reason"]
    assert data["sentiment"] == REPLY["sentiment"]
    assert "summary" not in data and "topics" not in data
    reply = read_reply(data, KNOWN, SPEAKERS)
    assert reply.summary is None and reply.topics is None
    assert reply.problems["summary"] == "missing from the reply"
    assert reply.resolution == Resolution.UNRESOLVED


def test_every_field_is_read() -> None:
    reply = read_reply(REPLY, KNOWN, SPEAKERS)
    assert reply.answered() == list(FIELDS)
    assert reply.reason == "The customer was charged twice."
    assert reply.roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER}
    assert reply.conflict == (True, [4, 5])
    assert reply.action_items == ["agent: escalate to billing today"]
    assert reply.topics == ["billing", "refund", "double charge"]
    assert reply.sentiment is not None
    assert reply.sentiment[1] == SentimentLabel.NEGATIVE
    assert reply.sentiment[3] == SentimentLabel.POSITIVE
    assert reply.sentiment[7] == SentimentLabel.NEUTRAL  # lines not labelled: neutral
    assert reply.problems == {}


def test_a_bad_field_costs_only_that_field() -> None:
    reply = read_reply(
        {**REPLY, "resolution": "partly", "summary": "   ", "speakers": [{"speaker": "S9"}]},
        KNOWN,
        SPEAKERS,
    )
    assert reply.resolution is None and "partly" in reply.problems["resolution"]
    assert reply.summary is None and "empty" in reply.problems["summary"]
    assert reply.roles is None and "no known speaker" in reply.problems["roles"]
    assert reply.reason == REPLY["reason"]
    assert reply.conflict == (True, [4, 5])


def test_indexes_and_speakers_the_transcript_does_not_have_are_dropped() -> None:
    reply = read_reply(
        {
            **REPLY,
            "conflict_lines": [5, 999, 4, -1, 5],
            "sentiment": [
                "1 negative",
                "42 negative",
                "2 furious",
                {"line": 3, "sentiment": "positive"},
            ],
            "speakers": [{"speaker": "S1", "role": "agent"}, {"speaker": "S7", "role": "agent"}],
        },
        KNOWN,
        SPEAKERS,
    )
    assert reply.conflict == (True, [4, 5])
    assert reply.sentiment is not None
    assert {i for i, s in reply.sentiment.items() if s != SentimentLabel.NEUTRAL} == {1, 3}
    assert reply.roles == {"S1": Role.AGENT}


def test_json_object_drift_is_read_leniently() -> None:
    reply = read_reply(
        {
            **REPLY,
            "resolution": "Resolved.",
            "conflict": {"detected": True, "evidence": [4]},
            "action_items": "Call the customer back",
            "topics": "refund",
        },
        KNOWN,
        SPEAKERS,
    )
    assert reply.resolution == Resolution.RESOLVED
    assert reply.conflict == (True, [4])
    assert reply.action_items == ["Call the customer back"]
    assert reply.topics == ["refund", "double charge"]


def test_no_conflict_means_no_evidence() -> None:
    reply = read_reply({**REPLY, "conflict": False, "conflict_lines": [4]}, KNOWN, SPEAKERS)
    assert reply.conflict == (False, [])


def test_action_items_the_call_never_mentions_are_dropped() -> None:
    items = [
        {"owner": "agent", "action": "email the refund confirmation", "due": "today"},
        {"owner": "customer", "action": "upload the passport scan", "due": "by Friday"},
    ]
    transcript = "I'll email you the refund confirmation today, is that all right?"
    reply = read_reply({**REPLY, "action_items": items}, KNOWN, SPEAKERS, transcript)
    assert reply.action_items == ["agent: email the refund confirmation today"]


def test_fields_setting() -> None:
    assert parse_fields("all") == frozenset((*FIELDS, "qa"))
    assert parse_fields("qa,summary") == {"qa", "summary"}
    assert parse_fields("none") == frozenset()
    assert parse_fields(" summary , sentiment") == {"summary", "sentiment"}
    with pytest.raises(ValueError, match="unknown LLM field"):
        parse_fields("summary,mood")


def test_tasks_cover_every_field_once() -> None:
    covered = [f for t in TASKS for f in t.fields]
    assert sorted(covered) == sorted(FIELDS)
    assert tasks_for(frozenset({"summary"})) == [SUMMARY]
    assert tasks_for(frozenset({"sentiment", "reason"})) == [FACTS, SENTIMENT]


def test_every_task_shares_the_transcript_prefix() -> None:
    conversation = make_conversation(scripts.CALM)
    assert utterance_line(conversation.utterances[1]) == (
        "[1] CUSTOMER (S2): Hi, I'd like to change my booking to a later flight on Tuesday."
    )
    prefix = transcript_prefix(conversation, conversation.utterances, 10_000)
    first = task_messages(prefix, FACTS)
    second = task_messages(prefix, ACTION_ITEMS)
    assert first[0] == second[0] and "JSON" in first[0]["content"]  # json_object needs it
    assert first[1]["content"].startswith(prefix) and second[1]["content"].startswith(prefix)
    assert "[0] AGENT (S1): Hello, Tailspin Travel, how can I help?" in prefix


def test_grammar_schemas_pin_one_label_per_line_and_the_speakers() -> None:
    sentiment = SENTIMENT.schema([3, 4], ["A", "B"])["properties"]["sentiment"]
    assert [item["enum"] for item in sentiment["prefixItems"]] == [
        ["3 neutral", "3 positive", "3 negative"],
        ["4 neutral", "4 positive", "4 negative"],
    ]
    speakers = FACTS.schema([3], ["A", "B"])["properties"]["speakers"]["prefixItems"]
    assert [s["properties"]["speaker"]["const"] for s in speakers] == ["A", "B"]
    strict = SENTIMENT.schema(None, None)["properties"]["sentiment"]  # OpenAI's subset
    assert "prefixItems" not in strict and strict["items"]["type"] == "object"


def test_long_calls_are_cut_into_chunks_of_whole_utterances() -> None:
    lines = [("customer" if i % 2 else "agent", f"Line {i} " + "x" * 50, 0.0) for i in range(200)]
    utterances = make_conversation(lines).utterances
    chunks = chunk_utterances(utterances, max_chars=2_000)
    assert len(chunks) > 1
    assert [u.index for c in chunks for u in c] == list(range(200))
    assert all(sum(len(utterance_line(u)) + 1 for u in c) <= 2_000 for c in chunks)
    assert len(chunk_utterances(utterances, max_chars=1_000_000)) == 1


def test_chunk_replies_merge_reason_first_outcome_last() -> None:
    first = ModelReply(
        reason="The customer wants a refund.",
        resolution=Resolution.UNKNOWN,
        conflict=(False, []),
        action_items=["agent: check the account"],
        topics=["refund"],
        sentiment={0: SentimentLabel.NEUTRAL},
        roles={"S1": Role.AGENT},
    )
    second = ModelReply(
        reason="Something else.",
        resolution=Resolution.RESOLVED,
        conflict=(True, [9]),
        action_items=["agent: check the account", "agent: email the receipt"],
        topics=["refund", "billing"],
        sentiment={9: SentimentLabel.NEGATIVE},
        roles={"S1": Role.CUSTOMER, "S2": Role.CUSTOMER},
    )
    merged = merge_chunks([first, second])
    assert merged.reason == "The customer wants a refund."
    assert merged.resolution == Resolution.RESOLVED
    assert merged.conflict == (True, [9])
    assert merged.action_items == ["agent: check the account", "agent: email the receipt"]
    assert merged.topics == ["refund", "billing"]
    assert merged.sentiment == {0: SentimentLabel.NEUTRAL, 9: SentimentLabel.NEGATIVE}
    assert merged.roles == {"S1": Role.AGENT, "S2": Role.CUSTOMER}
