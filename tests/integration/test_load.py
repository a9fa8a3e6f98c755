"""50 concurrent clients read, list and search a real `callytics serve` while an analysis
job runs in it: every answer is a well-formed 2xx, and the job still succeeds.

The figures (requests/s, percentiles, jobs per window) come from ``python -m bench load
--jobs N`` (bench/RESULTS.md); this test only checks correctness under concurrency.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from samples import load_script, render_call
from tests.support.processes import ServeProcess, embedded_env, subscribe_job

pytestmark = pytest.mark.slow

CLIENTS = 50
ROUNDS = 10  # requests per client: reads, lists and searches in turn


async def upload(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        reply = await client.post(  # the same recording again: analysed again (force)
            "/v1/calls", files={"file": (path.name, f, "audio/wav")}, data={"force": "true"}
        )
    assert reply.status_code == 202, reply.text
    return reply.json()


def check(kind: str, reply: httpx.Response, expected: dict[str, Any]) -> str | None:
    """What is wrong with one answer, or None."""
    if not 200 <= reply.status_code < 300:
        return f"{kind}: {reply.status_code} {reply.text[:200]}"
    body = reply.json()
    if kind == "read":
        ok = body.get("id") == expected["call_id"] and bool(body.get("utterances"))
    elif kind == "list":
        ids = [item.get("id") for item in body.get("items", [])]
        ok = expected["call_id"] in ids and body.get("total", 0) >= 1
    else:
        hits = body.get("hits")
        ok = (
            body.get("query") == expected["query"]
            and bool(hits)
            and all(h.get("call_id") in expected["call_ids"] and h.get("text") for h in hits)
        )
    return None if ok else f"{kind}: malformed answer {str(body)[:300]}"


async def one_client(client: httpx.AsyncClient, n: int, known: dict[str, Any]) -> list[str]:
    """``ROUNDS`` requests on the client's own connection; what went wrong, if anything."""
    problems = []
    for r in range(ROUNDS):
        kind = ("read", "list", "search")[(n + r) % 3]
        expected = dict(known)
        try:
            if kind == "read":
                reply = await client.get(f"/v1/calls/{known['call_id']}")
            elif kind == "list":
                reply = await client.get("/v1/calls", params={"limit": 20})
            else:
                expected["query"] = f"what is the status of my flight {n} {r}"
                reply = await client.get("/v1/search", params={"q": expected["query"], "k": 5})
        except httpx.HTTPError as exc:
            problems.append(f"{kind}: {type(exc).__name__} {exc}")
            continue
        if problem := check(kind, reply, expected):
            problems.append(problem)
    return problems


async def scenario(server: ServeProcess, recording: Path) -> None:
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=server.url, timeout=300)
        )
        # A first call, analysed and stored: what the clients read, list and find.
        first = await upload(client, recording)
        events = await subscribe_job(server.ws_url, first["job_id"])
        assert events[-1]["status"] == "SUCCEEDED", (events[-1], server.log())

        # The clients, each with its connection open (so that they all send at once).
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=120))
            for _ in range(CLIENTS)
        ]
        opened = await asyncio.gather(*(c.get("/health/live") for c in clients))
        assert all(r.status_code == 200 for r in opened)

        # A second job; the clients start once it is running.
        second = await upload(client, recording)
        running = asyncio.Event()

        def on_event(event: dict[str, Any]) -> None:
            if event["stage"] != "queued":
                running.set()

        follow = asyncio.create_task(subscribe_job(server.ws_url, second["job_id"], on_event))
        started = asyncio.create_task(running.wait())
        await asyncio.wait({follow, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        assert running.is_set(), follow.result()

        known = {"call_id": first["call_id"], "call_ids": {first["call_id"], second["call_id"]}}
        results = await asyncio.gather(*(one_client(c, n, known) for n, c in enumerate(clients)))
        problems = [p for client_problems in results for p in client_problems]
        events = await follow

        assert problems == [], f"{len(problems)} bad answers, e.g. {problems[:5]}"
        assert events[-1]["status"] == "SUCCEEDED", (events[-1], server.log())
        document = await client.get(f"/v1/calls/{second['call_id']}")
        assert document.status_code == 200 and document.json()["utterances"]
        listed = (await client.get("/v1/calls")).json()
        assert listed["total"] == 2


def test_fifty_clients_read_list_and_search_while_a_job_runs(tmp_path):
    render_call(load_script("short"), tmp_path / "call.wav")
    server = ServeProcess(embedded_env(tmp_path), tmp_path / "serve.log").start()
    try:
        asyncio.run(scenario(server, tmp_path / "call.wav"))
    finally:
        server.close()
