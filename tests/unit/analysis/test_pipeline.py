import numpy as np
import pytest

from core.analysis.document import build_document
from core.analysis.pipeline import AnalysisOptions, CallPipeline
from core.domain import SpeakerTurn
from core.errors import StageError
from core.persistence.models import utcnow
from tests.unit.fakes import (
    FakeCallAnalyzer,
    FakeDiarizer,
    FakeEmbedder,
    FakeSentimentAnalyzer,
    FakeTranscriber,
    silent_audio,
    words_of,
)

GREETING = "thank you for calling Acme how can I help"
COMPLAINT = "this is terrible my bill is wrong"


def make_pipeline(sentiment=None, analyzer=None, diarizer=None, transcriber=None):
    diarizer = diarizer or FakeDiarizer([SpeakerTurn("S1", 0, 4), SpeakerTurn("S2", 4.5, 8)])
    transcriber = transcriber or FakeTranscriber(words_of(GREETING, 0.0) + words_of(COMPLAINT, 4.6))
    return CallPipeline(
        diarizer,
        transcriber,
        sentiment or FakeSentimentAnalyzer(),
        FakeEmbedder(),
        analyzer or FakeCallAnalyzer(),
    )


async def test_a_call_flows_through_every_stage_in_order():
    events = []
    result = await make_pipeline().run(
        silent_audio(10), AnalysisOptions(num_speakers=2), events.append
    )
    assert [u.text for u in result.utterances] == [GREETING, COMPLAINT]
    assert [s.role.value for s in result.speakers] == ["agent", "customer"]
    assert result.utterances[1].sentiment.label.value == "negative"
    assert result.utterance_vectors.shape == (2, 8)
    assert np.linalg.norm(result.call_vector) == pytest.approx(1.0)
    assert result.analysis.provider == "fake"
    stages_seen = list(dict.fromkeys(e.stage for e in events))
    assert stages_seen == [
        "diarization",
        "asr",
        "roles",
        "sentiment",
        "embedding",
        "llm",
        "metrics",
    ]
    assert all(0.0 <= e.progress <= 1.0 for e in events)
    assert set(result.stages) == {
        "diarization",
        "asr",
        "roles",
        "sentiment",
        "embedding",
        "llm",
        "metrics",
    }
    assert result.stages["asr"]["engine"] == "fake-asr"
    assert result.warnings == []


async def test_hints_reach_the_diarizer():
    diarizer = FakeDiarizer([SpeakerTurn("S1", 0, 4)])
    await make_pipeline(diarizer=diarizer).run(
        silent_audio(), AnalysisOptions(num_speakers=3, max_speakers=4)
    )
    assert diarizer.calls[0].num_speakers == 3 and diarizer.calls[0].max_speakers == 4


async def test_an_optional_stage_is_retried_once():
    sentiment = FakeSentimentAnalyzer(fail_times=1)
    result = await make_pipeline(sentiment=sentiment).run(silent_audio())
    assert sentiment.calls == 2
    assert result.utterances[0].sentiment is not None and result.warnings == []


async def test_optional_stages_degrade_into_warnings():
    result = await make_pipeline(
        sentiment=FakeSentimentAnalyzer(fail_times=5), analyzer=FakeCallAnalyzer(fail=True)
    ).run(silent_audio())
    assert result.analysis is None
    assert all(u.sentiment is None for u in result.utterances)
    assert any(w.startswith("sentiment is missing") for w in result.warnings)
    assert any(w.startswith("llm is missing") for w in result.warnings)
    assert result.stages["llm"]["error"]
    assert len(result.utterances) == 2  # the transcript survives


async def test_a_required_stage_failure_is_a_stage_error():
    class Broken(FakeTranscriber):
        async def transcribe(self, samples, options, progress=None):
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(StageError, match="asr: CUDA out of memory"):
        await make_pipeline(transcriber=Broken([])).run(silent_audio())


async def test_dual_channel_calls_are_transcribed_per_channel_and_bleed_dropped():
    diarizer = FakeDiarizer(
        [SpeakerTurn("S1", 0, 4), SpeakerTurn("S2", 4.5, 8)],
        method="channel",
        channel_of={"S1": 0, "S2": 1},
    )
    agent_words = words_of(GREETING, 0.0)
    # the customer channel also hears the agent faintly at 0-3 s: bleed
    customer_words = words_of("thank you", 0.0) + words_of(COMPLAINT, 4.6)
    transcriber = FakeTranscriber([agent_words, customer_words])
    result = await make_pipeline(diarizer=diarizer, transcriber=transcriber).run(
        silent_audio(10, channels=2)
    )
    assert len(transcriber.seen) == 2
    assert [(u.speaker, u.text) for u in result.utterances] == [("S1", GREETING), ("S2", COMPLAINT)]
    assert {s.id: (s.role.value, s.channel) for s in result.speakers} == {
        "S1": ("agent", 0),
        "S2": ("customer", 1),
    }


async def test_silence_gives_an_empty_call_with_a_warning():
    result = await make_pipeline(diarizer=FakeDiarizer([]), transcriber=FakeTranscriber([])).run(
        silent_audio()
    )
    assert result.utterances == [] and result.speakers == [] and result.analysis is None
    assert "No speech" in result.warnings[0]
    assert result.metrics.silence_ratio == 1.0


async def test_the_document_has_every_field_of_the_spec():
    result = await make_pipeline().run(silent_audio(10))
    doc = build_document("id-1", "call.wav", utcnow(), result)
    assert set(doc) >= {
        "id",
        "filename",
        "created_at",
        "status",
        "audio",
        "language",
        "speakers",
        "utterances",
        "metrics",
        "analysis",
        "stages",
        "warnings",
    }
    assert set(doc["audio"]) == {"duration_s", "sample_rate", "channels", "codec"}
    assert set(doc["speakers"][0]) == {
        "id",
        "role",
        "channel",
        "talk_time_s",
        "talk_ratio",
        "words_per_minute",
        "interruptions",
        "sentiment_mean",
        "loudness_dbfs",
    }
    assert set(doc["utterances"][0]) >= {
        "index",
        "speaker",
        "start",
        "end",
        "text",
        "sentiment",
        "words",
    }
    assert set(doc["utterances"][0]["words"][0]) == {"word", "start", "end", "probability"}
    assert set(doc["metrics"]) == {
        "talk_time_s",
        "non_talk_time_s",
        "silence_ratio",
        "longest_silence_s",
        "overlap_s",
        "interruptions",
        "agent_talk_ratio",
        "mean_response_latency_s",
        "sentiment_by_quarter",
        "customer_sentiment_trend",
        "interruption_utterances",
    }
    assert set(doc["analysis"]) == {
        "summary",
        "topics",
        "reason",
        "resolution",
        "conflict",
        "profanity",
        "action_items",
        "provider",
        "model",
        "sources",
    }
