"""Reading an LLM's reply (no server): JSON extraction, leniency, index checks, the prompt."""

from __future__ import annotations

import json

import pytest

from core.domain import ProfanityHit, Resolution
from services.llm.parsing import ReplyError, extract_json, parse_reply, to_analysis
from services.llm.prompt import build_messages, render_transcript, utterance_line
from tests.support import scripts
from tests.support.conversations import make_conversation

REPLY = {
    "summary": "Customer wanted a refund.",
    "topics": ["refund", "billing"],
    "reason": "Double charge.",
    "resolution": "unresolved",
    "conflict": {"detected": True, "evidence": [4, 5]},
    "profanity": [{"utterance": 7, "words": ["damn"]}],
    "action_items": ["Escalate to billing"],
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


def test_parse_reply_is_lenient_where_json_object_replies_drift() -> None:
    reply = parse_reply(
        json.dumps(
            {
                "summary": "S",
                "topics": "refund",
                "reason": None,
                "resolution": "Resolved.",
                "conflict": True,
                "profanity": None,
                "action_items": "Call back",
                "extra": 1,
            }
        )
    )
    assert reply.topics == ["refund"]
    assert reply.reason == ""
    assert reply.resolution == Resolution.RESOLVED
    assert reply.conflict.detected is True
    assert reply.profanity == []
    assert reply.action_items == ["Call back"]


def test_parse_reply_unknown_resolution_and_missing_summary() -> None:
    assert parse_reply('{"summary": "S", "resolution": "partly"}').resolution == (
        Resolution.UNKNOWN
    )
    with pytest.raises(ReplyError, match="summary"):
        parse_reply('{"topics": ["x"]}')


def test_to_analysis_keeps_only_known_indexes_and_merges_hits() -> None:
    reply = parse_reply(
        json.dumps(
            {
                **REPLY,
                "topics": ["Refund", "refund", " billing  issue ", ""],
                "conflict": {"detected": True, "evidence": [5, 999, 4, -1, 5]},
                "profanity": [
                    {"utterance": 7, "words": ["damn"]},
                    {"utterance": 7, "words": ["hell", "damn"]},
                    {"utterance": 42, "words": ["crap"]},
                    {"utterance": 2, "words": [" "]},
                ],
            }
        )
    )
    result = to_analysis(reply, known={0, 1, 2, 3, 4, 5, 6, 7}, provider="openai:m")
    assert result.conflict_evidence == [4, 5]
    assert result.profanity == [ProfanityHit(utterance=7, words=["damn", "hell"])]
    assert result.topics == ["Refund", "billing issue"]
    assert result.provider == "openai:m"


def test_to_analysis_drops_evidence_when_no_conflict() -> None:
    reply = parse_reply(json.dumps({**REPLY, "conflict": {"detected": False, "evidence": [4]}}))
    result = to_analysis(reply, known={4}, provider="p")
    assert (result.conflict_detected, result.conflict_evidence) == (False, [])


def test_transcript_lines_are_numbered_with_role_and_speaker() -> None:
    conversation = make_conversation(scripts.CALM)
    assert utterance_line(conversation.utterances[1]) == (
        "[1] CUSTOMER (S2): Hi, I'd like to change my booking to a later flight on Tuesday."
    )
    messages = build_messages(conversation, conversation.utterances, max_chars=10_000)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[0] AGENT (S1): Hello, Tailspin Travel, how can I help?" in messages[1]["content"]
    assert "JSON" in messages[0]["content"]  # json_object mode requires the word


def test_long_transcripts_keep_the_start_and_the_end() -> None:
    lines = [
        ("customer" if i % 2 else "agent", f"Line number {i} " + "x" * 50, 0.0) for i in range(200)
    ]
    utterances = make_conversation(lines).utterances
    text = render_transcript(utterances, max_chars=2_000)
    assert len(text) <= 2_000
    assert text.startswith("[0] AGENT")
    assert text.splitlines()[-1].startswith("[199] CUSTOMER")
    assert "utterances omitted)" in text
    kept = [line for line in text.splitlines() if line.startswith("[") and "omitted" not in line]
    (marker,) = [line for line in text.splitlines() if "omitted" in line]
    omitted = int(marker.split("(")[1].split()[0])
    assert len(kept) > 10
    assert len(kept) + omitted == 200


def test_short_transcripts_are_sent_whole() -> None:
    utterances = make_conversation(scripts.CALM).utterances
    text = render_transcript(utterances, max_chars=10_000)
    assert text.splitlines() == [utterance_line(u) for u in utterances]
