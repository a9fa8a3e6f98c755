"""Throwaway databases: a SQLite file, or a fresh database on the real PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.persistence.database import Database

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A new empty database on 127.0.0.1:5432, dropped afterwards."""
    import psycopg

    name = f"callytics_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:  # pragma: no cover - CI starts the server
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for this test: {exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temp_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """An upgraded :class:`Database` of ``kind`` (``sqlite`` or ``postgres``)."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/calls.db")
        db.upgrade()
        try:
            yield db
        finally:
            db.dispose()
        return
    with postgres_url() as url:
        db = Database(url)
        assert db.dialect == "postgresql"
        db.upgrade()
        try:
            yield db
        finally:
            db.dispose()
