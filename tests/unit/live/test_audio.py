"""Live audio: the wire formats decode as libsndfile decodes them; the recording is a WAV
that reads back sample for sample after every frame."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.errors import InvalidInputError
from core.live.audio import MULAW, LiveFormat, WavRecorder


def test_mulaw_expansion_matches_libsndfile(tmp_path):
    path = tmp_path / "mulaw.wav"
    tone = (0.5 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    sf.write(path, tone, 8000, subtype="ULAW")
    raw = path.read_bytes()
    codes = np.frombuffer(raw[raw.index(b"data") + 8 :], dtype=np.uint8)
    expected = sf.read(path, dtype="int16")[0]
    assert np.array_equal(MULAW[codes], expected)


def test_pcm16_stereo_frames_split_into_channels_at_16k():
    fmt = LiveFormat("pcm16", 16000, 2)
    pairs = np.array([[1000, -2000], [3000, -4000]], dtype="<i2")
    out = fmt.decode(pairs.tobytes())
    assert out.shape == (2, 2)
    assert np.allclose(out[0], [1000 / 32768, 3000 / 32768])
    assert np.allclose(out[1], [-2000 / 32768, -4000 / 32768])


def test_8k_audio_reaches_the_models_at_16k():
    fmt = LiveFormat("mulaw", 8000, 1)
    out = fmt.decode(bytes(range(80)))  # 10 ms
    assert out.shape == (1, 160)


def test_a_frame_of_partial_samples_is_refused():
    with pytest.raises(InvalidInputError, match="whole number of samples"):
        LiveFormat("pcm16", 16000, 2).decode(b"\x00" * 6)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"encoding": "opus"}, "encoding"),
        ({"sample_rate": 44100}, "sample_rate"),
        ({"channels": 3}, "channels"),
    ],
)
def test_unsupported_formats_say_what_is_supported(fields, message):
    with pytest.raises(InvalidInputError, match=message):
        LiveFormat(**fields)


@pytest.mark.parametrize(("encoding", "subtype"), [("pcm16", "PCM_16"), ("mulaw", "ULAW")])
def test_the_recording_reads_back_after_every_frame(tmp_path, encoding, subtype):
    fmt = LiveFormat(encoding, 8000, 2)
    path = tmp_path / "call.wav"
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=320, dtype=np.uint8).tobytes() for _ in range(3)]
    recorder = WavRecorder(path, fmt)
    recorder.write(frames[0])
    info = sf.info(path)  # readable while the call runs, with the length received so far
    assert (info.samplerate, info.channels, info.subtype) == (8000, 2, subtype)
    assert info.frames == len(frames[0]) // fmt.frame_bytes
    recorder.write(frames[1])
    recorder.write(frames[2])
    recorder.close()
    assert recorder.seconds == pytest.approx(3 * 320 / fmt.frame_bytes / 8000)
    data = path.read_bytes()
    assert data[data.index(b"data") + 8 :] == b"".join(frames)
    assert sf.info(path).frames == 3 * 320 // fmt.frame_bytes
