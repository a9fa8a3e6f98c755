"""A live call's audio: the wire formats a telephony bridge sends, and the file it is kept in.

Frames are raw samples, interleaved when there are two channels (agent and customer):
16-bit little-endian PCM (``pcm16``) or G.711 mu-law (``mulaw``), at 8 or 16 kHz. The bytes
are written as they come into a WAV file (PCM or mu-law, the header's sizes kept current),
so what was received is on disk even if the process dies, and the post-call pipeline reads
exactly what an upload of the same recording would give it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from core.domain import MODEL_SAMPLE_RATE
from core.errors import InvalidInputError

Encoding = Literal["pcm16", "mulaw"]
ENCODINGS: tuple[str, ...] = ("pcm16", "mulaw")
SAMPLE_RATES = (8000, 16000)


def _mulaw_table() -> np.ndarray:
    """G.711 mu-law byte -> 16-bit linear sample (the standard expansion, as FFmpeg's)."""
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


MULAW = _mulaw_table()


@dataclass(frozen=True)
class LiveFormat:
    encoding: Encoding = "pcm16"
    sample_rate: int = 16000
    channels: int = 1

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise InvalidInputError(
                f"encoding must be one of {', '.join(ENCODINGS)}, not {self.encoding!r}.",
                "Send 16-bit little-endian PCM (pcm16) or G.711 mu-law (mulaw).",
            )
        if self.sample_rate not in SAMPLE_RATES:
            raise InvalidInputError(
                f"sample_rate must be 8000 or 16000, not {self.sample_rate!r}.",
                "Resample the stream to 8 or 16 kHz.",
            )
        if self.channels not in (1, 2):
            raise InvalidInputError(
                f"channels must be 1 or 2, not {self.channels!r}.",
                "Send mono, or two channels (agent and customer) interleaved.",
            )

    @property
    def sample_bytes(self) -> int:
        return 2 if self.encoding == "pcm16" else 1

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample of every channel."""
        return self.sample_bytes * self.channels

    def seconds(self, size: int) -> float:
        return size / (self.frame_bytes * self.sample_rate)

    def decode(self, data: bytes) -> np.ndarray:
        """Frame bytes -> float32 array (channels, samples) at the models' 16 kHz."""
        if len(data) % self.frame_bytes:
            raise InvalidInputError(
                f"A frame of {len(data)} bytes is not a whole number of samples "
                f"({self.frame_bytes} bytes each for {self.encoding} x {self.channels}).",
                "Send whole samples in every frame.",
            )
        if self.encoding == "pcm16":
            linear = np.frombuffer(data, dtype="<i2")
        else:
            linear = MULAW[np.frombuffer(data, dtype=np.uint8)]
        samples = linear.astype(np.float32) / 32768.0
        per_channel = samples.reshape(-1, self.channels).T
        if self.sample_rate == MODEL_SAMPLE_RATE:
            return np.ascontiguousarray(per_channel)
        return np.stack([upsample(channel, self.sample_rate) for channel in per_channel])


def upsample(samples: np.ndarray, rate: int) -> np.ndarray:
    """``rate`` (8 kHz) -> 16 kHz by linear interpolation: telephony speech has nothing above
    4 kHz for a better filter to keep, and the stored file keeps the original anyway."""
    factor = MODEL_SAMPLE_RATE // rate
    n = len(samples)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    at = np.arange(n * factor, dtype=np.float64) / factor
    out: np.ndarray = np.interp(at, np.arange(n), samples).astype(np.float32)
    return out


class WavRecorder:
    """Appends frames to a WAV file and keeps its header's sizes current after each one."""

    def __init__(self, path: Path, fmt: LiveFormat) -> None:
        self.path = path
        self.format = fmt
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = path.open("w+b")
        self.data_bytes = 0
        self._file.write(self._header(0))
        self._file.flush()

    def _header(self, data_bytes: int) -> bytes:
        fmt = self.format
        tag = 1 if fmt.encoding == "pcm16" else 7  # WAVE_FORMAT_PCM / WAVE_FORMAT_MULAW
        bits = fmt.sample_bytes * 8
        block = fmt.frame_bytes
        chunk = struct.pack(
            "<HHIIHHH",
            tag,
            fmt.channels,
            fmt.sample_rate,
            fmt.sample_rate * block,
            block,
            bits,
            0,
        )
        fmt_chunk = b"fmt " + struct.pack("<I", len(chunk)) + chunk
        data_head = b"data" + struct.pack("<I", data_bytes)
        riff_size = 4 + len(fmt_chunk) + len(data_head) + data_bytes
        return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + fmt_chunk + data_head

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.data_bytes += len(data)
        self._file.seek(0)
        self._file.write(self._header(self.data_bytes))
        self._file.seek(0, 2)
        self._file.flush()

    @property
    def seconds(self) -> float:
        return self.format.seconds(self.data_bytes)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
