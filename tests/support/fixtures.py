"""Pytest fixtures for the llm tests. Use with ``pytest_plugins = ["tests.support.fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def openai_server_session() -> Iterator[FakeOpenAIServer]:
    """One fake OpenAI-compatible server for the whole session, on a free loopback port."""
    server = FakeOpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openai_server(openai_server_session: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The session's fake server, behaving normally and with no recorded requests."""
    openai_server_session.reset()
    yield openai_server_session
    openai_server_session.reset()
