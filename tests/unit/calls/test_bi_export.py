"""The BI export's columns (core/calls/bi_export.py) and its writers (core/calls/bi_stream.py):
a stored document maps to one row per call and one per utterance, CSV survives any text,
Parquet reads back with its declared types, a row group per batch, handed on batch by batch;
docs/exports.md shows the declared columns."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from core.calls.bi_export import (
    CALL_COLUMNS,
    UTTERANCE_COLUMNS,
    call_record,
    column_table,
    schema,
    utterance_records,
)
from core.calls.bi_stream import check_format, csv_chunks, parquet_chunks, parse_time
from core.errors import InvalidInputError
from tests.conftest import ROOT
from tests.unit.analysis.test_document_schema import stored_document

METADATA = {
    "agent": "a-17",
    "team": "billing",
    "direction": "inbound",
    "external_id": "C-1001",
    "started_at": "2026-12-01T09:30:00+00:00",
    "priority": 3,
    "vip": True,
}


@pytest.fixture
async def document() -> dict:
    doc = await stored_document()
    doc["qa"] = {"scorecard": "default", "method": "rules", "score": 87.5, "items": []}
    return doc


def test_a_stored_call_is_one_row_of_every_declared_column(document):
    row = call_record(document, METADATA, ["billing-dispute", "vip"])

    assert list(row) == [c.name for c in CALL_COLUMNS]
    assert row["id"] == "id-1" and row["filename"] == "call.wav"
    assert row["created_at"] == datetime.fromisoformat(document["created_at"])
    assert (row["agent"], row["team"], row["queue"]) == ("a-17", "billing", None)
    assert (row["direction"], row["external_id"]) == ("inbound", "C-1001")
    assert row["started_at"] == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert json.loads(row["metadata"]) == {"priority": 3, "vip": True}  # the other keys
    analysis = document["analysis"]
    assert (row["summary"], row["reason"]) == (analysis["summary"], analysis["reason"])
    assert (row["resolution"], row["topics"], row["conflict"]) == ("resolved", ["billing"], False)
    agent, customer = document["speakers"]
    assert row["agent_talk_time_s"] == agent["talk_time_s"]
    assert row["customer_talk_ratio"] == customer["talk_ratio"]
    assert row["customer_sentiment"] == customer["sentiment_mean"] == -0.8
    assert row["customer_sentiment_label"] == "negative"
    assert row["agent_words_per_minute"] == agent["words_per_minute"]
    assert row["customer_interruptions"] == 0
    metrics = document["metrics"]
    assert row["silence_ratio"] == metrics["silence_ratio"]
    assert row["longest_silence_s"] == metrics["longest_silence_s"]
    assert row["mean_response_latency_s"] is None
    assert row["duration_s"] == 10.0 and row["language"] == "en"
    assert row["categories"] == ["billing-dispute", "vip"]
    assert (row["qa_scorecard"], row["qa_score"]) == ("default", 87.5)
    assert (row["analysis_provider"], row["analysis_model"]) == ("fake", "")


def test_a_role_spread_over_two_speakers_is_summed_and_averaged(document):
    doc = copy.deepcopy(document)
    doc["speakers"].append(dict(doc["speakers"][1], id="S3", talk_time_s=1.0, sentiment_mean=0.2))

    row = call_record(doc)

    assert row["customer_talk_time_s"] == pytest.approx(3.76)
    assert row["customer_sentiment"] == pytest.approx(-0.3)
    assert row["agent_talk_time_s"] == 3.56


def test_a_call_without_metadata_analysis_or_qa_has_nulls_not_errors(document):
    doc = copy.deepcopy(document)
    doc["analysis"] = None  # the LLM stage failed
    del doc["qa"]
    doc["speakers"] = [s for s in doc["speakers"] if s["role"] == "agent"]

    row = call_record(doc)

    assert row["agent"] is None and row["metadata"] is None and row["started_at"] is None
    assert row["summary"] is None and row["topics"] == [] and row["conflict"] is False
    assert row["customer_talk_time_s"] is None and row["customer_sentiment_label"] is None
    assert row["qa_score"] is None and row["categories"] == []


def test_each_utterance_is_one_row_with_the_call_s_keys_for_joins(document):
    rows = utterance_records(document, METADATA)

    assert len(rows) == len(document["utterances"]) == 2
    assert all(list(r) == [c.name for c in UTTERANCE_COLUMNS] for r in rows)
    first = document["utterances"][0]
    assert rows[0]["call_id"] == "id-1" and rows[0]["index"] == 0
    assert (rows[0]["speaker"], rows[0]["role"], rows[0]["text"]) == (
        first["speaker"],
        "agent",
        first["text"],
    )
    assert (rows[1]["sentiment_label"], rows[1]["sentiment_score"]) == ("negative", -0.8)
    assert {(r["agent"], r["team"], r["external_id"]) for r in rows} == {
        ("a-17", "billing", "C-1001")
    }
    assert rows[1]["created_at"] == datetime.fromisoformat(document["created_at"])


def test_the_docs_show_the_declared_columns():
    page = (ROOT / "docs" / "exports.md").read_text()
    for columns in (CALL_COLUMNS, UTTERANCE_COLUMNS):
        assert column_table(columns) in page, "regenerate with core.calls.bi_export.column_table"


# ------------------------------------------------------------------------------ CSV
HARD = [
    "plain",
    "a, comma",
    'she said "no"',
    "two\nlines",
    "crlf\r\nline",
    "Grüße, señor: 東京 ☎",
    "",
    " leading space",
]


def test_csv_keeps_any_text_exactly(document):
    rows = []
    for i, text in enumerate(HARD):
        doc = copy.deepcopy(document)
        doc["utterances"] = [dict(doc["utterances"][0], index=i, text=text)]
        rows += utterance_records(doc, {"agent": text or None, "team": 'x,"y"'})

    data = b"".join(csv_chunks(UTTERANCE_COLUMNS, [rows[:3], rows[3:]]))
    read = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))

    assert [r["text"] for r in read] == HARD
    assert [r["agent"] for r in read] == HARD
    assert {r["team"] for r in read} == {'x,"y"'}
    assert list(read[0]) == [c.name for c in UTTERANCE_COLUMNS]
    assert read[0]["sentiment_score"] == "0.0" and read[0]["created_at"] == document["created_at"]


def test_csv_writes_nulls_empty_booleans_lowercase_and_lists_as_json(document):
    row = call_record(document, {"team": "ops"}, ["a; b", "ü"])

    data = b"".join(csv_chunks(CALL_COLUMNS, [[row]])).decode()
    read = next(csv.DictReader(io.StringIO(data, newline="")))

    assert read["agent"] == "" and read["mean_response_latency_s"] == ""
    assert read["conflict"] == "false"
    assert json.loads(read["categories"]) == ["a; b", "ü"]
    assert json.loads(read["topics"]) == ["billing"]


# -------------------------------------------------------------------------- Parquet
def test_parquet_reads_back_with_the_declared_types_one_row_group_per_batch(document):
    batches = []
    for n in range(3):
        doc = dict(document, id=f"call-{n}")
        batches.append([call_record(doc, METADATA, ["vip"])] * (n + 1))

    data = b"".join(parquet_chunks(CALL_COLUMNS, batches))
    file = pq.ParquetFile(io.BytesIO(data))
    table = file.read()

    assert table.schema.equals(schema(CALL_COLUMNS))
    assert file.metadata.num_row_groups == 3
    assert table.column("id").to_pylist() == ["call-0"] + ["call-1"] * 2 + ["call-2"] * 3
    first = table.slice(0, 1).to_pylist()[0]
    assert first["categories"] == ["vip"] and first["topics"] == ["billing"]
    assert first["started_at"] == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert first["qa_score"] == 87.5 and first["agent_interruptions"] == 0


def test_an_empty_parquet_export_still_has_every_column():
    data = b"".join(parquet_chunks(UTTERANCE_COLUMNS, []))
    table = pq.read_table(io.BytesIO(data))
    assert table.num_rows == 0 and table.schema.equals(schema(UTTERANCE_COLUMNS))


@pytest.mark.parametrize(
    ("encode", "expected"),
    [
        (csv_chunks, [0, 1, 2, 3]),  # the header before any batch is read
        (parquet_chunks, [1, 2, 3, 3]),  # the footer after the last
    ],
)
def test_each_batch_is_handed_on_before_the_next_is_read(document, encode, expected):
    read = []

    def batches():
        for n in range(3):
            read.append(n)
            yield utterance_records(dict(document, id=f"call-{n}"))

    # how many batches had been read when each chunk came out
    seen = [len(read) for chunk in encode(UTTERANCE_COLUMNS, batches()) if chunk]

    assert seen == expected


def test_formats_and_times_are_checked_with_a_hint():
    assert check_format("parquet") == "parquet"
    with pytest.raises(InvalidInputError, match="xlsx") as bad:
        check_format("xlsx")
    assert "csv or parquet" in (bad.value.hint or "")
    assert parse_time("2026-12-01", "--since") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_time("2026-12-01T10:00:00+01:00", "--since") == datetime(
        2026, 12, 1, 9, tzinfo=UTC
    )
    with pytest.raises(InvalidInputError, match="--until"):
        parse_time("yesterday", "--until")
