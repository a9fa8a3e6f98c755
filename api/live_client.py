"""The live-call simulator: a recording streamed to ``/v1/live`` at the pace it was spoken.

``callytics live simulate CALL.wav [--speed 1|4]`` is what a telephony bridge does: a start
message with the recording's format, then its audio in frames of ``frame_ms`` (raw PCM16 or
mu-law bytes, as in the file), then ``stop``. The events that come back are handed to
``on_event`` as they arrive; the ``ended`` event (with the post-call job and call) is returned.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import CallyticsError, InvalidInputError
from core.live.audio import LiveFormat

MODEL_RATE = 16000


@dataclass(frozen=True)
class Recording:
    format: LiveFormat
    data: bytes  # raw frames as sent: interleaved samples

    @property
    def seconds(self) -> float:
        return self.format.seconds(len(self.data))

    def frames(self, frame_ms: int) -> Iterator[bytes]:
        size = max(1, int(self.format.sample_rate * frame_ms / 1000)) * self.format.frame_bytes
        for offset in range(0, len(self.data), size):
            yield self.data[offset : offset + size]


def _wav_chunks(raw: bytes) -> dict[bytes, bytes]:
    if raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return {}
    chunks: dict[bytes, bytes] = {}
    at = 12
    while at + 8 <= len(raw):
        name, size = raw[at : at + 4], struct.unpack("<I", raw[at + 4 : at + 8])[0]
        chunks.setdefault(name, raw[at + 8 : at + 8 + size])
        at += 8 + size + (size & 1)
    return chunks


def load_recording(path: Path) -> Recording:
    """A WAV of PCM16 or mu-law at 8/16 kHz, mono or stereo, is sent as it is; any other
    recording soundfile reads is sent as 16 kHz PCM16 (mono or its first two channels)."""
    raw = path.read_bytes()
    chunks = _wav_chunks(raw)
    if b"fmt " in chunks and b"data" in chunks:
        tag, channels, rate = struct.unpack("<HHI", chunks[b"fmt "][:8])
        bits = struct.unpack("<H", chunks[b"fmt "][14:16])[0]
        encoding = {(1, 16): "pcm16", (7, 8): "mulaw"}.get((tag, bits))
        if encoding and rate in (8000, 16000) and channels in (1, 2):
            return Recording(LiveFormat(encoding, rate, channels), chunks[b"data"])  # type: ignore[arg-type]
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:
        raise InvalidInputError(f"{path} is not a recording this can read ({exc}).") from exc
    samples = samples[:, :2]
    if rate != MODEL_RATE:
        n = int(len(samples) * MODEL_RATE / rate)
        at = np.arange(n) * rate / MODEL_RATE
        samples = np.stack([np.interp(at, np.arange(len(samples)), c) for c in samples.T], axis=1)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    return Recording(LiveFormat("pcm16", MODEL_RATE, pcm.shape[1]), pcm.tobytes())


def live_url(server: str) -> str:
    server = server.rstrip("/")
    if server.startswith("https://"):
        server = "wss://" + server[len("https://") :]
    elif server.startswith("http://"):
        server = "ws://" + server[len("http://") :]
    elif not server.startswith(("ws://", "wss://")):
        server = "ws://" + server
    return server + "/v1/live"


class LiveRefused(CallyticsError):
    """The server refused the live call (its error message)."""


async def simulate(
    server: str,
    recording: Recording,
    *,
    speed: float = 1.0,
    frame_ms: int = 100,
    api_key: str | None = None,
    start: dict[str, Any] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Stream ``recording`` (``speed`` times real time; 0: as fast as the socket takes it)
    and return the ``ended`` event. ``on_event`` sees every event, ``started`` first."""
    import websockets

    fmt = recording.format
    message = {
        "type": "start",
        "encoding": fmt.encoding,
        "sample_rate": fmt.sample_rate,
        "channels": fmt.channels,
        **(start or {}),
    }
    headers = {"X-API-Key": api_key} if api_key else {}
    loop = asyncio.get_running_loop()
    now = clock or loop.time
    async with websockets.connect(
        live_url(server), additional_headers=headers, max_size=1 << 24
    ) as socket:
        await socket.send(json.dumps(message))
        first = json.loads(await socket.recv())
        if first.get("type") == "error":
            raise LiveRefused(first.get("message", "refused"), first.get("hint", ""))
        if on_event:
            on_event(first)
        ended: asyncio.Future[dict[str, Any]] = loop.create_future()

        async def receive() -> None:
            async for raw in socket:
                event = json.loads(raw)
                if on_event:
                    on_event(event)
                if event.get("type") == "error" and not ended.done():
                    ended.set_exception(LiveRefused(event["message"], event.get("hint", "")))
                if event.get("type") == "ended" and not ended.done():
                    ended.set_result(event)
            if not ended.done():
                ended.set_exception(LiveRefused("The server closed the live call early."))

        reader = asyncio.create_task(receive())
        try:
            began = now()
            frame_s = frame_ms / 1000
            for i, frame in enumerate(recording.frames(frame_ms)):
                if speed > 0:
                    delay = began + i * frame_s / speed - now()
                    if delay > 0:
                        await asyncio.sleep(delay)  # pacing the audio, as a phone line does
                if ended.done():
                    break
                await socket.send(frame)
            if not ended.done():
                await socket.send(json.dumps({"type": "stop"}))
            return await ended
        finally:
            reader.cancel()
