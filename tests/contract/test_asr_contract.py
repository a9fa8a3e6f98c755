"""core.ports.Transcriber: the in-process engine and the gRPC client give the same transcript.

The 30-minute case is mostly silence with three copies of a real recording in it: 115 MB of
float32 audio (over a hundred 1 MiB messages), cheap to transcribe because the engine's VAD
skips the silence.
"""

from __future__ import annotations

from typing import Any

import jiwer
import numpy as np
import pytest

from core.domain import StageInfo, Transcript, TranscriptionOptions, Word
from core.errors import InvalidInputError
from services.decode.local import decode
from shared.stubs.asr import GrpcTranscriber, options_to_proto
from shared.stubs.callytics.asr.v1 import asr_pb2, asr_pb2_grpc
from shared.stubs.channel import ChannelConfig
from tests.contract.conftest import IMPLEMENTATIONS, served

RATE = 16_000
OPTIONS = TranscriptionOptions()

# What the in-process engine gave, per case, so each side runs the model once per case.
_LOCAL: dict[str, tuple[Transcript, list[tuple[float, str]]]] = {}


@pytest.fixture(params=IMPLEMENTATIONS)
async def transcriber(request, implementation):
    async with implementation("asr", request.param) as engine:
        await engine.load()
        yield engine


@pytest.fixture(scope="module")
def jfk(recordings) -> np.ndarray:
    return decode(recordings / "jfk.flac").mono


@pytest.fixture(scope="module")
def thirty_minutes(jfk) -> np.ndarray:
    samples = np.zeros(30 * 60 * RATE, dtype=np.float32)
    for at_s in (0, 900, 1780):
        samples[at_s * RATE : at_s * RATE + len(jfk)] = jfk
    return samples


async def run_and_expect(
    transcriber: Any, local_engines: Any, case: str, samples: np.ndarray
) -> tuple[Transcript, list[tuple[float, str]], Transcript, list[tuple[float, str]]]:
    """This side's transcript and progress, and the in-process engine's."""
    seen: list[tuple[float, str]] = []
    got = await transcriber.transcribe(samples, OPTIONS, lambda f, m: seen.append((f, m)))
    local = local_engines("asr")
    if transcriber is local:
        _LOCAL[case] = (got, seen)
    if case not in _LOCAL:
        expected_seen: list[tuple[float, str]] = []
        expected = await local.transcribe(
            samples, OPTIONS, lambda f, m: expected_seen.append((f, m))
        )
        _LOCAL[case] = (expected, expected_seen)
    return got, seen, *_LOCAL[case]


def assert_same_words(got: list[Word], expected: list[Word]) -> None:
    assert [w.text for w in got] == [w.text for w in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.start == pytest.approx(e.start, abs=1e-6)
        assert g.end == pytest.approx(e.end, abs=1e-6)
        assert g.probability == pytest.approx(e.probability, abs=1e-6)


async def test_same_transcript_on_both_sides(transcriber, local_engines, jfk):
    got, _, expected, _ = await run_and_expect(transcriber, local_engines, "jfk", jfk)
    text = " ".join(w.text for w in got.words).lower()
    assert "ask not what your country can do for you" in text
    assert got.language == expected.language == "en"
    assert got.language_probability == pytest.approx(expected.language_probability, abs=1e-6)
    assert_same_words(got.words, expected.words)
    assert all(0 <= w.start <= w.end <= len(jfk) / RATE + 0.5 for w in got.words)


async def test_progress_arrives_in_order_and_ends_near_one(transcriber, local_engines, jfk):
    _, seen, _, expected_seen = await run_and_expect(transcriber, local_engines, "jfk", jfk)
    fractions = [f for f, _ in seen]
    assert fractions, "no progress callback"
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] >= 0.9
    assert [(pytest.approx(f, abs=1e-9), m) for f, m in seen] == expected_seen


async def test_no_samples_give_no_words(transcriber):
    transcript = await transcriber.transcribe(np.zeros(0, dtype=np.float32), OPTIONS)
    assert transcript.words == []
    assert transcript.language == "en"


async def test_thirty_minute_call(transcriber, local_engines, thirty_minutes):
    got, seen, expected, _ = await run_and_expect(
        transcriber, local_engines, "30min", thirty_minutes
    )
    assert got.language == expected.language
    # Not word for word: over 30 minutes Whisper's temperature fallback may sample a word
    # differently from one run to the next, whichever side runs it (seen: "ask"/"asked").
    texts = [" ".join(w.text for w in t.words).lower() for t in (got, expected)]
    assert jiwer.wer(texts[1], texts[0]) <= 0.1
    # the recording is in there three times: at the start, in the middle and at the end
    assert " ".join(w.text for w in got.words).lower().count("fellow americans") == 3
    assert got.words[-1].start > 1780
    assert seen and seen[-1][0] >= 0.9


@pytest.fixture(scope="module")
def kalvora() -> np.ndarray:
    """A made-up company name said by espeak-ng: tiny.en writes it "Cal, or", "Kalemore"…"""
    from samples.tts import VOICES, speak

    gap = np.zeros(RATE // 2, dtype=np.float32)
    said = speak(
        "Welcome to Kalvora support. Which product are you calling about?", VOICES["A"], RATE
    )
    return np.concatenate([gap, said, gap])


async def test_vocabulary_terms_reach_whisper_on_both_sides(transcriber, local_engines, kalvora):
    """The terms travel over gRPC and become faster-whisper's hotwords: the name is written
    as the vocabulary has it only with the vocabulary, and both sides agree word for word."""
    options = TranscriptionOptions(terms=("Kalvora", "Zentrix Plus"))
    got = await transcriber.transcribe(kalvora, options)
    local = local_engines("asr")
    expected = got if transcriber is local else await local.transcribe(kalvora, options)
    plain = await local.transcribe(kalvora, OPTIONS)
    assert "Kalvora" in " ".join(w.text for w in got.words)
    assert "kalvora" not in " ".join(w.text for w in plain.words).lower()
    assert_same_words(got.words, expected.words)


async def test_info_names_the_engine_and_the_side(transcriber):
    info = transcriber.info()
    assert (info.engine, info.model) == ("faster-whisper", "tiny.en")
    assert info.backend in ("local", "grpc")


# ---------------------------------------------------------------- the wire, gRPC only


class RecordingTranscriber:
    """A stand-in engine: remembers what it was given and answers ``words``."""

    def __init__(self, words: list[Word] | None = None) -> None:
        self.words = words or []
        self.calls: list[tuple[np.ndarray, TranscriptionOptions]] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "recording", "none")

    async def load(self) -> None:
        return None

    async def transcribe(self, samples, options, progress=None) -> Transcript:
        self.calls.append((samples, options))
        if progress is not None:
            progress(0.5, "half")
            progress(1.0, "all")
        return Transcript(words=self.words, language="xx", language_probability=0.25)


@pytest.mark.parametrize(
    "options",
    [
        TranscriptionOptions(),
        TranscriptionOptions(language="de", word_timestamps=False),
        TranscriptionOptions(language=""),
        TranscriptionOptions(terms=("Kalvora", "FlexiMax 300", "Zentrix Plus")),
    ],
)
async def test_the_server_gets_the_exact_samples_and_options(contract_settings, options):
    engine = RecordingTranscriber()
    # not a multiple of the chunk size, with values that would not survive a conversion
    samples = np.random.default_rng(0).standard_normal(300_001).astype(np.float32)
    async with served("asr", engine, contract_settings) as client:
        transcript = await client.transcribe(samples, options)
    (received, received_options), *_ = engine.calls
    assert received.dtype == np.float32
    assert np.array_equal(received, samples)
    assert received_options == options
    assert (transcript.language, transcript.language_probability) == ("xx", 0.25)


async def test_many_words_come_back_in_order(contract_settings):
    words = [Word(f"w{i}", i * 0.5, i * 0.5 + 0.25, 0.5) for i in range(4_501)]  # 3 batches
    seen: list[tuple[float, str]] = []
    async with served("asr", RecordingTranscriber(words), contract_settings) as client:
        transcript = await client.transcribe(
            np.zeros(RATE, dtype=np.float32), OPTIONS, lambda f, m: seen.append((f, m))
        )
    assert transcript.words == words
    assert seen == [(0.5, "half"), (1.0, "all")]


def _stream(*items: asr_pb2.TranscribeRequest):
    return lambda: iter(items)


OPTIONS_MSG = asr_pb2.TranscribeRequest(options=options_to_proto(OPTIONS))


@pytest.mark.parametrize(
    "requests",
    [
        _stream(asr_pb2.TranscribeRequest(pcm=b"\0" * 8)),  # audio before the options
        _stream(OPTIONS_MSG, asr_pb2.TranscribeRequest(pcm=b"\0" * 6)),  # 1.5 samples
        _stream(OPTIONS_MSG, OPTIONS_MSG),
        _stream(),
    ],
    ids=["no-options-first", "odd-bytes", "options-twice", "empty-stream"],
)
async def test_a_malformed_stream_is_invalid_input(contract_settings, requests):
    engine = RecordingTranscriber()
    async with served("asr", engine, contract_settings) as client:

        async def attempt(channel, timeout):
            replies = asr_pb2_grpc.TranscriberStub(channel).Transcribe(requests(), timeout=timeout)
            return [reply async for reply in replies]

        with pytest.raises(InvalidInputError):
            await client.channel.call(attempt)
    assert engine.calls == []


async def test_an_unreachable_service_fails_over_to_the_local_engine(jfk, local_engines):
    client = GrpcTranscriber(
        "127.0.0.1:9",  # discard: nothing listens there
        ChannelConfig(ready_timeout_s=0.2, retries=0),
        fallback=lambda: local_engines("asr"),
    )
    try:
        transcript = await client.transcribe(jfk, OPTIONS)
    finally:
        await client.aclose()
    assert transcript.words == (await local_engines("asr").transcribe(jfk, OPTIONS)).words
    assert client.channel.state()["failovers"] == 1
