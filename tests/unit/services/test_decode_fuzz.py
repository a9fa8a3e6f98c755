"""Fuzz the decoder: any bytes give valid Audio or a domain error, never a crash or a hang."""

from __future__ import annotations

import functools
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.domain import Audio
from core.errors import InvalidInputError, UnsupportedAudioError
from services.decode.local import decode, probe
from tests.conftest import recordings_dir

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HEADERS = [b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"ID3\x03\x00\x00", b"OggS\x00\x02"]


@functools.cache
def jfk() -> bytes:
    """The real file, read once (hypothesis does not reset fixtures between examples)."""
    path = recordings_dir() / "audio" / "jfk.flac"
    if not path.is_file():
        pytest.skip("tests/data/audio/jfk.flac not available")
    return path.read_bytes()


def check_audio(audio: Audio) -> None:
    assert isinstance(audio, Audio)
    assert audio.duration_s > 0 and audio.info.duration_s > 0
    assert audio.mono.dtype == np.float32 and audio.mono.ndim == 1
    assert np.all(np.isfinite(audio.mono))
    assert float(np.max(np.abs(audio.mono))) <= 1.0
    # a dual-channel file keeps its channels; one with more is kept as its mix
    assert len(audio.channels) == (audio.info.channels if audio.info.channels <= 2 else 1)
    for ch in audio.channels:
        assert len(ch) == len(audio.mono)
        assert np.all(np.isfinite(ch))
        assert float(np.max(np.abs(ch))) <= 1.0


def decode_or_reject(data: bytes) -> Audio | None:
    try:
        audio = decode(data)
    except (UnsupportedAudioError, InvalidInputError):
        return None
    check_audio(audio)
    return audio


def probe_or_reject(path) -> None:
    try:
        info = probe(path)
    except (UnsupportedAudioError, InvalidInputError):
        return
    assert info.sample_rate >= 0 and info.channels >= 1 and info.duration_s >= 0


def wav(fmt: int, bits: int, channels: int, rate: int, payload: bytes) -> bytes:
    """A well-formed WAV header around arbitrary sample bytes."""
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk
    body += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=4096))
def test_random_bytes_decode_or_raise_a_domain_error(header, payload):
    decode_or_reject(header + payload)


@FUZZ
@given(
    st.sampled_from([(1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)]),
    st.integers(1, 2),
    st.sampled_from([8000, 16000, 44100]),
    st.binary(min_size=0, max_size=8192),
)
def test_wav_with_random_samples_decodes_within_range(fmt_bits, channels, rate, payload):
    fmt, bits = fmt_bits
    payload *= 8
    audio = decode_or_reject(wav(fmt, bits, channels, rate, payload))
    if audio is not None:
        assert audio.info.channels == channels


def test_a_float_wav_with_a_nan_sample_gives_finite_audio():
    samples = np.zeros(1600, dtype="<f4")  # 0.1 s at 16 kHz: the shortest accepted input
    samples[0] = np.nan
    audio = decode_or_reject(wav(3, 32, 1, 16000, samples.tobytes()))
    assert audio is not None and audio.mono[0] == 0.0


def test_a_float_wav_with_infinite_and_loud_samples_is_clipped():
    samples = np.array([np.inf, -np.inf, 2.0, -2.0, 0.5] * 800, dtype="<f4")
    assert decode_or_reject(wav(3, 32, 1, 16000, samples.tobytes())) is not None


@FUZZ
@given(st.data())
def test_truncated_real_file_decodes_or_raises_a_domain_error(data):
    blob = jfk()
    # Cut points concentrated on the header and the first frames, and anywhere after.
    cut = data.draw(st.integers(0, 8192) | st.integers(0, len(blob)))
    decode_or_reject(blob[:cut])


@FUZZ
@given(st.data())
def test_corrupted_real_file_decodes_or_raises_a_domain_error(data):
    blob = bytearray(jfk()[:65536])
    for _ in range(data.draw(st.integers(1, 20))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    decode_or_reject(bytes(blob))


@FUZZ
@given(st.sampled_from(HEADERS), st.binary(max_size=2048), st.integers(0, 8192))
def test_probe_accepts_or_rejects_random_and_truncated_files(tmp_path, header, payload, cut):
    path = tmp_path / "upload.bin"
    path.write_bytes(header + payload)
    probe_or_reject(path)
    path.write_bytes(jfk()[:cut])
    probe_or_reject(path)


def test_the_untruncated_real_file_decodes(recordings):
    audio = decode_or_reject((recordings / "jfk.flac").read_bytes())
    assert audio is not None and audio.duration_s > 10
