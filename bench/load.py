"""Read and search latency of `callytics serve` under concurrent clients, measured with wrk.

    .venv/bin/python -m bench.load [--calls 500] [--connections 50] [--duration 20]
                                   [--database-url postgresql://...]

Seeds a throwaway database with real analyses (the bundled sample scripts, rendered with
espeak-ng and analysed with Whisper tiny.en; then copied to ``--calls`` calls with new ids),
starts `callytics serve` as its own process, and points wrk (Debian package ``wrk``) at
``GET /v1/calls/{id}`` (rotating over every call) and ``GET /v1/search?q=...&k=10`` (once
with a new query each request, once rotating over five). Prints one markdown row each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx

from core.persistence.repositories import CallRepository, from_blob

QUERIES = [
    "I want my money back",
    "the internet keeps dropping",
    "cancel my subscription",
    "speak to a supervisor",
    "reset my password",
]

LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local out = io.open("%(out)s", "w")
  out:write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, '
    .. '"errors": %%d, "non_2xx": %%d}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status))
  out:close()
end
"""


def seed(workdir: Path, env: dict[str, str], copies: int) -> list[str]:
    """Analyse the sample calls for real, then store copies of them under new ids."""
    from bootstrap.container import build_container
    from bootstrap.settings import Settings
    from samples import load_script, render_call
    from samples.catalog import script_names

    os.environ.update(env)
    container = build_container(Settings(_env_file=None))  # type: ignore[call-arg]
    database = container.database()
    database.upgrade()
    service = container.analysis()
    originals = []
    for name in script_names():
        path = workdir / f"{name}.wav"
        render_call(load_script(name), path)
        originals.append(asyncio.run(service.analyze_file(path))["id"])
    ids = list(originals)
    with database.session() as session:
        calls = CallRepository(session)
        sources = [(calls.document(i), calls.get(i)) for i in originals]
        for n in range(copies - len(originals)):
            document, row = sources[n % len(sources)]
            assert document is not None and row is not None
            copy = dict(document, id=str(uuid.uuid4()))
            vectors = [from_blob(u.embedding) for u in row.utterances]
            calls.add(
                copy,
                content_sha256=row.content_sha256,
                audio_path=None,
                job_id=None,
                call_vector=from_blob(row.embedding),
                utterance_vectors=vectors if all(v is not None for v in vectors) else None,
            )
            ids.append(copy["id"])
    database.dispose()
    return ids


def run_wrk(url: str, paths: list[str], connections: int, seconds: int, tmp: Path) -> dict:
    paths_file, out_file, script = tmp / "paths.txt", tmp / "wrk.json", tmp / "wrk.lua"
    paths_file.write_text("\n".join(paths) + "\n")
    script.write_text(LUA % {"paths": paths_file, "out": out_file})
    threads = min(2, connections)
    subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        check=True,
        capture_output=True,
    )
    return json.loads(out_file.read_text())


def search_path(query: str) -> str:
    return "/v1/search?" + str(httpx.QueryParams({"q": query, "k": 10}))


def main() -> None:
    from tests.support.processes import ServeProcess, child_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: sudo apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="callytics-load-") as tmp_name:
        tmp = Path(tmp_name)
        env = child_env(
            DATABASE_URL=args.database_url or f"sqlite:///{tmp}/callytics.db",
            STORAGE_DIR=str(tmp / "audio"),
            ASR_MODEL="tiny.en",
            LLM_PROVIDER="local",
        )
        ids = seed(tmp, env, args.calls)
        server = ServeProcess(env, tmp / "serve.log").start()
        rows: list[dict[str, Any]] = []
        try:
            base = server.url
            # first requests: wait for start-up and load the search model, outside the timing
            httpx.get(f"{base}/v1/calls/{ids[0]}", timeout=300).raise_for_status()
            httpx.get(f"{base}/v1/search", params={"q": "hello"}, timeout=300).raise_for_status()
            targets = {
                "GET /v1/calls/{id}": [f"/v1/calls/{i}" for i in ids],
                # Every query new: each request runs the embedding model.
                "GET /v1/search, distinct queries": [
                    search_path(f"{QUERIES[n % len(QUERIES)]} {n}") for n in range(20_000)
                ],
                # A few queries over and over: their vectors come from the query cache.
                "GET /v1/search, 5 repeated queries": [search_path(q) for q in QUERIES],
            }
            for name, paths in targets.items():
                result = run_wrk(base, paths, args.connections, args.duration, tmp)
                rows.append({"endpoint": name, **result})
            stats = httpx.get(f"{base}/v1/cache/stats", timeout=30).json()
        finally:
            server.close()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{args.calls} calls, {backend}, {args.connections} connections, {args.duration} s each\n"
    )
    print("| endpoint | requests/s | p50 ms | p95 ms | p99 ms | errors | non-2xx |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['endpoint']} | {r['requests'] / r['seconds']:.0f} | {r['p50_ms']:.1f} | "
            f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r['non_2xx']} |"
        )
    print(f"\ncache after the run: {json.dumps(stats)}")


if __name__ == "__main__":
    main()
