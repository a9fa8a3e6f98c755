"""The ASR stage over gRPC: ``callytics.asr.v1.Transcriber`` around the local engine.

``Transcribe`` runs the engine on a whole call; ``StreamTranscribe`` is live ASR, one
channel of a live call in lockstep (see asr.proto), on a streaming engine: the engine itself
when it can stream, otherwise a :class:`services.asr.streaming.StreamingWhisper` over a
second faster-whisper instance with the same settings (built on the first stream), so that
live decodes never wait behind a whole call's transcription on the same model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import grpc

from core.domain import Transcript, TranscriptionOptions
from core.errors import InvalidInputError, StageError
from core.ports import StreamingTranscriber, Transcriber, TranscriptStream
from services.grpc_server import Done, ProgressRelay, abort_with
from shared.stubs.asr import (
    SAMPLE_BYTES,
    options_from_proto,
    pcm_array,
    update_to_proto,
    word_to_proto,
)
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


def streaming_engine_for(engine: Any) -> StreamingTranscriber:
    """The live side of ``engine``: itself when it streams, otherwise (faster-whisper) a
    :class:`StreamingWhisper` over a separate model instance with the same settings."""
    if getattr(engine, "open_stream", None) is not None:
        return cast(StreamingTranscriber, engine)
    from services.asr.local import FasterWhisperTranscriber
    from services.asr.streaming import StreamingWhisper

    if not isinstance(engine, FasterWhisperTranscriber):
        raise StageError("asr", f"the {type(engine).__name__} engine cannot transcribe live")
    whisper = FasterWhisperTranscriber(
        engine.model_name,
        cache_dir=engine.cache_dir,
        device=engine.policy.device,
        compute_type=engine.policy.compute_type,
        language=engine.language,
        cpu_threads=engine.cpu_threads,
        allow_download=engine.allow_download,
    )
    return StreamingWhisper(whisper)


class TranscriberServicer(asr_pb2_grpc.TranscriberServicer):
    def __init__(self, engine: Transcriber, streaming: StreamingTranscriber | None = None) -> None:
        """``streaming``: the live engine; by default :func:`streaming_engine_for` builds it
        from ``engine`` (and loads it) when the first stream opens."""
        self.engine = engine
        self._streaming = streaming
        self._streaming_loaded = False
        self._streaming_lock = asyncio.Lock()

    async def streaming_engine(self) -> StreamingTranscriber:
        async with self._streaming_lock:
            if self._streaming is None:
                self._streaming = streaming_engine_for(self.engine)
            if not self._streaming_loaded:
                await self._streaming.load()
                self._streaming_loaded = True
            return self._streaming

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

    async def StreamTranscribe(
        self,
        request_iterator: AsyncIterable[asr_pb2.StreamRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[asr_pb2.StreamResponse]:
        stream: TranscriptStream | None = None
        try:
            requests = aiter(request_iterator)
            first = await anext(requests, None)
            if first is None:
                raise InvalidInputError("No stream options: send them first, then the audio.")
            if first.WhichOneof("item") != "options":
                raise InvalidInputError(
                    "The stream did not start with the transcription options.",
                    "Send StreamRequest(options=...) first, then the audio.",
                )
            engine = await self.streaming_engine()
            stream = await engine.open_stream(options_from_proto(first.options))
            async for request in requests:
                item = request.WhichOneof("item")
                if item == "pcm":
                    if len(request.pcm) % SAMPLE_BYTES:
                        raise InvalidInputError(
                            f"A push of {len(request.pcm)} bytes is not a whole number of "
                            "float32 samples."
                        )
                    yield update_to_proto(await stream.push(pcm_array(request.pcm)))
                elif item == "finish":
                    yield update_to_proto(await stream.finish())
                    return  # the stream is over: nothing the client sends now is read
                elif item == "options":
                    raise InvalidInputError("The transcription options were sent twice.")
                else:
                    raise InvalidInputError("An empty StreamRequest (no options, pcm or finish).")
            # The client stopped writing without ``finish``: it gave the stream up.
        except Exception as exc:
            await abort_with(context, exc)
        finally:
            if stream is not None:
                await stream.aclose()


def add_to_server(
    engine: Transcriber, server: grpc.aio.Server, streaming: StreamingTranscriber | None = None
) -> str:
    """``streaming``: the live engine (by default built from ``engine`` on the first stream)."""
    servicer = TranscriberServicer(engine, streaming)
    asr_pb2_grpc.add_TranscriberServicer_to_server(servicer, server)
    return "callytics.asr.v1.Transcriber"
