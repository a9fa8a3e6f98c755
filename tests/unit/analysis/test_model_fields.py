"""What the pipeline does with a model's roles and sentiment, and how the analysis cache
keeps them (core/analysis/pipeline.py, core/analysis/document.py, core/adapters/cache.py)."""

from __future__ import annotations

from dataclasses import replace

from core.adapters.cache import analysis_from_dict
from core.analysis.document import analysis_dict, analysis_state
from core.analysis.pipeline import MODEL_SENTIMENT_SCORE, apply_model_roles, apply_model_sentiment
from core.domain import Resolution, Role, Sentiment, SentimentLabel, Speaker
from services.llm.rules_analyzer import analyze_conversation
from tests.support import scripts
from tests.support.conversations import make_conversation


def three_party():
    """A customer, an agent, and a supervisor the content rules could not place."""
    conversation = make_conversation(scripts.UNRESOLVED_BILLING)
    conversation.utterances[-1].speaker = "S3"
    conversation.utterances[-1].role = Role.UNKNOWN
    speakers = [Speaker("S1", Role.AGENT), Speaker("S2", Role.CUSTOMER), Speaker("S3")]
    return conversation, speakers


def test_the_models_roles_place_a_supervisor_after_a_transfer() -> None:
    conversation, speakers = three_party()
    analysis = replace(
        analyze_conversation(conversation),
        speaker_roles={"S1": Role.AGENT, "S2": Role.CUSTOMER, "S3": Role.AGENT},
    )
    assert apply_model_roles(analysis, speakers, conversation.utterances, by_channel=False)
    assert [s.role for s in speakers] == [Role.AGENT, Role.CUSTOMER, Role.AGENT]
    assert conversation.utterances[-1].role == Role.AGENT


def test_the_channel_map_outranks_the_model() -> None:
    conversation, speakers = three_party()
    analysis = replace(analyze_conversation(conversation), speaker_roles={"S1": Role.CUSTOMER})
    assert not apply_model_roles(analysis, speakers, conversation.utterances, by_channel=True)
    assert speakers[0].role == Role.AGENT


def test_roles_that_leave_no_agent_are_not_applied() -> None:
    conversation, speakers = three_party()
    everyone_a_customer = dict.fromkeys(("S1", "S2", "S3"), Role.CUSTOMER)
    analysis = replace(analyze_conversation(conversation), speaker_roles=everyone_a_customer)
    assert not apply_model_roles(analysis, speakers, conversation.utterances, by_channel=False)
    assert [s.role for s in speakers] == [Role.AGENT, Role.CUSTOMER, Role.UNKNOWN]


def test_the_models_sentiment_replaces_the_stages_where_they_differ() -> None:
    conversation = make_conversation(scripts.UNRESOLVED_BILLING)
    first, second = conversation.utterances[0], conversation.utterances[1]
    first.sentiment = Sentiment(SentimentLabel.NEUTRAL, 0.1)
    second.sentiment = Sentiment(SentimentLabel.NEGATIVE, -0.9)
    labels = {0: SentimentLabel.POSITIVE, 1: SentimentLabel.NEGATIVE}
    analysis = replace(analyze_conversation(conversation), utterance_sentiment=labels)
    assert apply_model_sentiment(analysis, conversation.utterances)
    assert first.sentiment == Sentiment(
        SentimentLabel.POSITIVE, MODEL_SENTIMENT_SCORE[SentimentLabel.POSITIVE]
    )
    assert second.sentiment == Sentiment(SentimentLabel.NEGATIVE, -0.9)  # agreed: score kept
    assert not apply_model_sentiment(analysis, conversation.utterances)  # nothing left to do


def test_the_cache_keeps_what_the_pipeline_applies() -> None:
    analysis = replace(
        analyze_conversation(make_conversation(scripts.UNRESOLVED_BILLING)),
        provider="llama:m",
        model="m",
        sources={"summary": "model", "reason": "rules"},
        utterance_sentiment={0: SentimentLabel.NEGATIVE, 3: SentimentLabel.POSITIVE},
        speaker_roles={"S1": Role.AGENT},
        warnings=["llm: reason by rules: the model's answer was malformed or cut off"],
        resolution=Resolution.UNRESOLVED,
    )
    assert analysis_from_dict(analysis_state(analysis)) == analysis
    document = analysis_dict(analysis)
    assert document is not None
    assert (document["provider"], document["model"]) == ("llama:m", "m")
    assert document["sources"] == {"summary": "model", "reason": "rules"}
    assert "utterance_sentiment" not in document  # applied to the utterances instead


def test_the_terminal_report_says_which_fields_the_model_answered() -> None:
    from api.report import _by_model

    sources = {"summary": "model", "action_items": "model", "profanity": "rules"}
    assert _by_model({"provider": "llama:m", "sources": sources}) == (
        " (the model: summary, action items; the rest: rules)"
    )
    everything_by_rules = {"provider": "llama:m", "sources": {"summary": "rules"}}
    assert _by_model(everything_by_rules) == " (every field by rules)"
    assert _by_model({"provider": "rules", "sources": {"summary": "rules"}}) == ""
