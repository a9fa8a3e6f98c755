"""Shared fixtures. Tests never reach a model hub: any accidental download fails fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The analysis by rules unless a test asks for a model (the local one takes a minute a call).
os.environ.setdefault("LLM_PROVIDER", "rules")

ROOT = Path(__file__).resolve().parents[1]


def recordings_dir() -> Path:
    """The real recordings with ground truth: ``tests/data`` (see its README), or the folder
    ``CALLYTICS_SHARED_DATA`` names (one with the same ``audio/`` layout)."""
    env = os.environ.get("CALLYTICS_SHARED_DATA")
    folder = Path(env) if env else ROOT / "tests" / "data"
    if not (folder / "audio").is_dir():
        raise FileNotFoundError(f"{folder}/audio not found (CALLYTICS_SHARED_DATA={env!r})")
    return folder


@pytest.fixture(scope="session")
def recordings() -> Path:
    return recordings_dir() / "audio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    """The same test on SQLite and on the real PostgreSQL server."""
    from tests.support.databases import temp_database

    with temp_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def private_redis(tmp_path):
    """A started redis-server of this test's own (free loopback port), killed afterwards;
    the test may kill it and ``start()`` it again on the same port."""
    from tests.support.servers import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def private_postgres():
    """A started PostgreSQL cluster of this test's own, which it may stop and restart."""
    from tests.support.servers import PostgresCluster

    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.destroy()
