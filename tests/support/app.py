"""The API under test: a container with fake (instant) engines, a TestClient, a live server.

The engines are fakes so that API tests test the API; the real models are exercised by the
integration tests and by the live-server tests that opt into them.
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import wave
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from dependency_injector import providers

from bootstrap.container import Container, build_container
from bootstrap.settings import Settings
from core.domain import SpeakerTurn
from tests.unit.fakes import (
    FakeCallAnalyzer,
    FakeDiarizer,
    FakeEmbedder,
    FakeSentimentAnalyzer,
    FakeStreamingTranscriber,
    FakeTranscriber,
    words_of,
)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/callytics.db",
        "storage_dir": tmp_path / "audio",
        "model_cache_dir": tmp_path / "models",
        "redis_url": None,
        "job_backend": "local",
        "llm_provider": "rules",
        "max_upload_mb": 5,
        "max_audio_seconds": 600.0,
        # In process: these tests are about the API over fake engines, and a child process
        # per probe and decode costs 0.7 s an upload. The child-process path (the default)
        # is what every real `callytics serve` in the suite runs, and what
        # tests/integration/test_decode_isolated.py and the many-channel upload test check.
        "decode_in_subprocess": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class GatedTranscriber(FakeTranscriber):
    """Blocks inside the ASR stage until the test opens the gate (a threading.Event)."""

    def __init__(self, words: Any) -> None:
        super().__init__(words)
        self.entered = threading.Event()
        self.gate = threading.Event()

    async def transcribe(self, samples, options, progress=None):  # type: ignore[no-untyped-def]
        self.entered.set()
        await asyncio.to_thread(self.gate.wait, 30)
        return await super().transcribe(samples, options, progress)


def fake_engines(transcriber: Any = None) -> dict[str, Any]:
    words = words_of("thank you for calling how can I help", 0.2) + words_of(
        "my bill is wrong and I want a refund", 4.6
    )
    return {
        "diarizer": FakeDiarizer([SpeakerTurn("S1", 0, 4), SpeakerTurn("S2", 4.5, 9)]),
        "transcriber": transcriber or FakeTranscriber(words),
        "sentiment": FakeSentimentAnalyzer(),
        "embedder": FakeEmbedder(),
        "analyzer": FakeCallAnalyzer(),
        # Live calls: channel 0 (the agent's) then channel 1 (the customer's).
        "live_transcriber": FakeStreamingTranscriber(
            [
                words_of("thank you for calling how can I help", 0.2),
                words_of("this is terrible I want to cancel my account", 4.0),
            ]
        ),
    }


def fake_container(settings: Settings, *, real: Iterable[str] = (), **engines: Any) -> Container:
    """The container with fake engines; those named in ``real`` stay as ``settings`` make
    them (a gRPC stage client, say)."""
    container = build_container(settings)
    for name, engine in {**fake_engines(), **engines}.items():
        if name not in real:
            getattr(container, name).override(providers.Object(engine))
    # The learned sentiment head and search read vectors from the in-process embedder.
    container.local_embedder.override(container.embedder)
    return container


def wav_bytes(seconds: float = 2.0, rate: int = 16000, channels: int = 1) -> bytes:
    """A real (tone) WAV file in memory."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.2 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    frames = np.repeat(tone[:, None], channels, axis=1).tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


class LiveServer:
    """uvicorn serving ``app`` on a loopback port, in a thread.

    The listening socket is bound before the server starts, so a client can connect at once
    (the kernel queues the connection until uvicorn accepts it): no waiting loop needed.
    """

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@contextmanager
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
