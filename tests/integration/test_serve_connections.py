"""`callytics serve` under slow, idle and too many connections (the probe's slowloris: 20k
half-open requests made the API unreachable and flooded the log with EMFILE errors)."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from api.serving import RepeatFilter
from tests.integration.test_commands import Serve
from tests.support.processes import embedded_env, free_port

WAIT_S = 60  # how long a client waits for the server's answer or its close: a hang guard


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = embedded_env(
        tmp_path, HTTP_HEADER_TIMEOUT_S="1", HTTP_BODY_TIMEOUT_S="1", MAX_CONNECTIONS="8"
    )
    serve = Serve(env, port)
    serve.wait_for("Uvicorn running on")  # printed once the socket is bound
    yield serve
    assert serve.stop() == -15 and "Traceback" not in serve.log(), serve.log()


def connect(server: Serve, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    sock.sendall(first_bytes)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Block until the server answers or closes; True if it closed without a word."""
    with sock:
        return sock.recv(4096) == b""


def status(server: Serve, path: str = "/health/live") -> int:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=WAIT_S) as client:
        return client.get(path).status_code


def test_a_request_whose_headers_never_finish_is_cut_off(server):
    sock = connect(server, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert closed_by_server(sock)
    assert status(server) == 200


def test_a_body_that_stops_arriving_is_cut_off(server):
    head = b"POST /v1/categories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock = connect(server, head + b'Content-Length: 1000\r\n\r\n{"name": ')
    assert closed_by_server(sock)
    assert status(server) == 200


def test_past_the_connection_cap_requests_get_503_until_the_stalled_ones_are_cut(server):
    stalled = [connect(server, b"GET / HTTP/1.1\r\n") for _ in range(8)]
    assert status(server) == 503  # MAX_CONNECTIONS=8 are open (and stalled)
    assert all(closed_by_server(s) for s in stalled)  # each cut at its header deadline
    assert status(server) == 200


def test_a_repeated_log_message_is_let_through_a_few_times_then_counted(caplog):
    logger = logging.getLogger("test.flood")
    repeat = RepeatFilter(burst=3, window_s=3600)
    logger.addFilter(repeat)
    try:
        with caplog.at_level(logging.ERROR, logger="test.flood"):
            for _ in range(10_000):
                logger.error("socket.accept() out of system resource: %s", "EMFILE")
            logger.error("another message")
    finally:
        logger.removeFilter(repeat)
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("socket.accept() out of system resource: EMFILE") == 3
    assert messages[-1] == "another message" and len(messages) == 4
