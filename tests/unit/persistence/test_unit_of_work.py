"""The unit of work: one transaction over every aggregate's repository, committed when the
block ends, rolled back when it raises, used once."""

from __future__ import annotations

import pytest

from core.persistence.unit_of_work import UnitOfWork


def make_job(uow: UnitOfWork, job_id: str) -> None:
    uow.jobs.create(job_id, f"call-{job_id}", "call.wav", {}, None)


def test_leaving_the_block_commits_every_repository(database):
    with UnitOfWork(database) as uow:
        make_job(uow, "j1")
        uow.flush()
        assert uow.jobs.get("j1") is not None  # the same transaction sees it
    with UnitOfWork(database) as uow:
        job = uow.jobs.get("j1")
        assert job is not None and job.status == "queued"
        assert [e.stage for e in uow.jobs.events("j1")] == ["queued"]


def test_an_error_rolls_everything_back_and_is_raised_again(database):
    with pytest.raises(ValueError, match="late"), UnitOfWork(database) as uow:
        make_job(uow, "j2")
        uow.flush()
        raise ValueError("late")
    with UnitOfWork(database) as uow:
        assert uow.jobs.get("j2") is None


def test_a_unit_of_work_is_used_once(database):
    uow = UnitOfWork(database)
    with uow:
        pass
    with pytest.raises(RuntimeError, match="used once"), uow:
        pass
    with pytest.raises(RuntimeError, match="not open"):
        uow.flush()
