"""QA scorecards: each item by rules with its evidence, when an item applies, the score, a
custom scorecard, and the LLM judge against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.analysis.qa import DEFAULT_SCORECARD, QAScorer, Scorecard
from core.errors import InvalidInputError
from services.llm.qa import OpenAIQAJudge, checked_evidence, supported
from tests.support.openai_server import FakeOpenAIServer, Mode

pytest_plugins = ["tests.support.fixtures"]


def document(lines: list[tuple[str, str, float | None]], duration: float = 120.0) -> dict:
    """(role, text, customer sentiment score) per utterance, 10 s apart."""
    utterances = [
        {
            "index": i,
            "role": role,
            "start": 10.0 * i,
            "end": 10.0 * i + 8,
            "text": text,
            "sentiment": {"label": "negative", "score": score} if score is not None else None,
        }
        for i, (role, text, score) in enumerate(lines)
    ]
    return {
        "audio": {"duration_s": duration},
        "utterances": utterances,
        "analysis": {"conflict": {"detected": False}},
    }


GOOD = [
    ("agent", "Thank you for calling Contoso, how can I help?", None),
    ("customer", "My bill is wrong again and I am really annoyed.", -0.8),
    ("agent", "I'm so sorry to hear that. Can you confirm your date of birth?", None),
    ("customer", "March third, nineteen eighty.", None),
    ("agent", "Thanks. I understand, that must be frustrating.", None),
    ("agent", "I can refund the difference today.", None),
    ("customer", "Okay, thanks.", None),
    ("agent", "You're welcome. Is there anything else? Have a great day.", None),
]


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in result["items"]}


def test_a_good_call_passes_every_item_with_the_utterance_that_shows_it():
    result = QAScorer().score_by_rules(document(GOOD, duration=80.0))
    items = by_id(result)
    assert result["score"] == 100.0 and result["method"] == "rules"
    assert {k: v["evidence"]["utterance"] for k, v in items.items()} == {
        "greeting": 0,
        "identity_verification": 2,
        "empathy": 2,
        "apology": 2,
        "resolution_offered": 5,
        "closing": 7,
    }
    assert items["closing"]["evidence"]["text"].startswith("You're welcome")


def test_missing_items_fail_and_the_score_is_the_share_passed():
    lines = [
        ("agent", "Yes.", None),
        ("customer", "This is a disgrace.", -0.9),
        ("agent", "I can send a technician tomorrow.", None),
        ("customer", "Fine.", None),
    ]
    result = QAScorer().score_by_rules(document(lines, duration=40.0))
    items = by_id(result)
    assert [i for i, v in items.items() if v["passed"]] == ["resolution_offered"]
    assert items["apology"]["passed"] is False  # warranted: the customer was unhappy
    assert result["score"] == round(100 / 6, 1)


def test_an_apology_is_not_expected_when_the_customer_never_was_unhappy():
    lines = [(role, text, None) for role, text, _ in GOOD if "sorry" not in text.lower()]
    items = by_id(QAScorer().score_by_rules(document(lines, duration=80.0)))
    assert items["apology"]["passed"] is None and items["apology"]["evidence"] is None


def test_greeting_and_closing_count_only_in_their_time_windows():
    lines = [("customer", "Hello?", None)] * 4 + [("agent", "Thank you for calling.", None)]
    items = by_id(QAScorer().score_by_rules(document(lines, duration=300.0)))
    assert items["greeting"]["passed"] is False  # said at 40 s, after the first 30
    assert items["closing"]["passed"] is False  # said at 40 s of 300, not in the last 45


def test_a_custom_scorecard_from_a_file(tmp_path):
    path = tmp_path / "card.json"
    path.write_text(
        json.dumps(
            {
                "name": "retention",
                "items": [
                    {"id": "offer", "name": "Retention offer", "phrases": ["discount"]},
                    {"id": "greeting", "name": "Greeting", "phrases": ["hello"], "weight": 3},
                ],
            }
        )
    )
    card = Scorecard.load(path)
    lines = [("agent", "Hello there.", None), ("agent", "No offers, sorry.", None)]
    result = QAScorer(card).score_by_rules(document(lines))
    assert result["scorecard"] == "retention" and result["score"] == 75.0
    path.write_text('{"name": "x", "items": [{"id": "a"}]}')
    with pytest.raises(InvalidInputError, match="Not a QA scorecard"):
        Scorecard.load(path)
    assert Scorecard.load(None) is DEFAULT_SCORECARD


def judge(server: FakeOpenAIServer) -> OpenAIQAJudge:
    return OpenAIQAJudge(model="fake-analyst", base_url=server.base_url, max_retries=0)


async def test_with_a_server_the_llm_judges_each_item_from_the_transcript(openai_server):
    doc = document(GOOD, duration=80.0)
    result = await QAScorer(llm=judge(openai_server)).score(doc)
    assert result["method"] == "llm" and result["score"] == 100.0
    [request] = openai_server.requests
    sent = request["messages"][-1]["content"]
    assert "- greeting: Greeting." in sent and "[7] AGENT (): You're welcome" in sent
    assert by_id(result)["closing"]["evidence"]["utterance"] == 7


async def test_a_server_that_answers_nonsense_falls_back_to_the_rules(openai_server):
    openai_server.mode = Mode.GARBAGE
    result = await QAScorer(llm=judge(openai_server)).score(document(GOOD, duration=80.0))
    assert result["method"] == "rules (llm failed)" and result["score"] == 100.0


def test_model_evidence_counts_only_when_it_holds():
    doc = document(GOOD, duration=80.0)
    reply = {
        "greeting": {"line": 0, "quote": "Thank you for calling Contoso"},  # holds
        "identity_verification": {"line": 3, "quote": "March third"},  # the customer's line
        "empathy": {"line": 5, "quote": "that must be frustrating"},  # not in that line
        "apology": {"line": 99, "quote": "sorry"},  # no such line
        "resolution_offered": {"line": None, "quote": ""},  # the model: never done
        "closing": {"line": 0, "quote": "Thank you for calling"},  # not in the last 45 s
    }
    evidence = checked_evidence(DEFAULT_SCORECARD, reply, doc)
    assert evidence["greeting"] == 0
    assert evidence["resolution_offered"] is None  # the model's no is kept
    # evidence that does not hold is replaced by the rules' evidence for the item
    assert evidence["identity_verification"] == 2
    assert evidence["empathy"] == 2  # "sorry to hear that"
    assert evidence["apology"] == 2
    assert evidence["closing"] == 7


def test_a_quote_must_be_words_of_the_line():
    doc = document(GOOD, duration=80.0)
    item = next(i for i in DEFAULT_SCORECARD.items if i.id == "empathy")
    assert supported(item, 4, "I UNDERSTAND, that must be", doc)
    assert not supported(item, 4, "ok", doc)  # too short to show anything
    assert not supported(item, 4, "I understand how you feel", doc)
    assert not supported(item, True, "I understand", doc)
