"""Decode any common audio container with PyAV into 16 kHz float32 (mono mix + each channel).

Decoding is cheap and stays in-process (it is not a stage with a gRPC twin). Anything that
is not decodable audio becomes an :class:`UnsupportedAudioError` with a message that says
what to do, never a crash.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from core.domain import MODEL_SAMPLE_RATE, Audio, AudioInfo
from core.errors import AudioTooLongError, UnsupportedAudioError

# FFmpeg names some decoders after their sample format; report the codec itself.
DECODER_TO_CODEC = {"mp3float": "mp3", "mp2float": "mp2", "aac_fixed": "aac", "ac3_fixed": "ac3"}
SUPPORTED_HINT = (
    "Send a recording in wav, flac, mp3, ogg/opus, m4a/aac or webm with an audio track."
)


# A dual-channel call keeps both channels; a file with more is decoded as its mono mix.
MAX_KEPT_CHANNELS = 2
# Without a duration limit, decoding reserves room for this much at first and grows after.
PREALLOCATE_AT_MOST_S = 4 * 3600.0


class SampleBuffer:
    """Decoded samples, channel by row, in one array sized from the declared duration (grown
    by half when a file runs longer): peak memory is the audio itself, not twice it."""

    def __init__(self, channels: int, expected: int, limit: int | None) -> None:
        self.data = np.empty((channels, max(expected, 1)), dtype=np.float32)
        self.size = 0
        self.limit = limit

    @property
    def over_limit(self) -> bool:
        return self.limit is not None and self.size > self.limit

    def append(self, frames: np.ndarray) -> None:
        """``frames``: (samples, channels), as a packed audio frame holds them."""
        end = self.size + frames.shape[0]
        if end > self.data.shape[1]:
            grown = np.empty(
                (self.data.shape[0], max(end, self.data.shape[1] * 3 // 2)), np.float32
            )
            grown[:, : self.size] = self.data[:, : self.size]
            self.data = grown
        window = self.data[:, self.size : end]
        window[...] = frames.T
        # NaN (a corrupt float WAV) would pass np.clip and poison every model: silence it,
        # frame by frame, so no temporary as large as the whole recording is ever made.
        np.nan_to_num(window, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(window, -1.0, 1.0, out=window)
        self.size = end

    def samples(self) -> np.ndarray:
        return self.data[:, : self.size]


def _frames(frame: av.AudioFrame, channels: int, kept: int) -> np.ndarray:
    """A packed frame's samples as (samples, kept): all channels, or their mean."""
    samples = frame.to_ndarray().reshape(-1, channels)
    return samples if kept == channels else samples.mean(axis=1, keepdims=True)


class InvalidPath(UnsupportedAudioError):
    code = "file_not_found"


def _reason(exc: Exception) -> str:
    """What went wrong, without the file's path (a server's spool path is not the client's
    business): FFmpeg's own words."""
    reason = getattr(exc, "strerror", None)
    return str(reason) if reason else type(exc).__name__


def _fail(message: str) -> UnsupportedAudioError:
    return UnsupportedAudioError(message, SUPPORTED_HINT)


def probe_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _check_file(path: Path, label: str) -> None:
    if not path.is_file():
        raise InvalidPath(f"No such file: {path}")
    if path.stat().st_size == 0:
        raise _fail(f"{label} is empty (0 bytes).")


@contextmanager
def _open_audio(
    opened: str | BinaryIO, label: str, max_seconds: float | None
) -> Iterator[tuple[av.container.InputContainer, av.AudioStream, float | None]]:
    """Open ``opened``, require an audio track and check its declared length.

    Yields the container, its first audio stream and the declared duration (None when the
    container does not say). ``label`` names the file in error messages.
    """
    try:
        container = av.open(opened, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise _fail(f"{label} is not a readable audio file ({_reason(exc)}).") from exc
    with container:
        if not container.streams.audio:
            kinds = sorted({str(s.type) for s in container.streams}) or ["nothing"]
            raise _fail(f"{label} has no audio track (it holds: {', '.join(kinds)}).")
        stream = container.streams.audio[0]
        declared = probe_duration(container, stream)
        if max_seconds and declared is not None and declared > max_seconds:
            raise AudioTooLongError(
                f"The recording lasts {declared / 60:.1f} min, over the limit of "
                f"{max_seconds / 60:.1f} min.",
                "Split the call, or raise MAX_AUDIO_SECONDS.",
            )
        yield container, stream, declared


def _codec_name(ctx: av.AudioCodecContext) -> str:
    return DECODER_TO_CODEC.get(ctx.name, ctx.name) or "unknown"


def probe(path: str | os.PathLike[str], *, max_seconds: float | None = None) -> AudioInfo:
    """Check, cheaply, that ``path`` is audio we can analyse, before a job is queued for it.

    Opens the container, requires an audio stream, checks the declared duration against
    ``max_seconds`` and decodes the first frames. Raises the same errors as :func:`decode`;
    damage further into the file is found (and reported on the job) when it is decoded.
    """
    path = Path(path)
    _check_file(path, "The file")
    with _open_audio(str(path), "The file", max_seconds) as (container, stream, declared):
        ctx = stream.codec_context
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += frame.samples
                if decoded >= (ctx.sample_rate or MODEL_SAMPLE_RATE):
                    break
        except av.error.FFmpegError as exc:
            if not decoded:
                raise _fail(f"The file could not be decoded ({_reason(exc)}).") from exc
        if not decoded:
            raise _fail("The file holds no audio samples.")
        return AudioInfo(
            duration_s=round(declared, 3) if declared is not None else 0.0,
            sample_rate=ctx.sample_rate or 0,
            channels=ctx.channels or len(stream.layout.channels) or 1,
            codec=_codec_name(ctx),
            container=container.format.name if container.format else "",
        )


def decode(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    max_seconds: float | None = None,
    target_rate: int = MODEL_SAMPLE_RATE,
) -> Audio:
    """Decode ``source`` (a path, bytes or a binary file object).

    Raises UnsupportedAudioError for empty, non-audio or undecodable input and
    AudioTooLongError when the audio is longer than ``max_seconds``.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = path.name
        _check_file(path, label)
        opened: str | BinaryIO = str(path)
    elif isinstance(source, bytes):
        label = "The upload"
        if not source:
            raise _fail("The upload is empty (0 bytes).")
        opened = io.BytesIO(source)
    else:
        label = "The upload"
        opened = source

    with _open_audio(opened, label, max_seconds) as (container, stream, declared):
        ctx = stream.codec_context
        channels = ctx.channels or len(stream.layout.channels) or 1
        info_rate = ctx.sample_rate or 0
        # Only a dual-channel call's channels are analysed one by one; more channels are
        # diarized as their mix, so they are averaged frame by frame here and memory stays
        # at two channels at most, whatever the file holds. Packed (interleaved) frames:
        # one plane, however many channels (PyAV's planar to_ndarray crashes from 8 on).
        kept = channels if channels <= MAX_KEPT_CHANNELS else 1
        resampler = av.AudioResampler(format="flt", layout=stream.layout, rate=target_rate)
        limit = None if max_seconds is None else int(max_seconds * target_rate) + target_rate
        # Sized from the declared duration, which a damaged header can inflate: at most the
        # limit (np.empty only reserves pages; those never written are never used).
        expected_s = min(declared or 60.0, max_seconds or PREALLOCATE_AT_MOST_S)
        buffer = SampleBuffer(kept, int(expected_s * target_rate) + target_rate, limit)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    buffer.append(_frames(out, channels, kept))
                if buffer.over_limit and max_seconds:
                    raise AudioTooLongError(
                        f"The recording is longer than the limit of {max_seconds / 60:.1f} min.",
                        "Split the call, or raise MAX_AUDIO_SECONDS.",
                    )
            for out in resampler.resample(None):
                buffer.append(_frames(out, channels, kept))
        except av.error.FFmpegError as exc:
            # A truncated file decodes up to the damage; keep what came out if anything did.
            if not buffer.size:
                raise _fail(f"{label} could not be decoded ({_reason(exc)}).") from exc
        codec = _codec_name(ctx)
        container_name = container.format.name if container.format else ""

    if not buffer.size:
        raise _fail(f"{label} holds no audio samples.")
    if buffer.size < target_rate // 10:
        raise _fail(f"{label} is too short to analyse ({buffer.size / target_rate:.2f} s).")
    info = AudioInfo(
        duration_s=round(buffer.size / target_rate, 3),
        sample_rate=info_rate,
        channels=channels,
        codec=codec,
        container=container_name,
    )
    return audio_from_samples(buffer.samples(), info)


def audio_from_samples(data: np.ndarray, info: AudioInfo) -> Audio:
    """``data`` (kept channels x samples, float32, C order) as an Audio: each row a channel
    (contiguous, no copy), the mono mix their mean (or the one channel itself)."""
    per_channel = tuple(data[i] for i in range(data.shape[0]))
    mono = data.mean(axis=0, dtype=np.float32) if data.shape[0] > 1 else per_channel[0]
    return Audio(mono=np.ascontiguousarray(mono, dtype=np.float32), channels=per_channel, info=info)
