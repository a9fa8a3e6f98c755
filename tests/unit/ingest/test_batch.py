"""`callytics analyze` over files and folders: what it is given, and duplicates."""

from pathlib import Path

import pytest

from api.ingest_cli import collect
from core.errors import InvalidInputError
from core.ingest.batch import analyze_now
from tests.unit.jobs.test_service import fake_service


def write(path: Path, data: bytes = b"audio") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_files_as_given_folders_by_their_recordings(tmp_path):
    top = write(tmp_path / "in" / "a.wav")
    deep = write(tmp_path / "in" / "day" / "b.mp3")
    write(tmp_path / "in" / "a.wav.json", b"{}")
    odd = write(tmp_path / "elsewhere" / "c.bin")  # a file given by name is taken as it is
    folder = tmp_path / "in"
    assert [(t.path, t.root) for t in collect([folder], recursive=False)] == [(top, folder)]
    assert [t.path for t in collect([folder], recursive=True)] == [top, deep]
    assert [(t.path, t.root) for t in collect([odd], recursive=False)] == [(odd, odd.parent)]


def test_a_missing_path_or_an_empty_folder_is_a_usage_error(tmp_path):
    write(tmp_path / "in" / "day" / "b.wav")
    with pytest.raises(InvalidInputError, match="does not exist"):
        collect([tmp_path / "in", tmp_path / "nowhere"], recursive=True)
    with pytest.raises(InvalidInputError, match="No recordings") as caught:
        collect([tmp_path / "in"], recursive=False)
    assert "--recursive" in caught.value.hint


async def test_a_recording_analysed_before_is_not_analysed_again_unless_forced(database, tmp_path):
    service = fake_service(database, tmp_path)
    call = write(tmp_path / "call.wav", b"call one")
    first = await analyze_now(service, call, metadata={"agent": "a-1", "external_id": "X-1"})
    assert not first.duplicate and first.document["metadata"]["agent"] == "a-1"

    copy = write(tmp_path / "copy.wav", b"call one")  # the same audio, another name
    again = await analyze_now(service, copy)
    assert again.duplicate and again.call_id == first.call_id
    assert again.document is not None and again.document["id"] == first.call_id

    other = write(tmp_path / "other.wav", b"call two")  # other audio, the same external id
    same_id = await analyze_now(service, other, metadata={"external_id": "X-1"})
    assert same_id.duplicate and same_id.call_id == first.call_id

    forced = await analyze_now(service, copy, dedupe=False)
    assert not forced.duplicate and forced.call_id != first.call_id


async def test_a_duplicate_still_queued_elsewhere_is_not_run_here(database, tmp_path):
    service = fake_service(database, tmp_path)
    call = write(tmp_path / "call.wav", b"call one")
    queued, _ = service.submit(call)  # e.g. a server's upload, waiting in its queue
    outcome = await analyze_now(service, write(tmp_path / "copy.wav", b"call one"))
    assert outcome.duplicate and outcome.job_id == queued.job_id and outcome.document is None
    assert service._job(queued.job_id).status == "queued"  # left to its own queue
