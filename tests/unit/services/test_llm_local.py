"""The rule-based call analyzer over hand-written calls."""

from __future__ import annotations

import copy

import pytest

from core.domain import CallAnalysis, ProfanityHit, Resolution
from core.ports import CallAnalyzer
from services.llm.profanity import profane_words
from services.llm.rules import detect_conflict, find_action_items, find_reason, judge_resolution
from services.llm.rules_analyzer import LocalCallAnalyzer, analyze_conversation
from services.llm.topics import extract_topics
from tests.support import scripts
from tests.support.conversations import make_conversation, transcript_text

ALL_SCRIPTS = {
    "resolved_internet": scripts.RESOLVED_INTERNET,
    "unresolved_billing": scripts.UNRESOLVED_BILLING,
    "profane": scripts.PROFANE,
    "calm": scripts.CALM,
}


def analyze(lines) -> CallAnalysis:
    return analyze_conversation(make_conversation(lines))


def words(text: str) -> list[str]:
    return [w.word for w in profane_words(text)]


# ------------------------------------------------------------------------ profanity


def test_profanity_hits_per_utterance_including_masked_words() -> None:
    assert analyze(scripts.PROFANE).profanity == [
        ProfanityHit(utterance=1, words=["f***ing", "bullshit"]),
        ProfanityHit(utterance=3, words=["hell", "sh*t"]),
        ProfanityHit(utterance=5, words=["damn"]),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DAMN! This is crap.", ["damn", "crap"]),
        ("He's a f**king a**hole, f**k.", ["f**king", "a**hole", "f**k"]),
        ("Shit, the bastards pissed me off", ["shit", "bastards", "pissed"]),
        ("Motherfucker's phone", ["motherfucker"]),
        ("It's \u201cbullshit\u201d, honestly", ["bullshit"]),
    ],
)
def test_profanity_whole_words_inflections_and_masks(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I live in Scunthorpe.",
        "I travel first class and they assess the passage.",
        "Hello, the shell of my phone cracked; see the classic assistant.",
        "Rated 5* and *** stars, see footnote*.",
        "Dickens wrote about the cocktail hour in Essex.",
    ],
)
def test_profanity_no_false_hits_inside_words(text: str) -> None:
    assert words(text) == []


def test_profanity_each_word_once_per_utterance() -> None:
    assert words("damn damn DAMN") == ["damn"]


# ------------------------------------------------------------------------- conflict


def test_conflict_evidence_is_the_hostile_and_angry_turns() -> None:
    conversation = make_conversation(scripts.UNRESOLVED_BILLING)
    assert detect_conflict(conversation.utterances) == (True, [4, 5, 7])


def test_conflict_includes_agent_deescalation_and_strong_profanity() -> None:
    detected, evidence = detect_conflict(make_conversation(scripts.PROFANE).utterances)
    assert detected
    assert evidence == [1, 3, 4]  # swearing customer twice; "Please don't swear" by the agent


def test_conflict_from_sentiment_alone_needs_several_negative_turns() -> None:
    one = [
        ("agent", "How can I help?", 0.1),
        ("customer", "My order arrived broken again.", -0.8),
        ("agent", "I will send a replacement today.", 0.2),
    ]
    two = [*one, ("customer", "This keeps happening, every single order.", -0.7)]
    assert detect_conflict(make_conversation(one).utterances) == (False, [])
    assert detect_conflict(make_conversation(two).utterances) == (True, [1, 3])


def test_no_conflict_in_a_calm_call() -> None:
    result = analyze(scripts.CALM)
    assert (result.conflict_detected, result.conflict_evidence) == (False, [])


# ----------------------------------------------------------------------- resolution


def test_resolution_of_resolved_and_unresolved_calls() -> None:
    assert analyze(scripts.RESOLVED_INTERNET).resolution == Resolution.RESOLVED
    assert analyze(scripts.UNRESOLVED_BILLING).resolution == Resolution.UNRESOLVED


def test_resolution_still_not_working_is_unresolved() -> None:
    lines = [
        ("agent", "Please restart the modem.", 0.0),
        ("customer", "Done.", 0.0),
        ("agent", "Is there anything else I can help with?", 0.2),
        ("customer", "It's still not working, it didn't help at all.", -0.6),
    ]
    assert judge_resolution(make_conversation(lines).utterances) == Resolution.UNRESOLVED


def test_resolution_unknown_without_signals() -> None:
    lines = [
        ("agent", "Good morning.", 0.0),
        ("customer", "I have a question about my statement.", 0.0),
        ("agent", "Sure, the statement shows last month's usage.", 0.0),
        ("customer", "I see.", 0.0),
    ]
    assert judge_resolution(make_conversation(lines).utterances) == Resolution.UNKNOWN


def test_resolution_follows_final_customer_sentiment_when_phrases_are_silent() -> None:
    base = [
        ("agent", "The engineer visit is booked for Monday.", 0.1),
        ("customer", "Okay.", 0.0),
        ("agent", "He will bring the new part.", 0.1),
    ]
    happy = [*base, ("customer", "Wonderful, I'm really pleased.", 0.9)]
    angry = [*base, ("customer", "Monday? I'm really unhappy about that.", -0.8)]
    assert judge_resolution(make_conversation(happy).utterances) == Resolution.RESOLVED
    assert judge_resolution(make_conversation(angry).utterances) == Resolution.UNRESOLVED


# --------------------------------------------------------------------------- reason


def test_reason_is_the_customers_stated_need_without_fillers() -> None:
    reason, index = find_reason(make_conversation(scripts.RESOLVED_INTERNET).utterances)
    assert index == 1
    assert reason == (
        "I'm calling because my internet has been down since yesterday evening "
        "and the router light keeps blinking red."
    )


def test_reason_skips_greetings_and_finds_the_need_later() -> None:
    lines = [
        ("agent", "Hello, Acme Bank.", 0.1),
        ("customer", "Hello? Hi.", 0.0),
        ("agent", "Hi, how can I help?", 0.1),
        ("customer", "Well, I need to report my debit card as stolen. It was in my bag.", -0.3),
    ]
    reason, index = find_reason(make_conversation(lines).utterances)
    assert (reason, index) == ("I need to report my debit card as stolen.", 3)


def test_reason_adds_the_next_sentence_to_a_short_need() -> None:
    lines = [("customer", "I need help. My password reset link never works.", -0.2)]
    reason, _ = find_reason(make_conversation(lines).utterances)
    assert reason == "I need help. My password reset link never works."


def test_reason_is_empty_without_customer_speech() -> None:
    lines = [("agent", "Hello? Is anyone there?", 0.0)]
    assert find_reason(make_conversation(lines).utterances) == ("", None)


# --------------------------------------------------------------------- action items


def test_action_items_are_commitments_with_who_said_them() -> None:
    assert analyze(scripts.RESOLVED_INTERNET).action_items == [
        "Agent: I'll send you a confirmation email with the ticket reference."
    ]
    assert analyze(scripts.PROFANE).action_items == [
        "Agent: I'll arrange a replacement and you should receive it by Friday.",
        "Agent: Please email us a photo of your receipt.",
    ]


def test_action_items_escalation_and_callback() -> None:
    items = analyze(scripts.UNRESOLVED_BILLING).action_items
    assert items == [
        "Agent: I'm going to escalate this to the billing team and someone will call you "
        "back within 48 hours."
    ]


def test_action_items_skip_offers_and_plain_statements() -> None:
    lines = [
        ("agent", "Would you like me to send you the form?", 0.1),
        ("customer", "I sent it last week already.", 0.0),
        (
            "agent",
            "Okay, we will call you back tomorrow morning, and you will receive "
            "a text before we do.",
            0.1,
        ),
    ]
    assert find_action_items(make_conversation(lines).utterances) == [
        "Agent: We will call you back tomorrow morning, and you will receive a text before we do."
    ]
    assert analyze(scripts.CALM).action_items == []


# --------------------------------------------------------------------------- topics


def test_topics_from_the_lexicon() -> None:
    assert analyze(scripts.UNRESOLVED_BILLING).topics == ["billing", "refund"]
    assert set(analyze(scripts.RESOLVED_INTERNET).topics) >= {"outage", "technical support"}
    assert analyze(scripts.PROFANE).topics[0] == "delivery"


def test_topics_fall_back_to_repeated_keywords() -> None:
    lines = [
        ("customer", "I need to register the microchip for my new puppy.", 0.2),
        ("agent", "Sure, what is the microchip number on the puppy's papers?", 0.1),
        ("customer", "The microchip number is 9851.", 0.0),
    ]
    topics = extract_topics(make_conversation(lines).utterances)
    assert "microchip" in " ".join(topics)
    assert 1 <= len(topics) <= 5


def test_keyword_topics_skip_names() -> None:
    lines = [
        ("agent", "This is Dana at Litware, hello.", 0.2),
        ("customer", "Hi Dana, the microchip scanner at Litware shows no microchip.", -0.2),
        ("agent", "Dana here again: the microchip scanner needs a reset.", 0.0),
    ]
    topics = extract_topics(make_conversation(lines).utterances)
    assert "microchip scanner" in topics
    assert not {"dana", "litware"} & {w for t in topics for w in t.split()}


def test_topic_phrases_match_whole_words_only() -> None:
    lines = [
        ("customer", "I'm happy the shipping applies separately, spinning wheels aside.", 0.4),
        ("customer", "Happy, happy: shipping shipping.", 0.4),
    ]
    topics = extract_topics(make_conversation(lines).utterances)
    assert "delivery" in topics  # "shipping"
    assert not {"technical support", "card", "pricing"} & set(topics)  # app, pin, rate inside


@pytest.mark.parametrize("name", sorted(ALL_SCRIPTS))
def test_topics_count_is_one_to_five(name: str) -> None:
    assert 1 <= len(analyze(ALL_SCRIPTS[name]).topics) <= 5


# -------------------------------------------------------------------------- summary


@pytest.mark.parametrize("name", sorted(ALL_SCRIPTS))
def test_summary_is_a_short_extract(name: str) -> None:
    conversation = make_conversation(ALL_SCRIPTS[name])
    result = analyze_conversation(conversation)
    assert result.summary.strip()
    assert len(result.summary) < len(transcript_text(conversation))
    assert result.reason in result.summary
    assert "Outcome:" in result.summary


def test_summary_quotes_the_agents_key_response_and_the_outcome() -> None:
    summary = analyze(scripts.RESOLVED_INTERNET).summary
    assert "Agent: I have reset your connection from our end" in summary
    assert "Outcome: resolved" in summary
    assert "That fixed it" in summary
    assert "How can I help" not in summary


def test_summary_mentions_tension_with_its_evidence() -> None:
    assert "(utterances 4, 5, 7)" in analyze(scripts.UNRESOLVED_BILLING).summary
    assert "tense" not in analyze(scripts.CALM).summary


# ---------------------------------------------------------------- analyzer contract


async def test_analyzer_is_a_call_analyzer_and_says_it_is_rules() -> None:
    analyzer = LocalCallAnalyzer()
    assert isinstance(analyzer, CallAnalyzer)
    await analyzer.load()
    info = analyzer.info()
    assert (info.backend, info.engine) == ("local", "rules")
    result = await analyzer.analyze(make_conversation(scripts.CALM))
    assert result.provider == "rules"
    assert set(result.sources.values()) == {"rules"}
    assert result.resolution == Resolution.RESOLVED


@pytest.mark.parametrize("name", sorted(ALL_SCRIPTS))
async def test_same_input_same_output(name: str) -> None:
    conversation = make_conversation(ALL_SCRIPTS[name])
    first = await LocalCallAnalyzer().analyze(conversation)
    second = await LocalCallAnalyzer().analyze(copy.deepcopy(conversation))
    assert first == second


async def test_empty_conversation() -> None:
    result = await LocalCallAnalyzer().analyze(make_conversation([]))
    assert result.summary == "The call has no transcribed speech."
    assert (result.topics, result.reason, result.resolution) == ([], "", Resolution.UNKNOWN)
    assert (result.profanity, result.action_items, result.conflict_detected) == ([], [], False)


def test_unlabelled_roles_still_give_a_reason_and_profanity() -> None:
    lines = [
        ("unknown", "Thanks for calling, how can I help?", 0.2),
        ("unknown", "I want to cancel my damn subscription.", -0.5),
    ]
    result = analyze(lines)
    assert result.reason == "I want to cancel my damn subscription."
    assert result.profanity == [ProfanityHit(utterance=1, words=["damn"])]
    assert "cancellation" in result.topics
