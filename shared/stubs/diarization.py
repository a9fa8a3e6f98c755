"""GrpcDiarizer: :class:`core.ports.Diarizer` over the ``callytics.diarization.v1`` service.

The client streams the setup (options, what the file was, how many source channels), then
track 0, the mono mix, in chunks of at most :data:`CHUNK_BYTES`, then, for a recording of
two or more channels, tracks 1..n: each source channel. The server streams progress, then
the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from core.domain import (
    Audio,
    AudioInfo,
    Diarization,
    DiarizationOptions,
    Interval,
    SpeakerTurn,
)
from core.errors import InvalidInputError, StageError
from core.ports import ProgressCallback
from shared.stubs.asr import SAMPLE_BYTES, pcm_bytes, pcm_chunks
from shared.stubs.base import GrpcStage
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.callytics.diarization.v1 import diarization_pb2, diarization_pb2_grpc

SPEAKER_OPTIONS = ("num_speakers", "min_speakers", "max_speakers")


def setup_to_proto(
    options: DiarizationOptions, info: AudioInfo, channels: int
) -> diarization_pb2.DiarizeSetup:
    setup = diarization_pb2.DiarizeSetup(
        info=diarization_pb2.AudioInfo(
            duration_s=info.duration_s,
            sample_rate=info.sample_rate,
            channels=info.channels,
            codec=info.codec,
            container=info.container,
        ),
        channels=channels,
    )
    for name in SPEAKER_OPTIONS:
        value = getattr(options, name)
        if value is None:
            continue
        if value < 0:  # uint32 on the wire; the engine says the same of 0
            raise InvalidInputError(f"{name} must be at least 1, got {value}.")
        setattr(setup, name, value)
    return setup


def options_from_proto(setup: diarization_pb2.DiarizeSetup) -> DiarizationOptions:
    values = {n: getattr(setup, n) if setup.HasField(n) else None for n in SPEAKER_OPTIONS}
    return DiarizationOptions(**values)


def info_from_proto(message: diarization_pb2.AudioInfo) -> AudioInfo:
    return AudioInfo(
        duration_s=message.duration_s,
        sample_rate=message.sample_rate,
        channels=message.channels,
        codec=message.codec,
        container=message.container,
    )


def diarization_to_proto(result: Diarization) -> diarization_pb2.Diarization:
    return diarization_pb2.Diarization(
        turns=[
            diarization_pb2.SpeakerTurn(speaker=t.speaker, start=t.start, end=t.end)
            for t in result.turns
        ],
        speakers=result.speakers,
        method=result.method,
        channel_of=result.channel_of,
        speech=[common_pb2.Interval(start=i.start, end=i.end) for i in result.speech],
    )


def diarization_from_proto(message: diarization_pb2.Diarization) -> Diarization:
    # The map comes back in no particular order: keep the speakers' order.
    order = {s: i for i, s in enumerate(message.speakers)}
    channel_of = sorted(message.channel_of.items(), key=lambda kv: (order.get(kv[0], -1), kv))
    return Diarization(
        turns=[SpeakerTurn(t.speaker, t.start, t.end) for t in message.turns],
        speakers=list(message.speakers),
        method=message.method,
        channel_of={speaker: int(channel) for speaker, channel in channel_of},
        speech=[Interval(i.start, i.end) for i in message.speech],
    )


class GrpcDiarizer(GrpcStage):
    stage = "diarization"
    stub_class = diarization_pb2_grpc.DiarizerStub

    async def diarize(
        self,
        audio: Audio,
        options: DiarizationOptions,
        progress: ProgressCallback | None = None,
    ) -> Diarization:
        setup = setup_to_proto(options, audio.info, len(audio.channels))
        await self.load()
        mono = pcm_bytes(audio.mono)
        sources = [pcm_bytes(c) for c in audio.channels] if len(audio.channels) > 1 else []
        seconds = len(mono) / SAMPLE_BYTES / audio.sample_rate

        def requests() -> Iterator[diarization_pb2.DiarizeRequest]:
            yield diarization_pb2.DiarizeRequest(setup=setup)
            for track, data in enumerate([mono, *sources]):
                for chunk in pcm_chunks(data):
                    yield diarization_pb2.DiarizeRequest(
                        chunk=diarization_pb2.AudioChunk(track=track, pcm=chunk)
                    )

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> Diarization:
            stub = self.stub_class(channel)
            result: Diarization | None = None
            # A fresh request stream on every attempt: a retry sends the audio again.
            async for reply in stub.Diarize(requests(), timeout=timeout):
                item = reply.WhichOneof("item")
                if item == "progress":
                    if progress is not None:
                        progress(reply.progress.fraction, reply.progress.message)
                elif item == "result":
                    result = diarization_from_proto(reply.result)
            if result is None:
                raise StageError("diarization", "the stream ended without a result")
            return result

        async def local(engine: Any) -> Diarization:
            result: Diarization = await engine.diarize(audio, options, progress)
            return result

        return await self.channel.call(
            attempt, deadline_s=self.channel.config.deadline_s + seconds, local=local
        )


build_client = GrpcDiarizer.from_settings  # what bootstrap/container.py calls
