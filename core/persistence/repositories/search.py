"""The SQL of semantic search (core/calls/search.py): the numpy index's snapshot reads, and
pgvector's column, index, backfill and ranking.

These run on connections of their own rather than in a :class:`UnitOfWork`: the numpy
index's reads must all see one snapshot (``REPEATABLE READ`` on PostgreSQL, a pinned read
transaction on SQLite), pgvector's set-up is DDL under an advisory lock, and a ranking sets
planner options for its own transaction only. Their errors are the driver's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Row, select, text
from sqlalchemy.engine import Connection, Engine

from core.persistence.database import Database
from core.persistence.models import CallRow, UtteranceRow

PGVECTOR_LOCK = 72615  # pg_advisory_xact_lock key (core.persistence.database uses 72614)
LOAD_BATCH = 500  # calls whose utterances one query reads
BACKFILL_BATCH = 2000  # utterances whose vectors one UPDATE copies into embedding_v

#: An utterance as the numpy index loads it: id, call id, role, float32 blob (or None).
VectorRow = Row[tuple[int, str, str, bytes | None]]
#: A hit's details: utterance id, call id, index, speaker, role, start, end, text, and its
#: call's file name and creation time.
HitRow = Row[tuple[int, str, int, str, str, float, float, str, str, datetime]]
#: Counts, id sum (PostgreSQL only), max id of the utterances; count and last update of the
#: calls. Equal fingerprints: nothing was written in between.
Fingerprint = tuple[object, ...]

# PostgreSQL adds the id sum: transactions commit out of id order and workers' clocks differ,
# but new rows always bring new ids. SQLite has one writer at a time; the sum would cost 5x.
_CALLS = "(SELECT count(*) FROM calls), (SELECT max(updated_at) FROM calls)"
_SQLITE = "(SELECT count(*) FROM utterances), NULL, (SELECT max(id) FROM utterances)"
_FINGERPRINT = {
    "sqlite": text(f"SELECT {_SQLITE}, {_CALLS}"),
    "postgresql": text(f"SELECT count(*), coalesce(sum(id), 0), max(id), {_CALLS} FROM utterances"),
}


def vector_literal(vector: np.ndarray | bytes) -> str:
    """pgvector's text form, ``[0.1,0.2]``, of a vector or of a float32 blob."""
    values = np.frombuffer(vector, "<f4") if isinstance(vector, bytes) else vector
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(values, np.float32).tolist()) + "]"


class IndexSnapshot:
    """Reads that all see one snapshot of the database (see :meth:`SearchRepository.snapshot`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def fingerprint(self) -> Fingerprint:
        return tuple(self._conn.execute(_FINGERPRINT[self._conn.dialect.name]).one())

    def call_versions(self) -> dict[str, datetime]:
        """Every call's id (tombstones too) and when it was last written."""
        return {c: u for c, u in self._conn.execute(select(CallRow.id, CallRow.updated_at))}

    def vectors(self, call_ids: Sequence[str] | None) -> Iterator[Sequence[VectorRow]]:
        """The utterances of these calls (None: one scan of the whole table; later, the new
        calls' rows through the call_id index), in partitions as they stream in."""
        u = UtteranceRow
        stmt = select(u.id, u.call_id, u.role, u.embedding)
        if call_ids is None:
            batches = [stmt]
        else:
            names = list(call_ids)
            chunks = [names[i : i + LOAD_BATCH] for i in range(0, len(names), LOAD_BATCH)]
            batches = [stmt.where(u.call_id.in_(c)) for c in chunks]
        for batch in batches:
            yield from self._conn.execute(batch.execution_options(yield_per=5000)).partitions()


@dataclass(frozen=True)
class PgvectorSetup:
    """What setting up ``embedding_v`` found: the column type it replaced (the model's
    dimension changed), and how many stored vectors are of another dimension."""

    replaced: str | None
    skipped: int


class SearchRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    @property
    def _engine(self) -> Engine:
        return self._database.engine

    def pgvector_available(self) -> bool:
        """Whether the database is PostgreSQL and its server offers the ``vector`` extension."""
        if self._database.dialect != "postgresql":
            return False
        with self._engine.connect() as conn:
            sql = "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            return conn.execute(text(sql)).first() is not None

    @contextmanager
    def snapshot(self) -> Iterator[IndexSnapshot]:
        """A read-only connection whose statements all see one snapshot of the database."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn.exec_driver_sql("BEGIN")  # SQLite in WAL mode: the first read pins it
            yield IndexSnapshot(conn)

    # ----------------------------------------------------------------- pgvector
    def sync_pgvector(self, dim: int, *, prepare: bool) -> PgvectorSetup | None:
        """Copy the vectors not yet in ``embedding_v vector(dim)`` into it, in one
        transaction; with ``prepare`` first make sure of the extension, the column (of
        this dimension) and its HNSW index, and say what was found (None without)."""
        with self._engine.begin() as conn:
            setup = self._prepare(conn, dim) if prepare else None
            self._backfill(conn, dim)
        return setup

    def _prepare(self, conn: Connection, dim: int) -> PgvectorSetup:
        kind, size, run = f"vector({dim})", dim * 4, conn.exec_driver_sql
        run(f"SELECT pg_advisory_xact_lock({PGVECTOR_LOCK})")  # one process at a time
        run("CREATE EXTENSION IF NOT EXISTS vector")
        current = run(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid ="
            " 'utterances'::regclass AND attname = 'embedding_v' AND NOT attisdropped"
        ).scalar()
        replaced = None
        if current not in (None, kind):  # the model changed: its vectors replace these
            replaced = str(current)
            run("ALTER TABLE utterances DROP COLUMN embedding_v")
        run(f"ALTER TABLE utterances ADD COLUMN IF NOT EXISTS embedding_v {kind}")
        run(  # makes "anything to backfill?" one probe of a tiny index
            f"CREATE INDEX IF NOT EXISTS ix_utterances_embedding_v_todo_{dim} ON utterances"
            f" (id) WHERE embedding_v IS NULL AND octet_length(embedding) = {size}"
        )
        other = run(f"SELECT count(*) FROM utterances WHERE octet_length(embedding) <> {size}")
        skipped = int(other.scalar() or 0)
        self._backfill(conn, dim)  # before the graph exists: one build beats row-by-row inserts
        run("SET LOCAL maintenance_work_mem = '512MB'")
        run(
            "CREATE INDEX IF NOT EXISTS ix_utterances_embedding_v ON utterances"
            " USING hnsw (embedding_v vector_cosine_ops)"
        )
        return PgvectorSetup(replaced, skipped)

    @staticmethod
    def _backfill(conn: Connection, dim: int) -> None:
        todo = text(
            "SELECT id, embedding FROM utterances WHERE embedding_v IS NULL AND"
            f" octet_length(embedding) = {dim * 4} ORDER BY id LIMIT {BACKFILL_BATCH}"
        )
        update = text(
            "UPDATE utterances AS u SET embedding_v = CAST(n.v AS vector) FROM"
            " unnest(CAST(:ids AS integer[]), CAST(:vs AS text[])) AS n(id, v) WHERE u.id = n.id"
        )
        while rows := conn.execute(todo).all():
            ids, blobs = zip(*rows, strict=True)
            conn.execute(update, {"ids": list(ids), "vs": [vector_literal(b) for b in blobs]})

    def rank_pgvector(
        self,
        vector: np.ndarray,
        k: int,
        *,
        call_id: str | None,
        role: str | None,
        min_score: float | None,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` utterance ids nearest ``vector`` by cosine, with their similarity, best
        first, through the HNSW index; only of calls with every ``metadata`` pair."""
        params: dict[str, object] = {
            "v": vector_literal(vector),
            "k": k,
            "call_id": call_id,
            "role": role,
        }
        where = ["embedding_v IS NOT NULL"]
        where += [f"{column} = :{column}" for column in ("call_id", "role") if params[column]]
        if min_score is not None:
            where.append("embedding_v <=> CAST(:v AS vector) <= :d")
            params["d"] = 1.0 - min_score
        for i, (key, value) in enumerate(metadata):
            where.append(
                "EXISTS (SELECT 1 FROM call_metadata m WHERE m.call_id = utterances.call_id "
                f"AND m.key = :mk{i} AND m.value = :mv{i})"
            )
            params[f"mk{i}"], params[f"mv{i}"] = key, value
        sql = (
            "SELECT id, 1 - (embedding_v <=> CAST(:v AS vector)) FROM utterances WHERE "
            f"{' AND '.join(where)} ORDER BY embedding_v <=> CAST(:v AS vector) LIMIT :k"
        )
        with self._engine.begin() as conn:
            # The graph filters after it searched: widen it, and rank one call's rows exactly
            # (a bitmap scan of the call_id index) rather than through it.
            ef = 4 * k if role or metadata or min_score is not None else 2 * k
            conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {min(max(40, ef), 1000)}")
            if call_id is not None:
                conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
            return [(int(i), float(s)) for i, s in conn.execute(text(sql), params)]

    # ----------------------------------------------------------------- hits
    def hits(self, utterance_ids: Sequence[int]) -> dict[int, HitRow]:
        """The details of these utterances, by id; ids no longer stored are left out."""
        u, c = UtteranceRow, CallRow
        columns = (u.id, u.call_id, u.index, u.speaker, u.role, u.start, u.end, u.text)
        stmt = select(*columns, c.filename, c.created_at).join(c, c.id == u.call_id)
        with self._engine.connect() as conn:
            return {r[0]: r for r in conn.execute(stmt.where(u.id.in_(list(utterance_ids))))}
