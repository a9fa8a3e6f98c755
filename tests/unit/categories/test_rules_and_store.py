"""Custom categories: the rule model, each kind of condition, negation, and the store."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.categories.rules import (
    CategoryRule,
    matches,
    parse_conditions,
    parse_rule,
    tokens,
)
from core.categories.store import CategoryStore, CategoryTagger
from core.errors import InvalidInputError, NotFoundError
from core.persistence.repositories import CallRepository


def utterance(
    index: int, role: str, start: float, text: str, score: float | None = None, timed: bool = True
) -> dict[str, Any]:
    words = []
    if timed:
        words = [
            {"word": f" {w}", "start": start + i * 0.5, "end": start + i * 0.5 + 0.4}
            for i, w in enumerate(text.split())
        ]
    end = start + 0.5 * len(text.split())
    return {
        "index": index,
        "speaker": "S1" if role == "agent" else "S2",
        "role": role,
        "start": start,
        "end": end,
        "text": text,
        "sentiment": None if score is None else {"label": "x", "score": score},
        "words": words,
    }


def document(
    utterances: list[dict[str, Any]] | None = None,
    *,
    duration: float = 60.0,
    agent_mean: float | None = 0.2,
    customer_mean: float | None = -0.5,
    agent_interruptions: int = 0,
    customer_interruptions: int = 3,
    longest_silence: float = 4.0,
    non_talk: float = 12.0,
    trend: float | None = 0.6,
    call_id: str = "call-1",
) -> dict[str, Any]:
    return {
        "id": call_id,
        "filename": "call.wav",
        "created_at": "2026-01-01T00:00:00+00:00",
        "status": "succeeded",
        "language": "en",
        "audio": {"duration_s": duration, "sample_rate": 16000, "channels": 1, "codec": "pcm"},
        "speakers": [
            {
                "id": "S1",
                "role": "agent",
                "interruptions": agent_interruptions,
                "sentiment_mean": agent_mean,
            },
            {
                "id": "S2",
                "role": "customer",
                "interruptions": customer_interruptions,
                "sentiment_mean": customer_mean,
            },
        ],
        "utterances": utterances
        if utterances is not None
        else [
            utterance(0, "agent", 1.0, "Thank you for calling, how can I help?", 0.4),
            utterance(1, "customer", 5.0, "I want to CANCEL my account!", -0.8),
            utterance(2, "agent", 30.0, "I'm sorry to hear that.", 0.0),
            utterance(3, "customer", 55.0, "Don't call me again.", -0.2),
        ],
        "metrics": {
            "interruptions": agent_interruptions + customer_interruptions,
            "longest_silence_s": longest_silence,
            "non_talk_time_s": non_talk,
            "customer_sentiment_trend": trend,
        },
        "analysis": None,
    }


def check(conditions: list[dict[str, Any]], doc: dict[str, Any] | None = None) -> bool:
    return matches(parse_conditions(conditions), doc or document())


def phrase(*phrases: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "phrase", "phrases": list(phrases), **extra}


# ---------------------------------------------------------------------------- phrases
def test_tokens_lower_case_and_drop_punctuation():
    assert tokens("Don't CANCEL, my-account!") == ["dont", "cancel", "my", "account"]


@pytest.mark.parametrize(
    ("phrases", "expected"),
    [
        (["cancel my account"], True),
        (["CANCEL, my account."], True),  # case and punctuation do not matter
        (["cancel"], True),
        (["cancel account"], False),  # the words in a row, not scattered
        (["cancell"], False),
        (["ancel"], False),  # whole words only
        (["refund", "my account"], True),  # any of them
        (["dont call"], True),  # "Don't" said
        (["refund"], False),
    ],
)
def test_a_phrase_is_matched_as_whole_words(phrases, expected):
    assert check([phrase(*phrases)]) is expected


@pytest.mark.parametrize(
    ("role", "text", "expected"),
    [
        ("customer", "cancel", True),
        ("agent", "cancel", False),
        ("any", "cancel", True),
        ("agent", "how can i help", True),
        ("customer", "how can i help", False),
    ],
)
def test_a_phrase_is_matched_for_the_role_that_said_it(role, text, expected):
    assert check([phrase(text, role=role)]) is expected


@pytest.mark.parametrize(
    ("window", "text", "expected"),
    [
        ({"within_first_s": 10}, "cancel", True),  # said at 5 s
        ({"within_first_s": 5}, "cancel", False),  # "cancel" starts at 6.5 s
        ({"within_first_s": 7}, "cancel", True),
        ({"within_first_s": 10}, "call me again", False),  # said at 55 s
        ({"within_last_s": 10}, "call me again", True),  # the call ends at 60 s
        ({"within_last_s": 10}, "cancel", False),
        ({"within_last_s": 31}, "sorry", True),  # at 30.5 s: 30.9 > 60 - 31
        ({"within_last_s": 29}, "sorry", False),
    ],
)
def test_a_phrase_can_be_limited_to_the_start_or_the_end_of_the_call(window, text, expected):
    assert check([phrase(text, **window)]) is expected


def test_the_call_ends_at_its_last_utterance_when_that_is_after_the_audio():
    doc = document(duration=20.0)  # the last utterance ends at 57 s
    assert check([phrase("call me again", within_last_s=5)], doc)
    assert not check([phrase("sorry", within_last_s=5)], doc)


def test_utterances_without_word_timestamps_use_their_own_span():
    doc = document(
        [
            utterance(0, "customer", 2.0, "please cancel it now", timed=False),
            utterance(1, "customer", 40.0, "goodbye then", timed=False),
        ],
        duration=42.0,
    )
    assert check([phrase("cancel", within_first_s=3)], doc)  # the utterance starts at 2 s
    assert not check([phrase("cancel", within_last_s=5)], doc)
    assert check([phrase("goodbye", within_last_s=5)], doc)


def test_words_that_do_not_line_up_with_the_text_fall_back_to_the_utterance_span():
    u = utterance(0, "customer", 10.0, "cancel my account")
    u["text"] = "[REDACTED] cancel my account"  # the text changed after the words were timed
    doc = document([u], duration=20.0)
    assert check([phrase("cancel my account", within_first_s=10.5)], doc)
    assert not check([phrase("cancel my account", within_first_s=9)], doc)


# ---------------------------------------------------------------------------- sentiment
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"subject": "customer", "below": -0.3}, True),  # -0.5
        ({"subject": "customer", "below": -0.6}, False),
        ({"subject": "customer", "above": -0.6, "below": -0.4}, True),
        ({"subject": "agent", "above": 0.1}, True),  # 0.2
        ({"subject": "agent", "below": 0.1}, False),
        ({"subject": "overall", "below": -0.1}, True),  # (0.4 - 0.8 + 0 - 0.2) / 4 = -0.15
        ({"subject": "overall", "below": -0.2}, False),
        ({"subject": "customer", "measure": "change", "above": 0.5}, True),  # trend 0.6
        ({"subject": "customer", "measure": "change", "below": 0}, False),
    ],
)
def test_sentiment_conditions(condition, expected):
    assert check([{"kind": "sentiment", **condition}]) is expected


def test_a_missing_sentiment_never_holds_and_its_negation_always_does():
    doc = document(customer_mean=None, trend=None)
    assert not check([{"kind": "sentiment", "below": 1}], doc)
    assert not check([{"kind": "sentiment", "above": -1}], doc)
    assert check([{"kind": "sentiment", "below": 1, "negate": True}], doc)
    assert not check([{"kind": "sentiment", "measure": "change", "above": -1}], doc)


# ---------------------------------------------------------------------------- metrics
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"at_least": 3}, True),  # 3 in all
        ({"at_least": 4}, False),
        ({"role": "customer", "at_least": 3}, True),
        ({"role": "agent", "at_least": 1}, False),
    ],
)
def test_interruption_conditions(condition, expected):
    assert check([{"kind": "interruptions", **condition}]) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"over_s": 3.5}, True),  # longest 4 s
        ({"over_s": 4}, False),  # over, not equal
        ({"measure": "total", "over_s": 10}, True),  # 12 s
        ({"measure": "total", "over_s": 12.5}, False),
    ],
)
def test_silence_conditions(condition, expected):
    assert check([{"kind": "silence", **condition}]) is expected


# ---------------------------------------------------------------------------- negation, AND
@pytest.mark.parametrize(
    "condition",
    [
        phrase("cancel"),
        phrase("refund"),
        phrase("cancel", role="agent"),
        phrase("cancel", within_first_s=2),
        {"kind": "sentiment", "below": -0.3},
        {"kind": "sentiment", "measure": "change", "above": 0.9},
        {"kind": "interruptions", "at_least": 3},
        {"kind": "interruptions", "role": "agent", "at_least": 1},
        {"kind": "silence", "over_s": 1},
        {"kind": "silence", "measure": "total", "over_s": 100},
    ],
)
def test_a_negated_condition_holds_exactly_when_the_condition_does_not(condition):
    assert check([{**condition, "negate": True}]) is (not check([condition]))


def test_every_condition_must_hold():
    cancel, calm = phrase("cancel", role="customer"), {"kind": "sentiment", "above": 0}
    assert check([cancel])
    assert not check([cancel, calm])
    assert check([cancel, {**calm, "negate": True}])


def test_an_empty_call_matches_only_negated_conditions():
    doc = document([], agent_mean=None, customer_mean=None, trend=None)
    assert not check([phrase("hello")], doc)
    assert check([phrase("hello", negate=True)], doc)


# ---------------------------------------------------------------------------- validation
def rule(**overrides: Any) -> dict[str, Any]:
    return {"name": "risk", "conditions": [phrase("cancel")], **overrides}


def test_a_name_is_stored_lower_case():
    assert CategoryRule.model_validate(rule(name=" Churn-Risk_2 ")).name == "churn-risk_2"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (rule(name="no spaces"), "name"),
        (rule(name="x" * 101), "name"),
        (rule(conditions=[]), "conditions"),
        (rule(conditions=[{"kind": "mood"}]), "does not match any of the expected tags"),
        (rule(conditions=[{"phrases": ["x"]}]), "Unable to extract tag"),
        (rule(conditions=[phrase()]), "phrases"),
        (rule(conditions=[phrase("!!")]), "has no words"),
        (rule(conditions=[phrase("x", role="boss")]), "role"),
        (rule(conditions=[phrase("x", within_first_s=5, within_last_s=5)]), "not both"),
        (rule(conditions=[phrase("x", within_first_s=0)]), "within_first_s"),
        (rule(conditions=[{"kind": "sentiment"}]), "give below, above or both"),
        (rule(conditions=[{"kind": "sentiment", "above": 0.5, "below": 0.1}]), "above must"),
        (
            rule(
                conditions=[
                    {"kind": "sentiment", "subject": "agent", "measure": "change", "below": 0}
                ]
            ),
            "only known for the customer",
        ),
        (rule(conditions=[{"kind": "interruptions", "at_least": 0}]), "at_least"),
        (rule(conditions=[{"kind": "silence"}]), "over_s"),
        (rule(conditions=[{"kind": "silence", "over_s": 5, "longest": True}]), "Extra inputs"),
    ],
)
def test_bad_rules_are_refused_with_what_is_wrong(data, message):
    with pytest.raises(ValidationError):
        CategoryRule.model_validate(data)
    with pytest.raises(InvalidInputError) as error:
        parse_rule(data)
    assert message in error.value.message


# ---------------------------------------------------------------------------- the store
@pytest.fixture
def database(tmp_path):
    from tests.support.databases import temp_database

    with temp_database("sqlite", tmp_path) as db:
        yield db


def store_call(database, doc: dict[str, Any]) -> None:
    with database.session() as session:
        CallRepository(session).add(
            doc,
            content_sha256="0" * 64,
            audio_path=None,
            job_id=None,
            call_vector=None,
            utterance_vectors=None,
        )


def test_the_store_tags_new_calls_applies_to_stored_ones_and_forgets_deleted_ones(database):
    store = CategoryStore(database)
    angry = document(call_id="angry")
    happy = document(
        [utterance(0, "customer", 1.0, "thanks a lot", 0.9)], customer_mean=0.9, call_id="happy"
    )
    store_call(database, angry)
    risk = store.create(parse_rule(rule(name="Risk")), "alice")
    assert (risk.name, risk.created_by, risk.calls) == ("risk", "alice", 0)  # not applied yet

    result = store.apply(risk.id)
    assert (result.scanned, result.matched) == (1, 1)
    assert store.names_for(["angry"]) == {"angry": ["risk"]}

    store_call(database, happy)
    tagger = CategoryTagger(database)
    tagger.job_ended("analyze", "succeeded", 1.0, happy)
    tagger.job_ended("analyze", "failed", 1.0, None)
    assert store.names_for(["angry", "happy"]) == {"angry": ["risk"]}
    thanks = store.create(parse_rule(rule(name="thanks", conditions=[phrase("thanks")])))
    assert store.tag_call("happy", happy) == ["thanks"]
    assert {c.name: c.calls for c in store.list()} == {"risk": 1, "thanks": 1}

    store.update(risk.id, parse_rule(rule(name="risk", conditions=[phrase("thanks")])))
    assert store.get(risk.id).calls == 1  # unchanged until applied
    assert store.apply(risk.id).matched == 1
    assert store.names_for(["angry", "happy"]) == {"happy": ["risk", "thanks"]}

    store.delete(thanks.id)
    assert store.names_for(["happy"]) == {"happy": ["risk"]}
    with pytest.raises(NotFoundError):
        store.get(thanks.id)
    with pytest.raises(InvalidInputError, match="already exists"):
        store.create(parse_rule(rule(name="RISK")))
