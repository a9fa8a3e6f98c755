"""`callytics serve --fd`: the handed-over socket is served as the TCP socket it is."""

from __future__ import annotations

import asyncio
import socket

from api.cli import inherited_socket


async def test_an_inherited_tcp_socket_serves_clients_without_nagle():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    sock = inherited_socket(listener.detach())
    assert sock.family == socket.AF_INET  # uvicorn's own fd= says AF_UNIX here

    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("socket")
        accepted.set_result(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_client, sock=sock)
    async with server:
        _reader, writer = await asyncio.open_connection(*sock.getsockname())
        assert await asyncio.wait_for(accepted, 10) != 0  # asyncio sets TCP_NODELAY on TCP
        writer.close()


def test_serve_runs_one_api_process_per_core_only_when_jobs_run_elsewhere(monkeypatch):
    from api.cli import default_workers

    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    assert default_workers("arq") == 4  # jobs in `callytics worker`s: the API scales out
    assert default_workers("local") == 1  # the in-process queue and job progress: one process
