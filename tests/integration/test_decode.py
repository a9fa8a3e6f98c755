"""The decoder on every format a call centre sends, and on broken input."""

import subprocess
import sys

import pytest

from core.errors import AudioTooLongError, UnsupportedAudioError
from samples import load_script, render_call
from samples.badfiles import write_all
from services.decode.local import decode
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def short_call():
    return load_script("short")


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".m4a"])
def test_every_common_format_decodes_to_16k(tmp_path, short_call, suffix):
    truth = render_call(short_call, tmp_path / f"call{suffix}")
    audio = decode(tmp_path / f"call{suffix}")
    assert audio.sample_rate == 16000 and audio.mono.dtype.name == "float32"
    assert audio.duration_s == pytest.approx(truth.duration, abs=0.3)
    assert 0.01 < float(abs(audio.mono).max()) <= 1.0


def test_telephony_mulaw_stereo_keeps_both_channels(tmp_path, short_call):
    render_call(short_call, tmp_path / "call.wav", layout="stereo", mulaw=True)
    audio = decode(tmp_path / "call.wav")
    assert (audio.info.codec, audio.info.sample_rate, audio.info.channels) == ("pcm_mulaw", 8000, 2)
    assert len(audio.channels) == 2 and len(audio.channels[0]) == len(audio.mono)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "is empty"),
        ("text_as_wav", "not a readable audio file"),
        ("video_no_audio", "no audio track"),
    ],
)
def test_broken_input_is_refused_with_a_clear_message(bad, name, message):
    with pytest.raises(UnsupportedAudioError, match=message) as err:
        decode(bad[name])
    assert "wav, flac, mp3" in err.value.hint


@pytest.mark.parametrize("name", ["truncated_wav", "truncated_mp3"])
def test_a_truncated_file_decodes_up_to_the_damage(bad, name):
    audio = decode(bad[name])
    assert 1.0 < audio.duration_s < 19.0


@pytest.mark.parametrize(("name", "rate"), [("speech_8k", 8000), ("speech_48k", 48000)])
def test_any_sample_rate_is_resampled(bad, name, rate):
    audio = decode(bad[name])
    assert audio.info.sample_rate == rate and audio.sample_rate == 16000
    assert audio.duration_s == pytest.approx(19.8, abs=0.5)


def test_more_than_two_channels_are_decoded_as_their_mix(bad):
    """Such files are diarized as their mix: only it is kept (memory: one channel, not six)."""
    audio = decode(bad["six_channels"])
    assert audio.info.channels == 6 and len(audio.channels) == 1
    assert audio.channels[0] is audio.mono and float(abs(audio.mono).max()) > 0.01


@pytest.mark.parametrize("channels", [7, 8, 16, 64])
def test_any_channel_count_decodes_without_crashing_the_process(tmp_path, channels):
    """8 channels and more once segfaulted in PyAV's planar to_ndarray (numpy vstack over
    planes past FFmpeg's 8 data pointers); a child process shows a crash as its exit code."""
    path = tmp_path / f"ch{channels}.wav"
    synth = ["synth", "2", "sine", "440", "vol", "0.5"]
    subprocess.run(["sox", "-n", "-r", "16000", "-c", str(channels), str(path), *synth], check=True)
    probe = (
        "import sys; from services.decode.local import decode; "
        f"a = decode({str(path)!r}); "
        "print(a.info.channels, len(a.channels), a.mono.shape[0], round(float(abs(a.mono).max()), 2))"
    )
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(channels), "1", "32000", "0.5"]  # the mean, unclipped


def test_silence_decodes(bad):
    audio = decode(bad["silence"])
    assert audio.duration_s == pytest.approx(10.0, abs=0.05) and float(abs(audio.mono).max()) == 0.0


def test_too_long_is_refused_before_decoding(bad):
    with pytest.raises(AudioTooLongError, match="over the limit"):
        decode(bad["silence"], max_seconds=5)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UnsupportedAudioError, match="No such file"):
        decode(tmp_path / "nope.wav")
