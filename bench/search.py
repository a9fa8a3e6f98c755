"""Semantic search at scale: cold index load, query latency, and how fast changes are seen.

.venv/bin/python -m bench.search --rows 100000 [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Fills a throwaway SQLite file and a throwaway PostgreSQL database (created on the server
that ``--database-url`` names, dropped afterwards) with random L2-normalised 384-d utterance
vectors, 50 to a call, in bulk inserts. Then, for every backend the database offers:

* cold load: a new :class:`core.calls.search.SemanticSearch` until ``warm()`` returns;
* query latency over ``--queries`` searches for k=10 (the query vectors are precomputed, so
  this is the search alone; the real model's embedding time is measured on its own);
* pick-up: the first search after another connection inserted 1,000 rows (20 calls), and
  after it deleted 20 calls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, text
from sqlalchemy.engine import make_url

from core.calls.search import SemanticSearch, pgvector_available
from core.domain import StageInfo
from core.persistence.database import Database
from core.persistence.models import CallRow, UtteranceRow

DIM = 384
PER_CALL = 50
SUMMARY = "The customer called about a billing problem and the agent explained the charges. " * 20


class QueryVectors:
    """An Embedder that hands out precomputed random query vectors: no model time."""

    dimension = DIM

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def info(self) -> StageInfo:
        return StageInfo("local", "random-vectors", "none")

    async def load(self) -> None:
        return None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return unit_vectors(self._rng, len(texts))


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(db: Database, first_call: int, calls: int, rng: np.random.Generator) -> None:
    """``calls`` calls of PER_CALL utterances each, in bulk inserts of 5,000 rows."""
    now = datetime.now(UTC)
    call_rows = [
        {
            "id": f"call-{c:07d}",
            "filename": f"call-{c:07d}.wav",
            "created_at": now,
            "updated_at": now,
            "status": "succeeded",
            "duration_s": 300.0,
            "language": "en",
            "topics": ["billing"],
            "topics_text": "|billing|",
            "content_sha256": "0" * 64,
            "document": {"id": f"call-{c:07d}", "analysis": {"summary": SUMMARY}},
        }
        for c in range(first_call, first_call + calls)
    ]
    utterances: list[dict[str, Any]] = [
        {
            "call_id": f"call-{c:07d}",
            "index": i,
            "speaker": f"S{i % 2 + 1}",
            "role": ("agent", "customer")[i % 2],
            "start": 6.0 * i,
            "end": 6.0 * i + 5.0,
            "text": f"utterance {i} of call {c}",
            "words": [],
        }
        for c in range(first_call, first_call + calls)
        for i in range(PER_CALL)
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(CallRow), call_rows)
        for start in range(0, len(utterances), 5000):
            batch = utterances[start : start + 5000]
            vectors = unit_vectors(rng, len(batch))
            for row, vector in zip(batch, vectors, strict=True):
                row["embedding"] = vector.tobytes()
            conn.execute(insert(UtteranceRow), batch)


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="callytics_bench_") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.upgrade()
        try:
            yield db
        finally:
            db.dispose()


@contextmanager
def postgres_database(server_url: str) -> Iterator[Database]:
    import psycopg

    name = f"callytics_bench_{uuid.uuid4().hex[:10]}"
    server = make_url(server_url).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    db = Database(server.set(database=name).render_as_string(hide_password=False))
    try:
        db.upgrade()
        yield db
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


async def timed(coro) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    await coro
    return time.perf_counter() - t0


async def measure(db: Database, backend: str, new: int, gone: int, queries: int) -> list[str]:
    """Adds calls ``new``.. and deletes calls ``gone``.. (20 each) along the way."""
    search = SemanticSearch(db, QueryVectors(seed=1), backend=backend)
    cold = await timed(search.warm())
    latencies = [await timed(search.search("q", k=10)) for _ in range(queries)]
    filtered = [await timed(search.search("q", k=10, role="customer")) for _ in range(50)]
    writer = Database(db.url)  # another process's connection
    try:
        fill(writer, new, 20, np.random.default_rng(2))
        inserted = await timed(search.search("q", k=10))
        with writer.engine.begin() as conn:
            ids = [f"call-{c:07d}" for c in range(gone, gone + 20)]
            conn.execute(delete(UtteranceRow).where(UtteranceRow.call_id.in_(ids)))
            conn.execute(delete(CallRow).where(CallRow.id.in_(ids)))
        deleted = await timed(search.search("q", k=10))
    finally:
        writer.dispose()
    p50, p95 = np.percentile(latencies, [50, 95])
    return [
        ms(cold),
        ms(float(p50)),
        ms(float(p95)),
        ms(statistics.median(filtered)),
        ms(inserted),
        ms(deleted),
    ]


async def embedding_time() -> str:
    from services.embedding.local import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    await embedder.load()
    await embedder.embed(["warm up"])
    times = [await timed(embedder.embed(["money back please"])) for _ in range(50)]
    return ms(statistics.median(times))


async def run(args: argparse.Namespace) -> None:
    calls = args.rows // PER_CALL
    targets = []
    if args.only in (None, "sqlite"):
        targets.append(("SQLite", sqlite_database))
    if args.only in (None, "postgres"):
        targets.append(("PostgreSQL", lambda: postgres_database(args.database_url)))
    columns = ["database", "backend", "rows", "fill", "cold load", "p50", "p95"]
    columns += ["p50 role filter", "first query after +1,000 rows", "after -20 calls"]
    print("| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for label, make in targets:
        with make() as db:
            t0 = time.perf_counter()
            fill(db, 0, calls, np.random.default_rng(0))
            filled = time.perf_counter() - t0
            if db.dialect == "postgresql":  # what autovacuum does after a bulk load
                with db.engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.execute(text("VACUUM ANALYZE"))
            backends = ["numpy"] + (["pgvector"] if pgvector_available(db) else [])
            for i, backend in enumerate(backends):
                with db.engine.connect() as conn:
                    rows = conn.execute(text("SELECT count(*) FROM utterances")).scalar_one()
                cells = await measure(db, backend, calls + 20 * i, 20 * i, args.queries)
                head = f"| {label} | {backend} | {rows:,} | {ms(filled)} | "
                print(head + " | ".join(cells) + " |")
    embedding = await embedding_time()
    print(f"\nQuery embedding, all-MiniLM-L6-v2 on the CPU, one short query: p50 {embedding}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server on which the throwaway database is created",
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
