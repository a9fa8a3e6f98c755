"""Which files of a folder are recordings, and the stability rule."""

import os
from pathlib import Path

import pytest

from core.ingest.files import Stability, is_recording, recordings


def write(path: Path, data: bytes = b"RIFF") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("call.wav", True),
        ("CALL.MP3", True),
        ("call.opus", True),
        ("call.m4a", True),
        ("call.webm", True),
        ("call.mp4", True),
        ("call.flac", True),
        ("call.ogg", True),
        ("call.wav.json", False),  # a sidecar
        ("call.json", False),
        ("metadata.csv", False),
        ("call.wav.part", False),  # still being written
        ("call.wav.tmp", False),
        ("call.wav.crdownload", False),
        ("call.wav~", False),
        (".call.wav", False),  # hidden (rsync's temporary names are)
        ("notes.txt", False),
    ],
)
def test_what_counts_as_a_recording(name, taken):
    assert is_recording(name) is taken


def test_a_folder_alone_or_its_whole_tree(tmp_path):
    a = write(tmp_path / "a.wav")
    b = write(tmp_path / "day1" / "b.mp3")
    write(tmp_path / "day1" / "b.mp3.json", b"{}")
    write(tmp_path / ".done" / "old.wav")  # hidden folders are never entered
    write(tmp_path / "archive" / "c.wav")
    assert recordings(tmp_path) == [a]
    assert recordings(tmp_path, recursive=True) == [a, tmp_path / "archive" / "c.wav", b]
    assert recordings(tmp_path, recursive=True, exclude=[tmp_path / "archive"]) == [a, b]


def test_a_file_is_ready_once_unchanged_between_two_polls(tmp_path):
    stability = Stability()
    call = write(tmp_path / "call.wav", b"x" * 10)
    assert stability.ready([call]) == []  # first seen
    with call.open("ab") as f:  # still growing at the next poll
        f.write(b"x" * 10)
    assert stability.ready([call]) == []
    assert stability.ready([call]) == [call]  # unchanged since the previous poll
    # the same size but a newer modification time: written again
    stat = call.stat()
    os.utime(call, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert stability.ready([call]) == []
    assert stability.ready([call]) == [call]


def test_a_sidecar_being_written_holds_its_recording_back(tmp_path):
    stability = Stability()
    call = write(tmp_path / "call.wav")
    stability.ready([call])
    write(tmp_path / "call.wav.json", b'{"agent"')  # arrives after the recording
    assert stability.ready([call]) == []
    assert stability.ready([call]) == [call]


def test_a_file_gone_between_polls_is_forgotten(tmp_path):
    stability = Stability()
    call = write(tmp_path / "call.wav")
    stability.ready([call])
    call.unlink()
    assert stability.ready([call]) == [] and stability.pending == 0
    write(call)
    assert stability.ready([call]) == []  # back: watched afresh
