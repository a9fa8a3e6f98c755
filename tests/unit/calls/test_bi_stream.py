"""The BI export read from the database (core/calls/bi_stream.py), on SQLite and PostgreSQL:
a batch of calls at a time by keyset, every call once, the list's filters applied, deleted
calls never, metadata and categories with each call; the files written whole."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from core.calls.bi_stream import BiExport
from core.calls.catalog import CallFilters
from core.persistence.database import Database
from core.persistence.unit_of_work import UnitOfWork
from tests.unit.analysis.test_document_schema import stored_document

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AGENTS = ["a-1", "a-2", "a-1", "a-2", "a-1", "a-1", "a-2"]  # seven calls, one a minute


def seed(database: Database, template: dict[str, Any]) -> None:
    """Seven calls (call-0 oldest, AGENTS), call-3 deleted, call-5 in the category `vip`."""
    with UnitOfWork(database) as uow:
        uow.categories.add(
            "cat-vip", name="vip", description="", conditions=[], created_by=None, at=T0
        )
        for n, agent in enumerate(AGENTS):
            doc = dict(template, id=f"call-{n}", created_at=(T0 + timedelta(minutes=n)).isoformat())
            meta = {"agent": agent, "team": "billing", "external_id": f"C-{n}", "tier": n}
            uow.calls.add(
                doc,
                content_sha256=f"sha-{n}",
                audio_path=None,
                job_id=None,
                call_vector=None,
                utterance_vectors=None,
                agent=agent,
                metadata=meta,
            )
        uow.flush()
        uow.categories.tag("call-5", "cat-vip", T0)
        uow.calls.tombstone("call-3", "admin")


@pytest.fixture
async def stored(database):
    seed(database, await stored_document())
    return database


def ids(batches) -> list[list[str]]:
    return [[row.get("id") or row["call_id"] for row in batch] for batch in batches]


def test_calls_come_a_batch_at_a_time_newest_first_each_once_deleted_never(stored):
    export = BiExport(stored, calls_per_batch=2)

    batches = list(export.batches("calls", export.criteria()))

    assert ids(batches) == [["call-6", "call-5"], ["call-4", "call-2"], ["call-1", "call-0"]]
    five = batches[0][1]
    assert five["categories"] == ["vip"] and batches[0][0]["categories"] == []
    assert (five["agent"], five["team"], five["external_id"]) == ("a-1", "billing", "C-5")
    assert five["metadata"] == '{"tier": 5}'
    assert five["created_at"] == T0 + timedelta(minutes=5)


def test_utterances_come_with_their_call_s_keys_deleted_calls_never(stored):
    export = BiExport(stored, calls_per_batch=4)

    batches = list(export.batches("utterances", export.criteria()))

    rows = [row for batch in batches for row in batch]
    assert [len(b) for b in batches] == [8, 4]  # two utterances a call
    assert [(r["call_id"], r["index"]) for r in rows[:4]] == [
        ("call-6", 0),
        ("call-6", 1),
        ("call-5", 0),
        ("call-5", 1),
    ]
    assert "call-3" not in {r["call_id"] for r in rows}
    assert {r["external_id"] for r in rows if r["call_id"] == "call-2"} == {"C-2"}
    assert rows[1]["sentiment_label"] == "negative" and rows[1]["role"] == "customer"


def test_a_call_deleted_while_the_export_runs_is_left_out(stored):
    export = BiExport(stored, calls_per_batch=2)
    batches = export.batches("utterances", export.criteria())

    first = next(batches)
    with UnitOfWork(stored) as uow:
        uow.calls.tombstone("call-2", "admin")  # in the second batch, not read yet
    rest = list(batches)

    assert {r["call_id"] for r in first} == {"call-6", "call-5"}
    assert [sorted({r["call_id"] for r in b}) for b in rest] == [["call-4"], ["call-0", "call-1"]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (CallFilters(agent="a-2"), ["call-6", "call-1"]),
        (CallFilters(category="VIP"), ["call-5"]),
        (
            CallFilters(
                created_after=T0 + timedelta(minutes=2), created_before=T0 + timedelta(minutes=5)
            ),
            ["call-4", "call-2"],
        ),
        (CallFilters(agent="nobody"), []),
    ],
)
def test_the_list_s_filters_apply(stored, filters, expected):
    export = BiExport(stored, calls_per_batch=1)
    got = [cid for batch in ids(export.batches("calls", export.criteria(filters))) for cid in batch]
    assert got == expected


def test_the_files_hold_the_same_calls_and_say_how_many_rows(stored, tmp_path):
    export = BiExport(stored, calls_per_batch=4)
    folder = tmp_path / "out" / "bi"

    parquet = export.write(folder, "parquet", export.criteria(CallFilters(agent="a-1")))
    as_csv = export.write(folder, "csv", export.criteria(CallFilters(agent="a-1")))

    assert parquet == as_csv == {"calls": 4, "utterances": 8}
    calls = pq.read_table(folder / "calls.parquet")
    utterances = pq.read_table(folder / "utterances.parquet")
    assert calls.column("id").to_pylist() == ["call-5", "call-4", "call-2", "call-0"]
    assert set(utterances.column("call_id").to_pylist()) == set(calls.column("id").to_pylist())
    assert pq.ParquetFile(folder / "calls.parquet").metadata.num_row_groups == 1
    read = list(csv.DictReader(io.StringIO((folder / "calls.csv").read_text(), newline="")))
    assert [r["id"] for r in read] == ["call-5", "call-4", "call-2", "call-0"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "calls.csv",
        "calls.parquet",
        "utterances.csv",
        "utterances.parquet",
    ]  # nothing left half-written beside them
