"""The diarization stage over gRPC: ``callytics.diarization.v1.Diarizer`` around the local
engine. The audio is rebuilt exactly as the client had it: the mono mix, and the source
channels when there are two or more (one channel: ``channels`` is ``(mono,)``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import grpc

from core.domain import Audio, DiarizationOptions
from core.errors import InvalidInputError
from core.ports import Diarizer
from services.grpc_server import Done, ProgressRelay, abort_with
from shared.stubs.asr import SAMPLE_BYTES, pcm_array
from shared.stubs.base import stage_info_to_proto
from shared.stubs.callytics.common.v1 import common_pb2
from shared.stubs.callytics.diarization.v1 import diarization_pb2, diarization_pb2_grpc
from shared.stubs.diarization import diarization_to_proto, info_from_proto, options_from_proto

# More source channels than any recording has: refused before anything is allocated.
MAX_CHANNELS = 64


async def read_request(
    requests: AsyncIterable[diarization_pb2.DiarizeRequest],
) -> tuple[DiarizationOptions, Audio]:
    """The setup (the first message) and the audio of the tracks after it."""
    setup: diarization_pb2.DiarizeSetup | None = None
    tracks: list[bytearray] = []
    async for request in requests:
        item = request.WhichOneof("item")
        if item == "setup":
            if setup is not None:
                raise InvalidInputError("The diarization setup was sent twice.")
            setup = request.setup
            if setup.channels > MAX_CHANNELS:
                raise InvalidInputError(
                    f"{setup.channels} channels; at most {MAX_CHANNELS} are supported."
                )
            # track 0 is the mix; the source channels follow only when there are 2 or more
            tracks = [bytearray() for _ in range(1 + (setup.channels if setup.channels > 1 else 0))]
        elif item == "chunk":
            if setup is None:
                raise InvalidInputError("The audio came before the diarization setup.")
            track = request.chunk.track
            if track >= len(tracks):
                raise InvalidInputError(
                    f"Audio for track {track}; a recording of {setup.channels} channel(s) "
                    f"has tracks 0..{len(tracks) - 1}."
                )
            tracks[track] += request.chunk.pcm
        else:
            raise InvalidInputError("An empty DiarizeRequest (neither setup nor chunk).")
    if setup is None:
        raise InvalidInputError("No diarization setup: send it first, then the audio.")
    for track, pcm in enumerate(tracks):
        if len(pcm) % SAMPLE_BYTES:
            raise InvalidInputError(
                f"Track {track} is {len(pcm)} bytes, not a whole number of float32 samples."
            )
    mono, *sources = (pcm_array(pcm) for pcm in tracks)
    # one channel: it is the mix; none: the setup said 0 channels
    channels = (mono,) if setup.channels == 1 else tuple(sources)
    audio = Audio(mono=mono, channels=channels, info=info_from_proto(setup.info))
    return options_from_proto(setup), audio


class DiarizerServicer(diarization_pb2_grpc.DiarizerServicer):
    def __init__(self, engine: Diarizer) -> None:
        self.engine = engine

    async def Info(
        self, request: common_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StageInfo:
        return stage_info_to_proto(self.engine.info())

    async def Diarize(
        self,
        request_iterator: AsyncIterable[diarization_pb2.DiarizeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[diarization_pb2.DiarizeResponse]:
        try:
            options, audio = await read_request(request_iterator)
            relay = ProgressRelay()
            work = cast(
                AsyncGenerator[Any, None],
                relay.run(lambda: self.engine.diarize(audio, options, relay)),
            )
            async with aclosing(work) as items:
                async for item in items:
                    if isinstance(item, Done):
                        yield diarization_pb2.DiarizeResponse(
                            result=diarization_to_proto(item.value)
                        )
                    else:
                        fraction, message = item
                        yield diarization_pb2.DiarizeResponse(
                            progress=common_pb2.Progress(fraction=fraction, message=message)
                        )
        except Exception as exc:
            await abort_with(context, exc)


def add_to_server(engine: Diarizer, server: grpc.aio.Server) -> str:
    diarization_pb2_grpc.add_DiarizerServicer_to_server(DiarizerServicer(engine), server)
    return "callytics.diarization.v1.Diarizer"
