"""Decoding in a child process (DECODE_IN_SUBPROCESS, the default): the same audio as in
process, the same errors, and a crash or a hang that fails the file, not the server."""

from __future__ import annotations

import stat

import numpy as np
import pytest

from core.errors import AudioTooLongError, UnsupportedAudioError
from samples.badfiles import write_all
from services.decode.isolated import IsolatedDecoder
from services.decode.local import decode


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("bad"))


def test_the_child_gives_the_same_audio_and_leaves_no_scratch(recordings, tmp_path):
    isolated = IsolatedDecoder(scratch_dir=tmp_path / "scratch")
    path = recordings / "stereo_diarization.wav"
    got, expected = isolated.decode(path), decode(path)
    assert got.info == expected.info == isolated.probe(path)
    assert np.array_equal(got.mono, expected.mono) and len(got.channels) == 2
    assert all(np.array_equal(a, b) for a, b in zip(got.channels, expected.channels, strict=True))
    assert all(c.flags["C_CONTIGUOUS"] for c in (got.mono, *got.channels))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_the_childs_errors_are_the_decoders(bad, tmp_path):
    isolated = IsolatedDecoder(scratch_dir=tmp_path, max_seconds=5)
    with pytest.raises(UnsupportedAudioError, match="not a readable audio file"):
        isolated.decode(bad["text_as_wav"])
    with pytest.raises(UnsupportedAudioError, match="no audio track"):
        isolated.probe(bad["video_no_audio"])
    with pytest.raises(AudioTooLongError, match="over the limit"):
        isolated.probe(bad["speech_48k"])


def test_a_child_that_crashes_fails_the_file_with_a_message(recordings, tmp_path):
    crashing = tmp_path / "python"
    crashing.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crashing.chmod(crashing.stat().st_mode | stat.S_IEXEC)
    isolated = IsolatedDecoder(scratch_dir=tmp_path / "scratch", python=str(crashing))
    with pytest.raises(UnsupportedAudioError, match=r"crashed on this file \(signal 11\)"):
        isolated.decode(recordings / "jfk.flac")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_decode_in_subprocess_is_the_default():
    from bootstrap.settings import Settings

    assert Settings(_env_file=None).decode_in_subprocess is True  # type: ignore[call-arg]
