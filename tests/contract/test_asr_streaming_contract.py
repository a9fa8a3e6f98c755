"""core.ports.StreamingTranscriber over gRPC (``StreamTranscribe``): the live stream through
a real server on a loopback port commits the same words as the in-process engine.

The server is given the whole-call engine (faster-whisper tiny.en) as ``callytics stage asr``
is; it builds its own streaming engine over a second model instance. The audio is the first
20 s of the agent's channel of a rendered call, pushed 0.5 s at a time as a live call would.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from core.domain import StageInfo, StreamUpdate, Transcript, TranscriptionOptions, Word
from core.errors import InvalidInputError, StageError, StageUnavailableError
from samples import load_script, render_call
from services.asr.local import FasterWhisperTranscriber
from services.asr.server import streaming_engine_for
from services.asr.streaming import StreamingWhisper
from services.decode.local import decode
from services.grpc_server import StageServer
from shared.stubs.asr import (
    MAX_PUSH_BYTES,
    GrpcTranscriber,
    GrpcTranscriptStream,
    options_to_proto,
)
from shared.stubs.callytics.asr.v1 import asr_pb2, asr_pb2_grpc
from shared.stubs.channel import ChannelConfig
from tests.contract.conftest import served

RATE = 16_000
PUSH = RATE // 2  # 0.5 s
OPTIONS = TranscriptionOptions()


@pytest.fixture(scope="module")
def agent_channel(tmp_path_factory) -> np.ndarray:
    path = Path(tmp_path_factory.mktemp("calls")) / "cancellation.wav"
    render_call(load_script("cancellation"), path, layout="stereo")
    return decode(path).channels[0][: 20 * RATE]


async def run_stream(engine: Any, samples: np.ndarray) -> list[StreamUpdate]:
    stream = await engine.open_stream(OPTIONS)
    try:
        updates = [await stream.push(samples[i : i + PUSH]) for i in range(0, len(samples), PUSH)]
        updates.append(await stream.finish())
    finally:
        await stream.aclose()
    return updates


def committed(updates: list[StreamUpdate]) -> list[Word]:
    return [w for u in updates for w in u.committed]


async def test_live_words_over_grpc_equal_the_in_process_stream(
    agent_channel, local_engines, contract_settings
):
    whole_call = local_engines("asr")
    reference = streaming_engine_for(whole_call)
    await reference.load()
    expected = await run_stream(reference, agent_channel)

    async with served("asr", whole_call, contract_settings) as client:
        got = await run_stream(client, agent_channel)

    pushes = -(-len(agent_channel) // PUSH)
    assert len(got) == pushes + 1  # lockstep: one update a push, one for finish
    words = committed(got)
    assert len(words) > 10
    text = " ".join(w.text for w in words).lower()
    assert "thank you for calling" in text
    # the same model on the same pushes decodes the same: word for word, time for time
    assert [(w.text, w.start, w.end) for w in words] == [
        (w.text, w.start, w.end) for w in committed(expected)
    ]
    for g, e in zip(words, committed(expected), strict=True):
        assert g.probability == pytest.approx(e.probability, abs=1e-6)
    assert [(u.endpoint, u.language) for u in got] == [(u.endpoint, u.language) for u in expected]
    assert [u.stream_time for u in got] == pytest.approx([u.stream_time for u in expected])
    assert [[w.text for w in u.tentative] for u in got] == [
        [w.text for w in u.tentative] for u in expected
    ]
    assert any(u.endpoint for u in got[:-1])  # a pause inside the 20 s ended an utterance
    assert got[-1].endpoint and got[-1].tentative == []
    assert got[-1].stream_time == pytest.approx(len(agent_channel) / RATE)
    assert all(w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))


def test_the_server_streams_on_its_own_model_instance(local_engines):
    whole_call = local_engines("asr")
    live = streaming_engine_for(whole_call)
    assert isinstance(live, StreamingWhisper)
    twin = live.transcriber
    assert twin is not whole_call
    assert twin._infer_lock is not whole_call._infer_lock
    assert (twin.model_name, twin.cache_dir, twin.policy, twin.cpu_threads) == (
        whole_call.model_name,
        whole_call.cache_dir,
        whole_call.policy,
        whole_call.cpu_threads,
    )
    assert (twin.language, twin.allow_download) == (whole_call.language, whole_call.allow_download)


# ---------------------------------------------------------------- the wire, with a fake engine


class EchoStream:
    """Commits one word per push, named after the push's sample count and first value."""

    def __init__(self, engine: EchoEngine) -> None:
        self.engine = engine
        self.received = 0

    async def push(self, samples: np.ndarray) -> StreamUpdate:
        self.engine.pushes.append(np.array(samples, copy=True))
        start = self.received / RATE
        self.received += len(samples)
        word = Word(f"n{len(samples)}", start, self.received / RATE, 0.5)
        return StreamUpdate([word], [Word("maybe", start, start + 0.1, 0.25)], False, "xx", start)

    async def finish(self) -> StreamUpdate:
        return StreamUpdate([], [], True, "xx", self.received / RATE)

    async def aclose(self) -> None:
        self.engine.closed += 1


class EchoEngine:
    def __init__(self) -> None:
        self.options: list[TranscriptionOptions] = []
        self.pushes: list[np.ndarray] = []
        self.closed = 0

    def info(self) -> StageInfo:
        return StageInfo("local", "echo", "none")

    async def load(self) -> None:
        return None

    async def transcribe(self, samples, options, progress=None) -> Transcript:
        return Transcript(words=[], language="xx")

    async def open_stream(self, options: TranscriptionOptions) -> EchoStream:
        self.options.append(options)
        return EchoStream(self)


async def test_each_push_gets_its_own_update_and_finish_ends_the_call(contract_settings):
    engine = EchoEngine()
    options = TranscriptionOptions(language="de", word_timestamps=False)
    rng = np.random.default_rng(0)
    chunks = [rng.standard_normal(n).astype(np.float32) for n in (8000, 1, 12_345)]
    async with served("asr", engine, contract_settings) as client:
        stream = await client.open_stream(options)
        assert isinstance(stream, GrpcTranscriptStream)
        updates = [await stream.push(c) for c in chunks]
        last = await stream.finish()
        assert stream.call.done() and await stream.call.code() == grpc.StatusCode.OK
        with pytest.raises(StageError, match="finished"):
            await stream.push(chunks[0])
        await stream.aclose()
    assert engine.options == [options]
    assert all(np.array_equal(a, b) for a, b in zip(engine.pushes, chunks, strict=True))
    assert [u.committed[0].text for u in updates] == ["n8000", "n1", "n12345"]
    assert updates[1].tentative == [Word("maybe", 0.5, 0.6, 0.25)]
    assert (updates[2].language, updates[2].stream_time) == ("xx", pytest.approx(8001 / RATE))
    assert last == StreamUpdate([], [], True, "xx", pytest.approx(20_346 / RATE))
    assert engine.closed == 1


async def test_a_push_over_one_message_is_refused(contract_settings):
    engine = EchoEngine()
    async with served("asr", engine, contract_settings) as client:
        stream = await client.open_stream(OPTIONS)
        with pytest.raises(StageError, match="limit"):
            await stream.push(np.zeros(MAX_PUSH_BYTES // 4 + 1, dtype=np.float32))
        update = await stream.push(np.zeros(MAX_PUSH_BYTES // 4, dtype=np.float32))
        await stream.aclose()
    assert update.committed[0].text == f"n{MAX_PUSH_BYTES // 4}"


async def test_closing_a_stream_cancels_the_call(contract_settings):
    engine = EchoEngine()
    async with served("asr", engine, contract_settings) as client:
        stream = await client.open_stream(OPTIONS)
        await stream.push(np.zeros(10, dtype=np.float32))
        await stream.aclose()
        assert stream.call.cancelled()
        with pytest.raises(StageError, match="closed"):
            await stream.push(np.zeros(10, dtype=np.float32))


OPTIONS_MSG = asr_pb2.StreamRequest(options=options_to_proto(OPTIONS))
PCM_MSG = asr_pb2.StreamRequest(pcm=b"\0" * 8)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([PCM_MSG], "did not start with the transcription options"),
        ([asr_pb2.StreamRequest(finish=asr_pb2.StreamFinish())], "did not start with"),
        ([OPTIONS_MSG, asr_pb2.StreamRequest(pcm=b"\0" * 6)], "whole number"),
        ([OPTIONS_MSG, OPTIONS_MSG], "sent twice"),
        ([OPTIONS_MSG, asr_pb2.StreamRequest()], "empty StreamRequest"),
        ([], "No stream options"),
    ],
    ids=["pcm-first", "finish-first", "odd-bytes", "options-twice", "empty-request", "nothing"],
)
async def test_a_malformed_stream_is_invalid_argument(contract_settings, requests, message):
    engine = EchoEngine()
    async with served("asr", engine, contract_settings) as client:

        async def attempt(channel, timeout):
            call = asr_pb2_grpc.TranscriberStub(channel).StreamTranscribe(timeout=timeout)
            for request in requests:
                await call.write(request)
            await call.done_writing()
            return [reply async for reply in call]

        with pytest.raises(grpc.aio.AioRpcError) as raw:
            await attempt(client.channel.channel(), 10.0)
        assert raw.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in (raw.value.details() or "")
        # the client turns it into the core error, as for every other call
        with pytest.raises(InvalidInputError, match=message):
            await client.channel.call(attempt)
    assert engine.pushes == []


async def test_an_engine_that_cannot_stream_says_so(contract_settings):
    class WholeCallsOnly(EchoEngine):
        open_stream = None  # type: ignore[assignment]

    async with served("asr", WholeCallsOnly(), contract_settings) as client:
        stream = await client.open_stream(OPTIONS)
        with pytest.raises(StageError, match="cannot transcribe live"):
            await stream.push(np.zeros(10, dtype=np.float32))


def test_faster_whisper_is_what_the_server_knows_how_to_wrap():
    engine = FasterWhisperTranscriber("tiny.en", device="cpu", cpu_threads=1, language="en")
    live = streaming_engine_for(engine)
    assert isinstance(live, StreamingWhisper)
    assert live.transcriber.cpu_threads == 1
    assert live.transcriber.language == "en"
    assert live.beam_size == 1


@pytest.mark.parametrize("fallback", [None, FasterWhisperTranscriber, EchoEngine])
async def test_an_unreachable_service_fails_over_only_to_a_streaming_engine(fallback):
    client = GrpcTranscriber(
        "127.0.0.1:9",  # discard: nothing listens there
        ChannelConfig(ready_timeout_s=0.2, retries=0),
        fallback=(lambda: fallback("tiny.en"))
        if fallback is FasterWhisperTranscriber
        else fallback,
    )
    try:
        if fallback is EchoEngine:
            stream = await client.open_stream(OPTIONS)
            update = await stream.push(np.zeros(10, dtype=np.float32))
            assert update.committed[0].text == "n10"
        else:
            with pytest.raises(StageUnavailableError, match="unavailable"):
                await client.open_stream(OPTIONS)
    finally:
        await client.aclose()


async def test_a_stream_whose_server_went_away_fails_and_stays_failed(contract_settings):
    engine = EchoEngine()
    server = StageServer("asr", engine, host="127.0.0.1", port=0)
    await server.start()
    client = GrpcTranscriber(server.address, ChannelConfig(retries=0))
    try:
        stream = await client.open_stream(OPTIONS)
        await stream.push(np.zeros(10, dtype=np.float32))
        await server.stop(0)
        with pytest.raises(StageError):
            await stream.push(np.zeros(10, dtype=np.float32))
        with pytest.raises(StageError, match="ended it"):
            await stream.finish()
    finally:
        await client.aclose()
        await server.stop(0)
