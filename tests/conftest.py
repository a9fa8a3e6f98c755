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

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The real recordings with ground truth: ``../shared/data`` beside the checkout."""
    env = os.environ.get("CALLYTICS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "data", ROOT / "shared" / "data"]
    for c in candidates:
        if (c / "audio").is_dir():
            return c
    raise FileNotFoundError("../shared/data not found; set CALLYTICS_SHARED_DATA")


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    return shared_data_dir() / "audio"


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
