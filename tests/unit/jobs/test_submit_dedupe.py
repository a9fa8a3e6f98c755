"""Submissions with metadata, and idempotency by external id and by audio."""

import pytest
from sqlalchemy import func, select

from core.errors import UnsupportedAudioError
from core.persistence.models import CallMetadataRow, JobRow
from core.persistence.unit_of_work import UnitOfWork
from tests.unit.fakes import FakeTranscriber
from tests.unit.jobs.test_service import fake_service


def job_count(database) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(JobRow)) or 0)


def recording(tmp_path, name: str, content: bytes = b"RIFF one"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


async def test_metadata_goes_with_the_call_and_is_stored_for_filtering(database, tmp_path):
    service = fake_service(database, tmp_path)
    meta = {"agent": "a-7", "team": "billing", "external_id": "C-1", "vip": True}
    doc = await service.analyze_file(recording(tmp_path, "a.wav"), metadata=meta)
    assert doc["metadata"] == meta
    assert doc["agent"] == "a-7"
    with database.session() as s:
        pairs = {(r.key, r.value) for r in s.scalars(select(CallMetadataRow))}
    assert pairs == {("agent", "a-7"), ("team", "billing"), ("external_id", "C-1"), ("vip", "true")}
    with UnitOfWork(database) as uow:
        assert uow.calls.get(doc["id"]).external_id == "C-1"


async def test_the_same_audio_is_not_analysed_twice_unless_asked(database, tmp_path):
    service = fake_service(database, tmp_path)
    first = await service.analyze_file(recording(tmp_path, "a.wav"), dedupe=True)
    again = await service.analyze_file(recording(tmp_path, "copy.wav"), dedupe=True)
    assert again["id"] == first["id"] and job_count(database) == 1
    forced = await service.analyze_file(recording(tmp_path, "copy.wav"), dedupe=False)
    assert forced["id"] != first["id"] and job_count(database) == 2


async def test_the_same_external_id_is_a_duplicate_whatever_the_audio(database, tmp_path):
    service = fake_service(database, tmp_path)
    a = recording(tmp_path, "a.wav", b"RIFF one")
    b = recording(tmp_path, "b.wav", b"RIFF two")
    first, _ = service.submit(a, metadata={"external_id": "C-9"}, dedupe=True)
    again, event = service.submit(b, metadata={"external_id": "C-9"}, dedupe=True)
    # Still queued: the queued job is the duplicate's answer, and nothing new is stored.
    assert again.duplicate and event is None
    assert (again.job_id, again.call_id) == (first.job_id, first.call_id)
    other, _ = service.submit(b, metadata={"external_id": "C-10"}, dedupe=True)
    assert not other.duplicate and job_count(database) == 2


async def test_a_deleted_call_is_analysed_again(database, tmp_path):
    service = fake_service(database, tmp_path)
    doc = await service.analyze_file(recording(tmp_path, "a.wav"), metadata={"external_id": "X"})
    service.delete_call(doc["id"])
    again = await service.analyze_file(
        recording(tmp_path, "a.wav"), metadata={"external_id": "X"}, dedupe=True
    )
    assert again["id"] != doc["id"]
    with database.session() as s:  # the tombstone keeps no metadata
        left = select(func.count()).select_from(CallMetadataRow)
        assert s.scalar(left.where(CallMetadataRow.call_id == doc["id"])) == 0


async def test_a_failed_analysis_is_not_a_duplicate(database, tmp_path):
    class Broken(FakeTranscriber):
        async def transcribe(self, samples, options, progress=None):
            raise RuntimeError("boom")

    with pytest.raises(Exception, match="boom"):
        await fake_service(database, tmp_path, transcriber=Broken([])).analyze_file(
            recording(tmp_path, "a.wav"), dedupe=True
        )
    doc = await fake_service(database, tmp_path).analyze_file(
        recording(tmp_path, "a.wav"), dedupe=True
    )
    assert doc["utterances"] and job_count(database) == 2


async def test_bad_input_is_refused_before_the_duplicate_check(database, tmp_path):
    with pytest.raises(UnsupportedAudioError):
        fake_service(database, tmp_path).submit(
            recording(tmp_path, "bad.wav", b"not audio"), dedupe=True
        )
    assert job_count(database) == 0
