"""A live session over scripted streams: events in order, roles by channel, alerts once."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from core.categories.rules import parse_conditions
from core.live.audio import LiveFormat, WavRecorder
from core.live.events import LiveEvent, LiveEventType
from core.live.session import LiveCategory, LiveOptions, LiveSession, judgeable
from tests.unit.fakes import FakeSentimentAnalyzer, FakeStreamingTranscriber, words_of

AGENT = words_of("thank you for calling how can I help", 0.2)
CUSTOMER = (
    words_of("this is terrible I want to cancel", 4.0)
    + words_of("terrible terrible service", 8.0)
    + words_of("angry about my card number 4111 1111 1111 1111", 11.0)
)
SECONDS = 16.0

CANCEL = LiveCategory(
    "cancellation-risk",
    "The customer wants to cancel",
    parse_conditions([{"kind": "phrase", "phrases": ["want to cancel"], "role": "customer"}]),
)
AFTER_THE_CALL = LiveCategory(
    "no-greeting",
    "",
    parse_conditions([{"kind": "phrase", "phrases": ["thank you"], "negate": True}]),
)


def stereo_frames(seconds: float, frame_s: float = 0.1) -> list[bytes]:
    n = int(seconds * 16000)
    audio = np.zeros((n, 2), dtype="<i2")
    step = int(frame_s * 16000)
    return [audio[i : i + step].tobytes() for i in range(0, n, step)]


async def stream_call(tmp_path, categories=(CANCEL, AFTER_THE_CALL), redact=False):
    events: list[LiveEvent] = []
    saved: list[dict] = []

    async def emit(event: LiveEvent) -> None:
        events.append(event)

    async def save(snapshot, seconds) -> None:
        saved.append(snapshot)

    fmt = LiveFormat("pcm16", 16000, 2)
    session = LiveSession(
        "live-1",
        fmt,
        LiveOptions(agent_channel=0, redact_pii=redact),
        WavRecorder(tmp_path / "live.wav", fmt),
        transcriber=FakeStreamingTranscriber([AGENT, CUSTOMER]),
        sentiment=FakeSentimentAnalyzer(),
        categories=categories,
        emit=emit,
        save=save,
    )
    await session.start()
    for frame in stereo_frames(SECONDS):
        await session.feed(frame)
        await asyncio.sleep(0)  # let the channel workers run between frames, as a socket does
    await session.stop()
    session.recorder.close()
    return session, events, saved


def of(events, kind):
    return [e for e in events if e.type == kind]


def test_finals_carry_words_speaker_role_and_sentiment(tmp_path):
    session, events, _ = asyncio.run(stream_call(tmp_path))
    finals = [e.data["utterance"] for e in of(events, LiveEventType.FINAL)]
    assert [(u["speaker"], u["role"]) for u in finals[:2]] == [("S1", "agent"), ("S2", "customer")]
    assert finals[0]["text"] == "thank you for calling how can I help"
    assert [w["word"] for w in finals[0]["words"]] == [w.text for w in AGENT]
    assert finals[1]["sentiment"]["label"] == "negative"
    assert [u["index"] for u in finals] == list(range(len(finals)))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert session.received_s == pytest.approx(SECONDS)


def test_partials_come_before_their_final(tmp_path):
    _, events, _ = asyncio.run(stream_call(tmp_path))
    first_final = next(i for i, e in enumerate(events) if e.type == LiveEventType.FINAL)
    partials = [e for e in events[:first_final] if e.type == LiveEventType.PARTIAL]
    assert partials and partials[0].data["role"] == "agent"
    assert any(not w["committed"] for p in partials for w in p.data["words"])


def test_a_category_alerts_once_as_soon_as_its_words_are_committed(tmp_path):
    _, events, _ = asyncio.run(stream_call(tmp_path))
    alerts = [e.data["alert"] for e in of(events, LiveEventType.ALERT)]
    cancel = [a for a in alerts if a.get("category") == "cancellation-risk"]
    assert len(cancel) == 1
    # "cancel" ends at 6.4 s, and the fake commits words 0.3 s after their end: the alert
    # comes before the customer's utterance ends (its final is at the pause after 6.4 s).
    assert cancel[0]["at_s"] < 7.5
    # A negated condition cannot be judged while the call runs: no alert, ever.
    assert not [a for a in alerts if a.get("category") == "no-greeting"]
    assert not judgeable(AFTER_THE_CALL.conditions) and judgeable(CANCEL.conditions)


def test_a_negative_streak_and_pii_alert(tmp_path):
    _, events, _ = asyncio.run(stream_call(tmp_path))
    alerts = [e.data["alert"] for e in of(events, LiveEventType.ALERT)]
    assert [a["kind"] for a in alerts].count("negative_streak") == 1
    pii = [a for a in alerts if a["kind"] == "pii"]
    assert [a["pii_type"] for a in pii] == ["CARD_NUMBER"]
    finals = [e.data["utterance"] for e in of(events, LiveEventType.FINAL)]
    assert "4111" in finals[-1]["text"]  # found and alerted, not redacted: not asked to


def test_redaction_when_asked_keeps_the_number_out_of_the_live_transcript(tmp_path):
    _, events, saved = asyncio.run(stream_call(tmp_path, redact=True))
    finals = [e.data["utterance"] for e in of(events, LiveEventType.FINAL)]
    assert "[CARD_NUMBER]" in finals[-1]["text"] and "4111" not in finals[-1]["text"]
    assert "4111" not in str(saved[-1])


def test_metrics_run_with_the_call_and_the_snapshot_holds_finals_and_alerts(tmp_path):
    _, events, saved = asyncio.run(stream_call(tmp_path))
    metrics = of(events, LiveEventType.METRICS)[-1].data["metrics"]
    roles = {s["role"]: s for s in metrics["speakers"]}
    assert roles["agent"]["talk_time_s"] > 0 and roles["customer"]["talk_time_s"] > 0
    assert 0 < metrics["agent_talk_ratio"] < 1
    snapshot = saved[-1]
    assert snapshot["seq"] <= events[-1].seq
    assert len(snapshot["utterances"]) == len(of(events, LiveEventType.FINAL))
    assert {a["kind"] for a in snapshot["alerts"]} == {"category", "negative_streak", "pii"}


class ToneVoices:
    """Voice embeddings by loudness: the test's two 'voices' are two amplitudes."""

    def __init__(self) -> None:
        self.embedded = 0

    def info(self):  # type: ignore[no-untyped-def]
        from core.domain import StageInfo

        return StageInfo("local", "tone-voices", "none")

    async def load(self) -> None:
        return None

    async def embed_voices(self, stretches):  # type: ignore[no-untyped-def]
        self.embedded += len(stretches)
        return np.array(
            [[1.0, 0.0] if np.abs(s).mean() < 0.2 else [0.0, 1.0] for s in stretches],
            dtype=np.float32,
        )


def test_a_mono_call_gets_speakers_by_voice_and_roles_by_what_they_say(tmp_path):
    agent = words_of("thank you for calling how can I help", 0.2)
    customer = words_of("my card was charged twice I want a refund", 5.0)
    fmt = LiveFormat("pcm16", 16000, 1)
    samples = np.zeros(9 * 16000, dtype=np.float32)
    for words, level in ((agent, 0.1), (customer, 0.4)):
        samples[int(words[0].start * 16000) : int(words[-1].end * 16000)] = level
    pcm = (samples * 32767).astype("<i2").tobytes()
    events: list[LiveEvent] = []

    async def emit(event: LiveEvent) -> None:
        events.append(event)

    async def save(snapshot, seconds) -> None:
        return None

    async def run() -> LiveSession:
        voices = ToneVoices()
        session = LiveSession(
            "mono",
            fmt,
            LiveOptions(),
            WavRecorder(tmp_path / "mono.wav", fmt),
            transcriber=FakeStreamingTranscriber([agent + customer]),
            sentiment=FakeSentimentAnalyzer(),
            categories=(),
            emit=emit,
            save=save,
            voices=voices,
        )
        await session.start()
        for at in range(0, len(pcm), 3200):
            await session.feed(pcm[at : at + 3200])
            await asyncio.sleep(0)
        await session.stop()
        session.recorder.close()
        assert voices.embedded == 2
        return session

    session = asyncio.run(run())
    finals = [e.data["utterance"] for e in of(events, LiveEventType.FINAL)]
    assert [(u["speaker"], u["text"]) for u in finals] == [
        ("S1", "thank you for calling how can I help"),
        ("S2", "my card was charged twice I want a refund"),
    ]
    assert [u.role.value for u in session.utterances] == ["agent", "customer"]
    assert {s["id"]: s["role"] for s in session.metrics["speakers"]} == {
        "S1": "agent",
        "S2": "customer",
    }
