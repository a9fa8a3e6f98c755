"""The BI export, streamed: calls read a batch at a time, written as CSV or Parquet.

Nothing is loaded whole. The calls are those the list shows for the same filters, in its
order (newest first; deleted calls never): one query's cursor hands their ids on a batch at
a time, and each batch's rows (metadata from the call row), categories and utterances are
read in one query each. CSV goes out a batch of
rows at a time; Parquet as one row group per batch, each group's bytes handed on as soon as
pyarrow has written them. The columns are core/calls/bi_export.py's.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq

from core.calls.bi_export import TABLES, Column, call_record, schema, utterance_records
from core.calls.catalog import CallCatalog, CallFilters
from core.errors import InvalidInputError
from core.persistence.database import Database
from core.persistence.models import CallRow, utcnow
from core.persistence.repositories import CallCriteria, as_utc
from core.persistence.unit_of_work import UnitOfWork

BiFormat = Literal["csv", "parquet"]
BI_FORMATS: tuple[str, ...] = get_args(BiFormat)
BiTable = Literal["calls", "utterances"]
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
# Calls read per batch: a call's row is small; its utterances are a hundred rows or more.
CALLS_PER_BATCH: dict[str, int] = {"calls": 200, "utterances": 25}


def check_format(value: str) -> BiFormat:
    if value not in BI_FORMATS:
        raise InvalidInputError(
            f"Unknown export format {value!r}.", f"Use {' or '.join(BI_FORMATS)}."
        )
    return value  # type: ignore[return-value]


def _metadata(row: CallRow) -> dict[str, Any]:
    """The call's metadata; a call stored before metadata existed keeps its upload agent."""
    meta = dict(row.meta or {})
    if row.agent and "agent" not in meta:
        meta["agent"] = row.agent
    return meta


class BiExport:
    """Rows of the calls and utterances tables of the calls that match a list's filters."""

    def __init__(self, database: Database, *, calls_per_batch: int | None = None) -> None:
        self.database = database
        self.calls_per_batch = calls_per_batch

    @staticmethod
    def criteria(filters: CallFilters | None = None) -> CallCriteria:
        """The list's filters, checked as the list checks them (InvalidInputError)."""
        return CallCatalog._criteria(filters or CallFilters())

    def batches(self, table: BiTable, criteria: CallCriteria) -> Iterator[list[dict[str, Any]]]:
        """The table's rows, a batch of calls at a time (no empty batch).

        One read transaction walks the matching ids in order; each batch's rows, metadata,
        categories and utterances are read in a short one of their own. A call deleted
        meanwhile is left out."""
        size = self.calls_per_batch or CALLS_PER_BATCH[table]
        with UnitOfWork(self.database) as order:
            for ids in order.calls.ids_in_order(criteria, size):
                records = self._records(table, ids)
                if records:
                    yield records

    def _records(self, table: BiTable, ids: list[str]) -> list[dict[str, Any]]:
        with UnitOfWork(self.database) as uow:
            rows = uow.calls.live_in(ids)
            if table == "calls":
                names = uow.categories.names_for(ids)
                return [
                    call_record(row.document, _metadata(row), names.get(row.id, [])) for row in rows
                ]
            said = uow.calls.utterances_of(ids)
            return [
                record
                for row in rows
                for record in utterance_records(
                    {**row.document, "utterances": said.get(row.id, [])}, _metadata(row)
                )
            ]

    def stream(self, table: BiTable, fmt: BiFormat, criteria: CallCriteria) -> Iterator[bytes]:
        """The whole file, in chunks."""
        return encode(fmt, TABLES[table], self.batches(table, criteria))

    def write(self, folder: Path, fmt: BiFormat, criteria: CallCriteria) -> dict[str, int]:
        """``folder/calls.<fmt>`` and ``folder/utterances.<fmt>``; returns their row counts.

        Both files hold the same calls: those stored before the export began (unless the
        criteria end earlier). A file appears whole or not at all (written beside, then
        renamed)."""
        now = utcnow()
        if criteria.created_before is None or as_utc(criteria.created_before) > now:
            criteria = dataclasses.replace(criteria, created_before=now)
        folder.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for table in ("calls", "utterances"):
            path = folder / f"{table}.{fmt}"
            part = path.with_name(f".{path.name}.part")
            counted = _Counted(self.batches(table, criteria))
            try:
                with part.open("wb") as out:
                    for chunk in encode(fmt, TABLES[table], counted):
                        out.write(chunk)
                part.replace(path)
            finally:
                part.unlink(missing_ok=True)
            counts[table] = counted.rows
        return counts


class _Counted:
    """Batches passed through, their rows counted."""

    def __init__(self, batches: Iterable[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.rows = 0

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        for batch in self.batches:
            self.rows += len(batch)
            yield batch


# ---------------------------------------------------------------------------- writers
def encode(
    fmt: BiFormat, columns: Sequence[Column], batches: Iterable[list[dict[str, Any]]]
) -> Iterator[bytes]:
    return csv_chunks(columns, batches) if fmt == "csv" else parquet_chunks(columns, batches)


def _cell(value: Any) -> Any:
    """A value as CSV text: empty for null, true/false, ISO 8601 times, lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def csv_chunks(
    columns: Sequence[Column], batches: Iterable[list[dict[str, Any]]]
) -> Iterator[bytes]:
    """RFC 4180 CSV in UTF-8: a header row, then each batch's rows as one chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> bytes:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text.encode()

    writer.writerow([c.name for c in columns])
    yield take()
    for batch in batches:
        for record in batch:
            writer.writerow([_cell(record[c.name]) for c in columns])
        yield take()


class _Sink(io.RawIOBase):
    """Where pyarrow writes: the bytes wait here until :meth:`take` hands them on."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._bytes += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def take(self) -> bytes:
        out = bytes(self._bytes)
        self._bytes.clear()
        return out


def parquet_chunks(
    columns: Sequence[Column], batches: Iterable[list[dict[str, Any]]]
) -> Iterator[bytes]:
    """A Parquet file, one row group per batch, each handed on once written."""
    arrow = schema(columns)
    sink = _Sink()
    writer = pq.ParquetWriter(sink, arrow)
    try:
        for batch in batches:
            writer.write_table(pa.Table.from_pylist(batch, schema=arrow))
            yield sink.take()
    finally:
        writer.close()
    yield sink.take()  # the footer: the schema and where each row group is


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time given on the command line (UTC when it has no offset)."""
    if value is None or not value.strip():
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError as exc:
        raise InvalidInputError(
            f"{name} {value!r} is not an ISO 8601 time.",
            "Use e.g. 2026-12-01 or 2026-12-01T09:30:00Z (UTC when no offset is given).",
        ) from exc
