"""GrpcTranscriber: :class:`core.ports.Transcriber` over the ``callytics.asr.v1`` service.

The audio travels as a client stream (the options, then 16 kHz float32 PCM in chunks of at
most :data:`CHUNK_BYTES`, under gRPC's 4 MB message limit); the server streams progress,
the words in batches and, last, the language.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np

from core.domain import MODEL_SAMPLE_RATE, Transcript, TranscriptionOptions, Word
from core.errors import StageError
from core.ports import ProgressCallback
from shared.stubs.base import GrpcStage
from shared.stubs.callytics.asr.v1 import asr_pb2, asr_pb2_grpc
from shared.stubs.channel import CHUNK_BYTES

# Bytes of one sample on the wire (float32, little-endian).
SAMPLE_BYTES = 4


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
    message = asr_pb2.TranscriptionOptions(word_timestamps=options.word_timestamps)
    if options.language is not None:
        message.language = options.language
    return message


def options_from_proto(message: asr_pb2.TranscriptionOptions) -> TranscriptionOptions:
    language = message.language if message.HasField("language") else None
    return TranscriptionOptions(language=language, word_timestamps=message.word_timestamps)


def word_to_proto(word: Word) -> asr_pb2.Word:
    return asr_pb2.Word(
        text=word.text, start=word.start, end=word.end, probability=word.probability
    )


def word_from_proto(message: asr_pb2.Word) -> Word:
    return Word(
        text=message.text, start=message.start, end=message.end, probability=message.probability
    )


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


build_client = GrpcTranscriber.from_settings  # what bootstrap/container.py calls
