"""GrpcTranscriber: :class:`core.ports.Transcriber` over the ``callytics.asr.v1`` service.

The audio travels as a client stream (the options, then 16 kHz float32 PCM in chunks of at
most :data:`CHUNK_BYTES`, under gRPC's 4 MB message limit); the server streams progress,
the words in batches and, last, the language.

Live ASR (:class:`core.ports.StreamingTranscriber`) is one bidirectional stream per channel
(``StreamTranscribe``) in lockstep: the options, then one message per push, each answered by
one update, then ``finish``, answered by the last update.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np

from core.domain import (
    MODEL_SAMPLE_RATE,
    StreamUpdate,
    Transcript,
    TranscriptionOptions,
    Word,
)
from core.errors import StageError, StageUnavailableError
from core.ports import ProgressCallback, TranscriptStream
from shared.stubs.base import GrpcStage
from shared.stubs.callytics.asr.v1 import asr_pb2, asr_pb2_grpc
from shared.stubs.channel import CHUNK_BYTES

# Bytes of one sample on the wire (float32, little-endian).
SAMPLE_BYTES = 4
# A live push travels as one message: at most 3.5 MiB (about 57 s of audio), under 4 MB.
MAX_PUSH_BYTES = 7 << 19


def pcm_bytes(samples: np.ndarray) -> memoryview:
    """``samples`` as float32 little-endian bytes, without a copy when they already are."""
    array = np.ascontiguousarray(np.asarray(samples).reshape(-1), dtype="<f4")
    return array.data.cast("B")


def pcm_chunks(data: memoryview, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """``data`` in pieces of at most ``size`` bytes (whole samples each)."""
    size -= size % SAMPLE_BYTES
    for offset in range(0, len(data), size):
        yield bytes(data[offset : offset + size])


def pcm_array(data: bytes | bytearray) -> np.ndarray:
    """PCM bytes back to a float32 array (writable when ``data`` is a bytearray)."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32, copy=False)


def options_to_proto(options: TranscriptionOptions) -> asr_pb2.TranscriptionOptions:
    message = asr_pb2.TranscriptionOptions(
        word_timestamps=options.word_timestamps, terms=list(options.terms)
    )
    if options.language is not None:
        message.language = options.language
    return message


def options_from_proto(message: asr_pb2.TranscriptionOptions) -> TranscriptionOptions:
    language = message.language if message.HasField("language") else None
    return TranscriptionOptions(
        language=language, word_timestamps=message.word_timestamps, terms=tuple(message.terms)
    )


def word_to_proto(word: Word) -> asr_pb2.Word:
    return asr_pb2.Word(
        text=word.text, start=word.start, end=word.end, probability=word.probability
    )


def word_from_proto(message: asr_pb2.Word) -> Word:
    return Word(
        text=message.text, start=message.start, end=message.end, probability=message.probability
    )


def update_to_proto(update: StreamUpdate) -> asr_pb2.StreamResponse:
    return asr_pb2.StreamResponse(
        committed=[word_to_proto(w) for w in update.committed],
        tentative=[word_to_proto(w) for w in update.tentative],
        endpoint=update.endpoint,
        language=update.language,
        stream_time=update.stream_time,
        ends=update.ends,
    )


def update_from_proto(message: asr_pb2.StreamResponse) -> StreamUpdate:
    return StreamUpdate(
        committed=[word_from_proto(w) for w in message.committed],
        tentative=[word_from_proto(w) for w in message.tentative],
        endpoint=message.endpoint,
        language=message.language,
        stream_time=message.stream_time,
        ends=list(message.ends),
    )


async def write(call: Any, request: asr_pb2.StreamRequest) -> None:
    """``call.write(request)``; a call that has ended raises the status it ended with (an
    intercepted call, as every channel's is, says only that it ended)."""
    with contextlib.suppress(asyncio.InvalidStateError):
        await call.write(request)
    if not call.done():
        return
    code = await call.code()
    if code == grpc.StatusCode.OK:
        raise StageError("asr", "the live stream ended before its last update")
    raise grpc.aio.AioRpcError(
        code, await call.initial_metadata(), await call.trailing_metadata(), await call.details()
    )


class GrpcTranscriptStream:
    """:class:`core.ports.TranscriptStream` over one ``StreamTranscribe`` call.

    Lockstep: one request, then its one response, one exchange at a time. An exchange that
    fails or is cancelled halfway leaves the two sides out of step, so it ends the call;
    what is asked of the stream after that raises :class:`StageError`.
    """

    def __init__(self, client: GrpcTranscriber, call: Any, reply_timeout_s: float) -> None:
        self.client = client
        self.call = call
        self.reply_timeout_s = reply_timeout_s
        self._lock = asyncio.Lock()
        self._ended: str | None = None  # why no more exchanges can happen

    async def push(self, samples: np.ndarray) -> StreamUpdate:
        data = pcm_bytes(samples)
        if len(data) > MAX_PUSH_BYTES:
            raise StageError(
                "asr",
                f"a live push of {len(data)} bytes is over the {MAX_PUSH_BYTES}-byte limit "
                "of one message",
                "Push the audio as it arrives, in pieces of a few seconds.",
            )
        return await self._exchange(asr_pb2.StreamRequest(pcm=bytes(data)), last=False)

    async def finish(self) -> StreamUpdate:
        return await self._exchange(asr_pb2.StreamRequest(finish=asr_pb2.StreamFinish()), last=True)

    async def aclose(self) -> None:
        self._ended = self._ended or "the stream was closed"
        if not self.call.done():
            self.call.cancel()

    async def _exchange(self, request: asr_pb2.StreamRequest, *, last: bool) -> StreamUpdate:
        async with self._lock:
            if self._ended is not None:
                raise StageError("asr", f"live stream: {self._ended}")
            try:
                async with asyncio.timeout(self.reply_timeout_s):
                    await write(self.call, request)
                    if last:
                        await self.call.done_writing()
                    reply = await self.call.read()
                    if reply is grpc.aio.EOF:
                        raise StageError("asr", "the live stream ended without an update")
                    if last and await self.call.read() is not grpc.aio.EOF:
                        raise StageError("asr", "the live stream went on after its last update")
            except grpc.aio.AioRpcError as exc:
                self._end("the service ended it")
                raise self.client.channel._from_status(exc) from exc
            except TimeoutError as exc:
                self._end("no update in time")
                raise StageUnavailableError(
                    "asr", f"no live update within {self.reply_timeout_s:.0f} s"
                ) from exc
            except BaseException:  # cancelled halfway, or out of step: the call is over
                self._end("an exchange was cut short")
                raise
            if last:
                self._ended = "it was finished"
            return update_from_proto(reply)

    def _end(self, why: str) -> None:
        self._ended = why
        if not self.call.done():
            self.call.cancel()


class GrpcTranscriber(GrpcStage):
    stage = "asr"
    stub_class = asr_pb2_grpc.TranscriberStub

    async def transcribe(
        self,
        samples: np.ndarray,
        options: TranscriptionOptions,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        await self.load()
        data = pcm_bytes(samples)
        seconds = len(data) / SAMPLE_BYTES / MODEL_SAMPLE_RATE

        def requests() -> Iterator[asr_pb2.TranscribeRequest]:
            yield asr_pb2.TranscribeRequest(options=options_to_proto(options))
            for chunk in pcm_chunks(data):
                yield asr_pb2.TranscribeRequest(pcm=chunk)

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> Transcript:
            stub = self.stub_class(channel)
            words: list[Word] = []
            done: asr_pb2.TranscriptDone | None = None
            # A fresh request stream on every attempt: a retry sends the audio again.
            async for reply in stub.Transcribe(requests(), timeout=timeout):
                item = reply.WhichOneof("item")
                if item == "progress":
                    if progress is not None:
                        progress(reply.progress.fraction, reply.progress.message)
                elif item == "words":
                    words.extend(word_from_proto(w) for w in reply.words.words)
                elif item == "done":
                    done = reply.done
            if done is None:
                raise StageError("asr", "the stream ended without the transcript's language")
            return Transcript(
                words=words,
                language=done.language,
                language_probability=done.language_probability,
            )

        async def local(engine: Any) -> Transcript:
            result: Transcript = await engine.transcribe(samples, options, progress)
            return result

        return await self.channel.call(
            attempt, deadline_s=self.channel.config.deadline_s + seconds, local=local
        )

    async def open_stream(self, options: TranscriptionOptions) -> TranscriptStream:
        """A live stream on one replica (the next channel, like every call). Opening it goes
        through the channel's readiness wait, retries and breaker; with FAILOVER_TO_LOCAL and
        the stage down, the in-process engine's stream stands in when that engine streams.
        A stream's exchanges afterwards are not retried (its audio cannot be replayed)."""
        await self.load()
        reply_timeout_s = self.channel.config.deadline_s

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> TranscriptStream:
            # No deadline on the call itself: it lasts as long as the live call.
            call = self.stub_class(channel).StreamTranscribe()
            try:
                async with asyncio.timeout(timeout):
                    await write(call, asr_pb2.StreamRequest(options=options_to_proto(options)))
                    # The write only queues; this raises the status if the stage is not reached.
                    await call.wait_for_connection()
            except TimeoutError as exc:
                call.cancel()
                raise StageUnavailableError(
                    "asr", f"a live stream did not open within {timeout:.0f} s"
                ) from exc
            except BaseException:
                call.cancel()
                raise
            return GrpcTranscriptStream(self, call, reply_timeout_s)

        async def local(engine: Any) -> TranscriptStream:
            if getattr(engine, "open_stream", None) is None:
                raise StageUnavailableError(
                    "asr",
                    "the asr service is unavailable and the in-process engine cannot "
                    "transcribe live",
                )
            stream: TranscriptStream = await engine.open_stream(options)
            return stream

        return await self.channel.call(attempt, local=local)


build_client = GrpcTranscriber.from_settings  # what bootstrap/container.py calls
