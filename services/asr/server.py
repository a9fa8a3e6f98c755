"""The ASR stage over gRPC: ``callytics.asr.v1.Transcriber`` around the local engine."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import grpc

from core.domain import Transcript, TranscriptionOptions
from core.errors import InvalidInputError
from core.ports import Transcriber
from services.grpc_server import Done, ProgressRelay, abort_with
from shared.stubs.asr import SAMPLE_BYTES, options_from_proto, pcm_array, word_to_proto
from shared.stubs.base import stage_info_to_proto
from shared.stubs.callytics.asr.v1 import asr_pb2, asr_pb2_grpc
from shared.stubs.callytics.common.v1 import common_pb2

# Words per response message: 2,000 words are about 80 kB, far under the 4 MB limit.
BATCH_WORDS = 2000


async def read_request(
    requests: AsyncIterable[asr_pb2.TranscribeRequest],
) -> tuple[TranscriptionOptions, bytearray]:
    """The options (the first message) and the PCM of all the chunks after it."""
    options: TranscriptionOptions | None = None
    pcm = bytearray()
    async for request in requests:
        item = request.WhichOneof("item")
        if item == "options":
            if options is not None:
                raise InvalidInputError("The transcription options were sent twice.")
            options = options_from_proto(request.options)
        elif item == "pcm":
            if options is None:
                raise InvalidInputError("The audio came before the transcription options.")
            pcm += request.pcm
        else:
            raise InvalidInputError("An empty TranscribeRequest (neither options nor pcm).")
    if options is None:
        raise InvalidInputError("No transcription options: send them first, then the audio.")
    if len(pcm) % SAMPLE_BYTES:
        raise InvalidInputError(
            f"The audio is {len(pcm)} bytes, not a whole number of float32 samples."
        )
    return options, pcm


def transcript_responses(transcript: Transcript) -> list[asr_pb2.TranscribeResponse]:
    words = [word_to_proto(w) for w in transcript.words]
    replies = [
        asr_pb2.TranscribeResponse(words=asr_pb2.Words(words=words[i : i + BATCH_WORDS]))
        for i in range(0, len(words), BATCH_WORDS)
    ]
    done = asr_pb2.TranscriptDone(
        language=transcript.language, language_probability=transcript.language_probability
    )
    return [*replies, asr_pb2.TranscribeResponse(done=done)]


class TranscriberServicer(asr_pb2_grpc.TranscriberServicer):
    def __init__(self, engine: Transcriber) -> None:
        self.engine = engine

    async def Info(
        self, request: common_pb2.InfoRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.StageInfo:
        return stage_info_to_proto(self.engine.info())

    async def Transcribe(
        self,
        request_iterator: AsyncIterable[asr_pb2.TranscribeRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[asr_pb2.TranscribeResponse]:
        try:
            options, pcm = await read_request(request_iterator)
            samples = pcm_array(pcm)
            relay = ProgressRelay()
            work = cast(
                AsyncGenerator[Any, None],
                relay.run(lambda: self.engine.transcribe(samples, options, relay)),
            )
            async with aclosing(work) as items:
                async for item in items:
                    if isinstance(item, Done):
                        for reply in transcript_responses(item.value):
                            yield reply
                    else:
                        fraction, message = item
                        yield asr_pb2.TranscribeResponse(
                            progress=common_pb2.Progress(fraction=fraction, message=message)
                        )
        except Exception as exc:
            await abort_with(context, exc)


def add_to_server(engine: Transcriber, server: grpc.aio.Server) -> str:
    asr_pb2_grpc.add_TranscriberServicer_to_server(TranscriberServicer(engine), server)
    return "callytics.asr.v1.Transcriber"
