"""API fixtures: the app on fake engines, in-process, with a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.jobs.events import JobEvent, watch_job
from tests.support.app import fake_container, make_settings


@pytest.fixture
def api_settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def make_client(tmp_path):
    """``make_client(**engines, settings=...)`` -> a started TestClient (closed at teardown)."""
    clients: list[TestClient] = []

    def make(settings: Any = None, **engines: Any) -> TestClient:
        container = fake_container(settings or make_settings(tmp_path), **engines)
        client = TestClient(create_app(container=container))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> Iterator[TestClient]:
    return make_client()


def runtime_of(client: TestClient) -> Any:
    return client.app.state.runtime  # type: ignore[attr-defined]


def follow_job(client: TestClient, job_id: str) -> list[JobEvent]:
    """Every event of the job until it ends, read on the app's own event loop."""
    runtime = runtime_of(client)

    async def collect() -> list[JobEvent]:
        return [
            e async for e in watch_job(job_id, runtime.service.bus, runtime.service.stored_events)
        ]

    assert client.portal is not None
    return client.portal.call(collect)
