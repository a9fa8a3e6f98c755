"""The repository and the job service, on SQLite and on the real PostgreSQL server."""

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core.analysis.pipeline import AnalysisOptions, CallPipeline
from core.domain import SpeakerTurn
from core.errors import UnsupportedAudioError
from core.jobs.audio_store import AudioStore
from core.jobs.service import AnalysisService
from core.persistence.models import CallRow, JobEventRow, JobRow, UtteranceRow
from core.persistence.repositories import CallRepository, from_blob
from tests.unit.fakes import (
    FakeCallAnalyzer,
    FakeDiarizer,
    FakeEmbedder,
    FakeSentimentAnalyzer,
    FakeTranscriber,
    silent_audio,
    words_of,
)


def fake_service(database, tmp_path, analyzer=None, transcriber=None):
    pipeline = CallPipeline(
        FakeDiarizer([SpeakerTurn("S1", 0, 4), SpeakerTurn("S2", 4.5, 8)]),
        transcriber
        or FakeTranscriber(
            words_of("thank you for calling", 0) + words_of("my bill is terrible", 4.6)
        ),
        FakeSentimentAnalyzer(),
        FakeEmbedder(),
        analyzer or FakeCallAnalyzer(),
    )

    def decoder(path: Path):
        if path.read_bytes() == b"not audio":
            raise UnsupportedAudioError("not audio", "send audio")
        return silent_audio(10)

    def prober(path: Path):
        if path.read_bytes() == b"not audio":
            raise UnsupportedAudioError("not audio", "send audio")
        return silent_audio(10).info

    return AnalysisService(
        pipeline, database, decoder, AudioStore(tmp_path / "audio"), prober=prober
    )


def counts(database):
    with database.session() as s:
        return {
            t.__tablename__: s.scalar(select(func.count()).select_from(t))
            for t in (CallRow, UtteranceRow, JobRow)
        }


async def test_a_job_stores_the_call_with_utterances_vectors_and_history(database, tmp_path):
    src = tmp_path / "call.wav"
    src.write_bytes(b"RIFF fake")
    doc = await fake_service(database, tmp_path).analyze_file(
        src, options=AnalysisOptions(num_speakers=2)
    )
    with database.session() as s:
        repo = CallRepository(s)
        stored = repo.document(doc["id"])
        row = repo.get(doc["id"])
        job = s.get(JobRow, row.job_id)
        events = s.scalars(
            select(JobEventRow).where(JobEventRow.job_id == job.id).order_by(JobEventRow.seq)
        ).all()
        assert stored == doc | {"utterances": stored["utterances"]}
        assert [u["text"] for u in stored["utterances"]] == [
            "thank you for calling",
            "my bill is terrible",
        ]
        assert stored["utterances"][1]["sentiment"]["label"] == "negative"
        assert from_blob(row.embedding).shape == (8,)
        assert np.allclose(from_blob(row.utterances[0].embedding).sum(), 1.0)
        assert row.resolution == "resolved" and row.customer_sentiment < 0
        assert job.status == "succeeded" and job.progress == 1.0 and job.attempts == 1
        assert [e.stage for e in events][:4] == ["queued", "start", "decode", "decode"]
        assert "diarization" in [e.stage for e in events]
        assert [e.seq for e in events] == list(range(len(events)))
        assert events[-1].stage == "done" and events[-1].status == "succeeded"
        assert Path(row.audio_path).read_bytes() == b"RIFF fake"
        assert Path(row.audio_path).name == f"{doc['id']}.wav"


async def test_bad_input_writes_nothing(database, tmp_path):
    src = tmp_path / "notes.wav"
    src.write_bytes(b"not audio")
    with pytest.raises(UnsupportedAudioError):
        await fake_service(database, tmp_path).analyze_file(src)
    assert counts(database) == {"calls": 0, "utterances": 0, "jobs": 0}


async def test_a_failed_job_is_recorded_and_leaves_no_call_or_audio(database, tmp_path):
    class Broken(FakeTranscriber):
        async def transcribe(self, samples, options, progress=None):
            raise RuntimeError("boom")

    src = tmp_path / "call.wav"
    src.write_bytes(b"RIFF")
    with pytest.raises(Exception, match="boom"):
        await fake_service(database, tmp_path, transcriber=Broken([])).analyze_file(src)
    assert counts(database) == {"calls": 0, "utterances": 0, "jobs": 1}
    with database.session() as s:
        job = s.scalars(select(JobRow)).one()
        assert job.status == "failed" and "asr: boom" in job.error
    audio_dir = tmp_path / "audio"
    assert not audio_dir.exists() or not any(audio_dir.iterdir())


async def test_delete_cascades_to_utterances(database, tmp_path):
    src = tmp_path / "call.wav"
    src.write_bytes(b"RIFF")
    doc = await fake_service(database, tmp_path).analyze_file(src)
    with database.session() as s:
        assert CallRepository(s).delete(doc["id"])
    assert counts(database)["utterances"] == 0
    with database.session() as s:
        assert CallRepository(s).get(doc["id"]) is None


def test_upgrade_is_idempotent(database):
    database.upgrade()
    database.upgrade()
    assert counts(database)["calls"] == 0


def test_migrations_build_the_schema_the_models_describe(database):
    """A model change without its migration (or the reverse) shows up here, on both dialects."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.persistence.migrations import include_object
    from core.persistence.models import Base

    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


@pytest.mark.postgres
def test_processes_starting_together_migrate_a_new_postgres_database_once():
    """The API and its workers all run upgrade() at start-up on the same empty database."""
    from concurrent.futures import ThreadPoolExecutor

    from core.persistence.database import Database
    from tests.support.databases import postgres_url

    with postgres_url() as url:
        databases = [Database(url) for _ in range(4)]
        try:
            with ThreadPoolExecutor(len(databases)) as pool:
                list(pool.map(lambda db: db.upgrade(), databases))  # raises if any failed
            with databases[0].engine.connect() as connection:
                versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                assert [v for (v,) in versions] == ["0011"]
        finally:
            for db in databases:
                db.dispose()
