"""A recording's metadata from its name, the folder's metadata.csv and its sidecar JSON."""

import re
from pathlib import Path

import pytest

from core.errors import InvalidInputError
from core.ingest.sources import FilenamePattern, MetadataSources, read_csv


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "20261201_a-17_C1001.wav",
            {"agent": "a-17", "external_id": "C1001", "started_at": "2026-12-01T00:00:00+00:00"},
        ),
        (
            "2026-12-01_a-17_C1001.WAV",  # dashes in the date, any case of extension
            {"agent": "a-17", "external_id": "C1001", "started_at": "2026-12-01T00:00:00+00:00"},
        ),
        (
            "20261201T093015_a-17_C1001.wav",  # a time with the date
            {"agent": "a-17", "external_id": "C1001", "started_at": "2026-12-01T09:30:15+00:00"},
        ),
        (
            "20261201_0930_a-17_C1001.wav",  # its separator may be the pattern's own
            {"agent": "a-17", "external_id": "C1001", "started_at": "2026-12-01T09:30:00+00:00"},
        ),
    ],
)
def test_the_pattern_reads_date_agent_and_call_id(name, expected):
    pattern = FilenamePattern.compile("{date}_{agent}_{call_id}.wav")
    assert pattern.read(name) == expected


def test_other_placeholders_a_separate_time_and_skipped_parts():
    pattern = FilenamePattern.compile("{team}-{_}-{date}-{time}-{direction}")
    # no extension in the pattern: it matches the name without its extension, any extension
    assert pattern.read("billing-xyz-20261201-1405-Inbound.mp3") == {
        "team": "billing",
        "started_at": "2026-12-01T14:05:00+00:00",
        "direction": "inbound",  # checked like any source's (core.calls.metadata)
    }


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a-17_C1001.wav", "does not match the file-name pattern"),
        ("20261201_a-17_C1001.mp3", "does not match"),  # the pattern says .wav
        ("20261399_a-17_C1001.wav", "is not a date"),  # month 13
    ],
)
def test_a_name_that_does_not_fit_is_an_error_for_that_file(name, says):
    pattern = FilenamePattern.compile("{date}_{agent}_{call_id}.wav")
    with pytest.raises(InvalidInputError, match=re.escape(says)) as caught:
        pattern.read(name)
    assert name in caught.value.message and caught.value.hint


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("calls.wav", "no {placeholder}"),
        ("{date}_{Bad Key}.wav", "not a metadata key"),
        ("{agent}_{agent}.wav", "twice"),
        ("{agent.wav", "unclosed brace"),
        ("{time}_{agent}.wav", "needs a {date}"),
        ("sub/{agent}.wav", "must be a file name"),
    ],
)
def test_a_pattern_that_cannot_be_used_says_why(text, says):
    with pytest.raises(InvalidInputError, match=re.escape(says)):
        FilenamePattern.compile(text)


def test_csv_rows_by_file_the_nearest_csv_that_lists_it_wins(tmp_path):
    touch(tmp_path / "metadata.csv", "file,team,queue\nsub/b.wav,billing,q1\na.wav,sales,\n")
    touch(tmp_path / "sub" / "metadata.csv", "File,Team\nb.wav,retention\n")
    a, b = touch(tmp_path / "a.wav"), touch(tmp_path / "sub" / "b.wav")
    c = touch(tmp_path / "sub" / "c.wav")
    sources = MetadataSources()
    assert sources.metadata(a, tmp_path) == {"team": "sales"}  # the empty queue is dropped
    assert sources.metadata(b, tmp_path) == {"team": "retention"}  # sub/metadata.csv
    assert sources.metadata(c, tmp_path) == {}  # listed nowhere
    # above the folder given, nothing is looked at
    assert MetadataSources().metadata(b, tmp_path / "sub") == {"team": "retention"}


def test_a_bad_csv_fails_the_files_it_would_describe(tmp_path):
    touch(tmp_path / "metadata.csv", "name,team\na.wav,sales\n")
    with pytest.raises(InvalidInputError, match=re.escape("no 'file' column")):
        MetadataSources().metadata(touch(tmp_path / "a.wav"), tmp_path)
    touch(tmp_path / "metadata.csv", "file,direction\na.wav,sideways\n")
    with pytest.raises(InvalidInputError, match=re.escape("row a.wav: metadata direction")):
        MetadataSources().metadata(tmp_path / "a.wav", tmp_path)
    touch(tmp_path / "metadata.csv", "file,team\na.wav,x\na.wav,y\n")
    with pytest.raises(InvalidInputError, match=re.escape("twice")):
        read_csv(tmp_path / "metadata.csv")


def test_sidecar_json_next_to_the_recording(tmp_path):
    call = touch(tmp_path / "call.wav")
    touch(tmp_path / "call.wav.json", '{"agent": "a-2", "vip": true}')
    assert MetadataSources().metadata(call) == {"agent": "a-2", "vip": True}


def test_a_result_document_beside_the_recording_is_not_its_sidecar(tmp_path):
    """`make demo` writes demo_call.json beside demo_call.wav; a second run read it back as
    metadata and failed ("metadata audio is a dict")."""
    call = touch(tmp_path / "call.wav")
    touch(tmp_path / "call.json", '{"id": "c-1", "audio": {"channels": 2}, "utterances": []}')
    assert MetadataSources().metadata(call) == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"agent": "a-1",', "sidecar call.wav.json cannot be read as JSON"),
        ('["a-1"]', "sidecar call.wav.json: metadata must be a JSON object"),
        ('{"direction": "sideways"}', "sidecar call.wav.json: metadata direction"),
        ('{"tags": ["a", "b"]}', "values are strings, numbers or booleans"),
    ],
)
def test_a_bad_sidecar_is_an_error_that_names_it(tmp_path, text, says):
    call = touch(tmp_path / "call.wav")
    touch(tmp_path / "call.wav.json", text)
    with pytest.raises(InvalidInputError, match=re.escape(says)) as caught:
        MetadataSources().metadata(call)
    assert caught.value.hint


def test_later_sources_win_key_by_key(tmp_path):
    call = touch(tmp_path / "20261201_a-1_C1.wav")
    touch(tmp_path / "metadata.csv", "file,agent,team,queue\n20261201_a-1_C1.wav,a-2,sales,q1\n")
    touch(tmp_path / "20261201_a-1_C1.wav.json", '{"team": "billing"}')
    sources = MetadataSources(FilenamePattern.compile("{date}_{agent}_{call_id}.wav"))
    assert sources.metadata(call, tmp_path) == {
        "agent": "a-2",  # the CSV over the name
        "external_id": "C1",  # the name's alone
        "started_at": "2026-12-01T00:00:00+00:00",
        "team": "billing",  # the sidecar over the CSV
        "queue": "q1",
    }
