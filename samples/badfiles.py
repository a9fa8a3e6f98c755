"""Awkward and broken inputs for the decoder: each function writes one file into a folder.

``write_all(directory)`` writes them all and returns ``{name: path}``.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.stream import VideoStream

from samples.catalog import load_script
from samples.encode import write_audio
from samples.timeline import build_timeline

SPEECH_SCRIPT = "short"


def _speech(sample_rate: int, layout: str = "mono") -> np.ndarray:
    return build_timeline(load_script(SPEECH_SCRIPT), layout=layout, sample_rate=sample_rate).audio


def empty(directory: Path) -> Path:
    path = directory / "empty.wav"
    path.write_bytes(b"")
    return path


def _truncate(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def truncated_wav(directory: Path) -> Path:
    """A wav whose header still claims the full data chunk: only 40% of the bytes remain."""
    path = directory / "truncated.wav"
    write_audio(path, _speech(16000), 16000)
    _truncate(path, 0.4)
    return path


def truncated_mp3(directory: Path) -> Path:
    """An mp3 cut off in the middle of a frame."""
    path = directory / "truncated.mp3"
    write_audio(path, _speech(16000), 16000)
    _truncate(path, 0.4)
    return path


def text_as_wav(directory: Path) -> Path:
    path = directory / "notes.wav"
    path.write_text("Call notes: customer asked about the late fee.\nFollow up on Monday.\n")
    return path


def silence(directory: Path, seconds: float = 10.0, sample_rate: int = 16000) -> Path:
    path = directory / "silence.wav"
    write_audio(path, np.zeros((1, int(seconds * sample_rate)), dtype=np.float32), sample_rate)
    return path


def video_no_audio(directory: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    """An mp4 with one video stream (a moving grey ramp) and no audio stream at all."""
    path = directory / "video_no_audio.mp4"
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream = cast(VideoStream, container.add_stream(codec, rate=Fraction(fps, 1)))
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        ramp = np.add.outer(np.arange(64), np.arange(64)) * 2
        for i in range(int(seconds * fps)):
            img = np.stack([(ramp + 8 * i) % 256] * 3, axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def speech_at(directory: Path, sample_rate: int) -> Path:
    """The same speech (the ``short`` call, mono) at another sample rate."""
    path = directory / f"speech_{sample_rate // 1000}k.wav"
    write_audio(path, _speech(sample_rate), sample_rate)
    return path


def six_channels(directory: Path) -> Path:
    """5.1 wav: the agent on channel 0, the customer on channel 1, the other four silent."""
    path = directory / "six_channels.wav"
    stereo = _speech(16000, layout="stereo")
    audio = np.zeros((6, stereo.shape[1]), dtype=np.float32)
    audio[:2] = stereo
    write_audio(path, audio, 16000)
    return path


def identical_stereo(directory: Path) -> Path:
    """A stereo wav whose two channels hold the same mono mix (a 'fake' dual-channel call)."""
    path = directory / "identical_stereo.wav"
    mono = _speech(16000)
    write_audio(path, np.vstack([mono, mono]), 16000)
    return path


def write_all(directory: str | Path) -> dict[str, Path]:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    return {
        "empty": empty(d),
        "truncated_wav": truncated_wav(d),
        "truncated_mp3": truncated_mp3(d),
        "text_as_wav": text_as_wav(d),
        "silence": silence(d),
        "video_no_audio": video_no_audio(d),
        "speech_8k": speech_at(d, 8000),
        "speech_48k": speech_at(d, 48000),
        "six_channels": six_channels(d),
        "identical_stereo": identical_stereo(d),
    }
