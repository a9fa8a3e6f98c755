"""Calls in other languages than English: the English-only stages say so instead of guessing.

Real engines where the language matters (VADER's English lexicon, the rules analysis, the
OpenAI-compatible analyzer against the loopback test server); fakes for the audio stages.
The same calls through Whisper base: tests/integration/test_languages_e2e.py.
"""

from __future__ import annotations

from core.analysis.document import build_document
from core.analysis.languages import engine_languages, is_english, language_name, reads
from core.analysis.pipeline import CallPipeline
from core.analysis.qa import DEFAULT_SCORECARD, QAScorer, Scorecard
from core.analysis.speaker_roles import assign_roles
from core.domain import Resolution, Role, SpeakerTurn, StageInfo
from core.persistence.models import utcnow
from services.llm.openai_analyzer import OpenAICallAnalyzer
from services.llm.prompt import transcript_prefix
from services.llm.rules_analyzer import LocalCallAnalyzer, analyze_conversation
from services.sentiment.vader import VaderSentimentAnalyzer
from tests.support.conversations import make_conversation
from tests.support.openai_server import FakeOpenAIServer
from tests.unit.fakes import FakeDiarizer, FakeEmbedder, FakeTranscriber, silent_audio, words_of

pytest_plugins = ["tests.support.fixtures"]

# Spanish that the English phrase lists half-match ("supervisor", "problema", "terrible",
# "gracias" is neutral to VADER): what used to come out as English-lexicon guesses.
AGENT_ES = "Buenos días, gracias por llamar, soy la supervisora, ¿en qué puedo ayudarle?"
CUSTOMER_ES = "Hola, quiero hablar con su supervisor, esto es terrible, mi factura está mal"
AGENT_EN = "thank you for calling Acme how can I help"
CUSTOMER_EN = "this is terrible my bill is wrong and I want a refund"


def pipeline(transcriber, analyzer=None, diarizer=None) -> CallPipeline:
    return CallPipeline(
        diarizer or FakeDiarizer([SpeakerTurn("S1", 0, 5), SpeakerTurn("S2", 5.5, 11)]),
        transcriber,
        VaderSentimentAnalyzer(),
        FakeEmbedder(),
        analyzer or LocalCallAnalyzer(),
    )


def two_lines(first: str, second: str, language: str) -> FakeTranscriber:
    return FakeTranscriber(words_of(first, 0.0) + words_of(second, 5.6), language=language)


class Declared:
    """An engine that declares the languages it reads (or none)."""

    def __init__(self, languages=None):
        self.extra = {} if languages is None else {"languages": languages}

    def info(self) -> StageInfo:
        return StageInfo("local", "declared", "none", extra=self.extra)


def test_an_engine_reads_what_it_declares_and_anything_when_it_declares_nothing():
    assert engine_languages(Declared("en")) == frozenset({"en"})
    assert reads(Declared("en"), "en-US") and reads(Declared("en"), "")
    assert not reads(Declared("en"), "es")
    assert reads(Declared("en,es"), "es") and reads(Declared(["de"]), "de")
    assert reads(Declared(), "ko")
    assert is_english(None) and is_english("EN") and not is_english("de")
    assert (language_name("es"), language_name("xx"), language_name("")) == (
        "Spanish",
        "xx",
        "unknown",
    )


async def test_a_spanish_call_has_no_english_lexicon_sentiment_and_says_why():
    result = await pipeline(two_lines(AGENT_ES, CUSTOMER_ES, "es")).run(silent_audio(12))
    doc = build_document("id-es", "es.wav", utcnow(), result)
    assert doc["language"] == "es"
    assert [u["sentiment"] for u in doc["utterances"]] == [None, None]
    assert doc["stages"]["sentiment"]["available"] is False
    assert doc["stages"]["sentiment"]["engine"] == "vader"
    reason = doc["stages"]["sentiment"]["reason"]
    assert "reads en only" in reason and "call language es" in reason
    assert f"sentiment is unavailable: {reason}." in doc["warnings"]
    assert doc["metrics"]["customer_sentiment_trend"] is None
    assert "language_supported" not in doc["stages"]["embedding"]  # the fake reads any


class EnglishEmbedder(FakeEmbedder):
    def info(self) -> StageInfo:
        return StageInfo("local", "english-embedding", "all-fake", extra={"languages": "en"})


async def test_an_english_embedding_model_still_indexes_a_spanish_call_and_says_so():
    p = pipeline(two_lines(AGENT_ES, CUSTOMER_ES, "es"))
    p.embedder = EnglishEmbedder()
    result = await p.run(silent_audio(12))
    assert result.utterance_vectors is not None and len(result.utterance_vectors) == 2
    assert result.stages["embedding"]["language_supported"] is False
    assert any(
        w.startswith("embedding: the english-embedding engine reads en only")
        for w in result.warnings
    )


async def test_an_english_call_is_analysed_as_before():
    result = await pipeline(two_lines(AGENT_EN, CUSTOMER_EN, "en")).run(silent_audio(12))
    assert result.utterances[1].sentiment is not None
    assert result.utterances[1].sentiment.label.value == "negative"
    assert "available" not in result.stages["sentiment"]
    assert result.stages["roles"]["method"] == "content"
    assert result.analysis is not None and result.analysis.reason
    assert result.analysis.sources["reason"] == "rules"
    assert not any("unavailable" in w or "English" in w for w in result.warnings)


async def test_the_rules_analysis_of_a_spanish_call_is_empty_not_guessed():
    result = await pipeline(two_lines(AGENT_ES, CUSTOMER_ES, "es")).run(silent_audio(12))
    analysis = result.analysis
    assert analysis is not None
    assert (analysis.summary, analysis.reason, analysis.topics) == ("", "", [])
    assert analysis.resolution == Resolution.UNKNOWN
    assert (analysis.conflict_detected, analysis.profanity, analysis.action_items) == (
        False,
        [],
        [],
    )
    assert set(analysis.sources.values()) == {"unavailable"}
    assert any("rules read English only (call language es" in w for w in result.warnings)
    # the same conversation in English words gets the rules' answers
    english = analyze_conversation(
        make_conversation([("agent", AGENT_EN, 0.0), ("customer", CUSTOMER_EN, -0.6)])
    )
    assert english.reason and english.sources["reason"] == "rules"


def test_role_phrases_are_read_in_english_calls_only():
    conversation = make_conversation([("customer", CUSTOMER_ES, None), ("agent", AGENT_ES, None)])
    utterances = conversation.utterances  # S2 speaks first, then S1
    # Spanish: no phrase is read (a "supervisor" is not an agent cue here); the first voice
    # answers the call.
    roles = assign_roles(utterances, ["S1", "S2"], language="es")
    assert roles == {"S2": Role.AGENT, "S1": Role.CUSTOMER}
    # English phrases decide an English call whoever speaks first
    english = make_conversation([("customer", CUSTOMER_EN, None), ("agent", AGENT_EN, None)])
    assert assign_roles(english.utterances, ["S1", "S2"], language="en") == {
        "S1": Role.AGENT,
        "S2": Role.CUSTOMER,
    }


async def test_a_mono_spanish_call_gets_its_roles_from_who_speaks_first():
    result = await pipeline(two_lines(AGENT_ES, CUSTOMER_ES, "es")).run(silent_audio(12))
    assert result.stages["roles"]["method"] == "first speaker"
    assert [(s.id, s.role) for s in result.speakers] == [("S1", Role.AGENT), ("S2", Role.CUSTOMER)]


async def test_a_model_labels_the_sentiment_of_a_spanish_call(openai_server: FakeOpenAIServer):
    """With a model configured, the llm stage answers every field in the call's language,
    sentiment included (one request per task), and the document says who labelled it."""
    analyzer = OpenAICallAnalyzer(
        model="fake-analyst", base_url=openai_server.base_url, max_retries=0
    )
    result = await pipeline(two_lines(AGENT_ES, CUSTOMER_ES, "es"), analyzer).run(silent_audio(12))
    tasks = [r["messages"][1]["content"].partition("\nTask:\n")[2] for r in openai_server.requests]
    assert any(t.startswith("sentiment:") for t in tasks)
    assert len(openai_server.requests) == 4  # facts, action items, sentiment, summary
    prompt = openai_server.requests[0]["messages"][1]["content"]
    assert (
        "Language: es." in prompt
        and "write the summary, the reason and the actions in Spanish" in prompt
    )
    # the fake model calls a line that thanks ("gracias") positive
    assert [u.sentiment.label.value for u in result.utterances] == ["positive", "neutral"]
    assert result.stages["sentiment"]["available"] is False
    assert result.stages["sentiment"]["labelled_by"] == "llm"
    assert not any(w.startswith("sentiment is unavailable") for w in result.warnings)
    assert any(
        w.startswith("sentiment: labelled by the llm stage's model") for w in result.warnings
    )
    analysis = result.analysis
    assert analysis is not None and analysis.sources["sentiment"] == "model"
    assert analysis.sources["reason"] == "model" and analysis.reason.startswith("Hola")
    # only profanity stays on the (English) rules: empty, and said so
    assert analysis.sources["profanity"] == "unavailable" and analysis.profanity == []
    assert any(w.startswith("llm: profanity left empty") for w in result.warnings)


async def test_an_english_call_asks_the_model_only_the_configured_fields(
    openai_server: FakeOpenAIServer,
):
    analyzer = OpenAICallAnalyzer(
        model="fake-analyst", base_url=openai_server.base_url, max_retries=0
    )
    await pipeline(two_lines(AGENT_EN, CUSTOMER_EN, "en"), analyzer).run(silent_audio(12))
    tasks = [r["messages"][1]["content"].partition("\nTask:\n")[2] for r in openai_server.requests]
    assert not any(t.startswith("sentiment:") for t in tasks)
    assert "write the summary" not in openai_server.requests[0]["messages"][1]["content"]


def test_the_prompt_names_the_language_of_the_call():
    german = make_conversation([("agent", "Guten Tag, wie kann ich helfen?", None)], "de")
    prefix = transcript_prefix(german, german.utterances, 10_000)
    assert prefix.startswith("Language: de.") and "in German" in prefix
    english = make_conversation([("agent", AGENT_EN, None)], "en")
    assert "write the summary" not in transcript_prefix(english, english.utterances, 10_000)


def qa_document(language: str, text: str) -> dict:
    return {
        "language": language,
        "audio": {"duration_s": 20.0},
        "utterances": [
            {"index": 0, "role": "agent", "start": 0.0, "end": 4.0, "text": text, "sentiment": None}
        ],
        "analysis": None,
    }


async def test_the_english_checklist_does_not_score_a_spanish_call():
    scored = await QAScorer(DEFAULT_SCORECARD).score(qa_document("es", AGENT_ES))
    assert scored["method"] == "unavailable" and scored["score"] is None
    assert all(item["passed"] is None for item in scored["items"])
    assert "call language es" in scored["reason"]
    english = await QAScorer(DEFAULT_SCORECARD).score(qa_document("en", AGENT_EN))
    assert english["method"] == "rules" and english["score"] is not None


async def test_a_scorecard_in_the_calls_language_scores_it():
    spanish = Scorecard.from_dict(
        {
            "name": "es",
            "language": "es",
            "items": [{"id": "greeting", "name": "Saludo", "phrases": ["gracias por llamar"]}],
        }
    )
    scored = await QAScorer(spanish).score(qa_document("es", AGENT_ES))
    assert scored["method"] == "rules" and scored["items"][0]["passed"] is True
    assert (await QAScorer(spanish).score(qa_document("en", AGENT_EN)))["method"] == "unavailable"
    # a scorecard that names no language is taken to be written for the calls it scores
    any_language = Scorecard.from_dict(
        {"items": [{"id": "greeting", "name": "Saludo", "phrases": ["gracias por llamar"]}]}
    )
    assert (await QAScorer(any_language).score(qa_document("es", AGENT_ES)))["score"] == 100.0


async def test_redaction_of_a_spanish_call_finds_written_digits_and_says_what_it_cannot():
    card = "mi tarjeta es 4572 1234 5678 9012 gracias"
    p = pipeline(two_lines(AGENT_ES, card, "es"))
    p.redact_pii = True
    result = await p.run(silent_audio(14))
    assert "[CARD_NUMBER]" in result.utterances[1].text and "4572" not in result.utterances[1].text
    assert result.stages["redaction"]["language_supported"] is False
    assert any(w.startswith("redaction: its cue words and spoken numbers") for w in result.warnings)
