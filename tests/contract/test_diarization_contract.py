"""core.ports.Diarizer: the in-process engine and the gRPC client find the same turns.

The 30-minute case is a synthetic dual-channel call placed three times in half an hour of
silence: three 115 MB tracks (the mix and both channels) cross the 4 MB message limit
hundreds of times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.domain import Audio, AudioInfo, Diarization, DiarizationOptions, StageInfo
from core.errors import InvalidInputError
from samples import load_script, render_call
from services.decode.local import decode
from shared.stubs.callytics.diarization.v1 import diarization_pb2, diarization_pb2_grpc
from tests.contract.conftest import IMPLEMENTATIONS, served

RATE = 16_000
OPTIONS = DiarizationOptions()

# What the in-process engine gave, per case, so each side runs the model once per case.
_LOCAL: dict[str, tuple[Diarization, list[tuple[float, str]]]] = {}


@pytest.fixture(params=IMPLEMENTATIONS)
async def diarizer(request, implementation):
    async with implementation("diarization", request.param) as engine:
        await engine.load()
        yield engine


@pytest.fixture(scope="module")
def two_speakers(recordings) -> Audio:
    return decode(recordings / "pyannote_sample.wav")


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory) -> Audio:
    path = Path(tmp_path_factory.mktemp("calls")) / "short.wav"
    render_call(load_script("short"), path, layout="stereo")
    return decode(path)


@pytest.fixture(scope="module")
def thirty_minutes(stereo_call) -> Audio:
    n = 30 * 60 * RATE
    channels = (np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32))
    length = len(stereo_call.mono)
    for at_s in (0, 900, 1760):
        for target, source in zip(channels, stereo_call.channels, strict=True):
            target[at_s * RATE : at_s * RATE + length] = source
    mono = (channels[0] + channels[1]) / 2
    info = AudioInfo(duration_s=1800.0, sample_rate=8000, channels=2, codec="pcm_mulaw")
    return Audio(mono=mono, channels=channels, info=info)


async def run_and_expect(
    diarizer: Any, local_engines: Any, case: str, audio: Audio
) -> tuple[Diarization, list[tuple[float, str]], Diarization, list[tuple[float, str]]]:
    """This side's diarization and progress, and the in-process engine's."""
    seen: list[tuple[float, str]] = []
    got = await diarizer.diarize(audio, OPTIONS, lambda f, m: seen.append((f, m)))
    local = local_engines("diarization")
    if diarizer is local:
        _LOCAL[case] = (got, seen)
    if case not in _LOCAL:
        expected_seen: list[tuple[float, str]] = []
        expected = await local.diarize(audio, OPTIONS, lambda f, m: expected_seen.append((f, m)))
        _LOCAL[case] = (expected, expected_seen)
    return got, seen, *_LOCAL[case]


def assert_same(got: Diarization, expected: Diarization) -> None:
    assert got.method == expected.method
    assert got.speakers == expected.speakers
    assert got.channel_of == expected.channel_of
    assert list(got.channel_of) == list(expected.channel_of)
    assert got.turns == expected.turns  # floats that went through a double stay exact
    assert got.speech == expected.speech


async def test_two_speakers_of_a_real_recording(diarizer, local_engines, two_speakers):
    got, _, expected, _ = await run_and_expect(diarizer, local_engines, "real", two_speakers)
    assert_same(got, expected)
    assert got.method == "segmentation"
    assert len(got.speakers) == 2
    assert got.channel_of == {}
    assert got.speech and got.turns


async def test_a_dual_channel_call_goes_by_channel(diarizer, local_engines, stereo_call):
    got, _, expected, _ = await run_and_expect(diarizer, local_engines, "stereo", stereo_call)
    assert_same(got, expected)
    assert got.method == "channel"
    assert got.speakers == ["S1", "S2"]
    assert got.channel_of == {"S1": 0, "S2": 1}


async def test_progress_arrives_in_order_and_ends_at_one(diarizer, local_engines, two_speakers):
    _, seen, _, expected_seen = await run_and_expect(diarizer, local_engines, "real", two_speakers)
    fractions = [f for f, _ in seen]
    assert len(fractions) >= 2
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert seen == expected_seen


async def test_thirty_minute_dual_channel_call(diarizer, local_engines, thirty_minutes):
    got, seen, expected, _ = await run_and_expect(diarizer, local_engines, "30min", thirty_minutes)
    assert_same(got, expected)
    assert got.method == "channel"
    assert got.channel_of == {"S1": 0, "S2": 1}
    assert got.turns[0].start < 5 and got.turns[-1].end > 1760
    assert seen[-1][0] == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DiarizationOptions(num_speakers=0), "num_speakers must be at least 1, got 0."),
        (DiarizationOptions(max_speakers=-2), "max_speakers must be at least 1, got -2."),
        (DiarizationOptions(min_speakers=4, max_speakers=3), "min_speakers (4) is above"),
    ],
)
async def test_bad_options_are_invalid_input(diarizer, two_speakers, options, message):
    with pytest.raises(InvalidInputError) as caught:
        await diarizer.diarize(two_speakers, options)
    assert caught.value.message.startswith(message)


async def test_info_names_the_engine_and_the_side(diarizer):
    info = diarizer.info()
    assert info.engine == "segmentation-3.0+campplus"
    assert info.backend in ("local", "grpc")


# ---------------------------------------------------------------- the wire, gRPC only


class RecordingDiarizer:
    """A stand-in engine: remembers what it was given and answers a fixed result."""

    def __init__(self) -> None:
        self.calls: list[tuple[Audio, DiarizationOptions]] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "recording", "none")

    async def load(self) -> None:
        return None

    async def diarize(self, audio, options, progress=None) -> Diarization:
        self.calls.append((audio, options))
        if progress is not None:
            progress(1.0, "done")
        return Diarization(
            turns=[],
            speakers=["S2", "S1", "S3"],
            method="channel",
            channel_of={"S2": 1, "S1": 0, "S3": 2},
        )


def _audio(channels: int, samples: int = 250_001) -> Audio:
    rng = np.random.default_rng(channels)
    sources = tuple(rng.standard_normal(samples).astype(np.float32) for _ in range(channels))
    mono = np.mean(sources, axis=0).astype(np.float32) if channels > 1 else sources[0]
    info = AudioInfo(duration_s=samples / RATE, sample_rate=44_100, channels=channels, codec="opus")
    return Audio(mono=mono, channels=sources, info=info)


@pytest.mark.parametrize("channels", [1, 2, 3])
async def test_the_server_rebuilds_the_audio_exactly(contract_settings, channels):
    engine = RecordingDiarizer()
    audio = _audio(channels)
    options = DiarizationOptions(num_speakers=2, min_speakers=1, max_speakers=5)
    async with served("diarization", engine, contract_settings) as client:
        result = await client.diarize(audio, options)
    (received, received_options), *_ = engine.calls
    assert received_options == options
    assert received.info == audio.info
    assert received.sample_rate == audio.sample_rate
    assert np.array_equal(received.mono, audio.mono)
    assert len(received.channels) == channels
    for got, sent in zip(received.channels, audio.channels, strict=True):
        assert got.dtype == np.float32
        assert np.array_equal(got, sent)
    if channels == 1:
        assert received.channels[0] is received.mono
    assert list(result.channel_of.items()) == [("S2", 1), ("S1", 0), ("S3", 2)]


async def test_unset_options_stay_unset(contract_settings):
    engine = RecordingDiarizer()
    async with served("diarization", engine, contract_settings) as client:
        await client.diarize(_audio(1, 1000), DiarizationOptions())
    assert engine.calls[0][1] == DiarizationOptions()


SETUP = diarization_pb2.DiarizeRequest(setup=diarization_pb2.DiarizeSetup(channels=2))


def _chunk(track: int, size: int) -> diarization_pb2.DiarizeRequest:
    return diarization_pb2.DiarizeRequest(
        chunk=diarization_pb2.AudioChunk(track=track, pcm=b"\0" * size)
    )


@pytest.mark.parametrize(
    "requests",
    [
        [_chunk(0, 8)],
        [SETUP, _chunk(0, 6)],
        [SETUP, _chunk(3, 8)],
        [
            diarization_pb2.DiarizeRequest(setup=diarization_pb2.DiarizeSetup(channels=1)),
            _chunk(1, 8),
        ],
        [SETUP, SETUP],
        [diarization_pb2.DiarizeRequest(setup=diarization_pb2.DiarizeSetup(channels=1 << 30))],
        [],
    ],
    ids=[
        "no-setup-first",
        "odd-bytes",
        "no-such-track",
        "mono-has-one-track",
        "setup-twice",
        "too-many-channels",
        "empty",
    ],
)
async def test_a_malformed_stream_is_invalid_input(contract_settings, requests):
    engine = RecordingDiarizer()
    async with served("diarization", engine, contract_settings) as client:

        async def attempt(channel, timeout):
            stub = diarization_pb2_grpc.DiarizerStub(channel)
            return [reply async for reply in stub.Diarize(iter(requests), timeout=timeout)]

        with pytest.raises(InvalidInputError):
            await client.channel.call(attempt)
    assert engine.calls == []
