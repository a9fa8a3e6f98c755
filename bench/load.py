"""Read and search latency of `callytics serve` under concurrent clients, measured with wrk.

    .venv/bin/python -m bench.load [--calls 500] [--connections 50] [--duration 20]
                                   [--database-url postgresql://...] [--api-key KEY]
                                   [--jobs N] [--mix 25,10,15]

Seeds a throwaway database with real analyses (the bundled sample scripts, rendered with
espeak-ng and analysed with Whisper tiny.en; then copied to ``--calls`` calls with new ids),
starts `callytics serve` as its own process (tiny.en, the local LLM analyzer, jobs run in
that process) and points wrk (Debian package ``wrk``) at it.

Without ``--jobs``: one endpoint at a time, ``--duration`` seconds each, all connections on
it: ``GET /v1/calls/{id}`` (rotating over every call) and ``GET /v1/search?q=...&k=10``
(once with a new query each request, once rotating over five). One markdown row each.

With ``--jobs N``: one window of ``--duration`` seconds in which three wrk processes run at
once, the connections split by ``--mix`` (reads, lists, searches): ``GET /v1/calls/{id}``,
``GET /v1/calls`` (list pages: filters and cursors) and ``GET /v1/search`` (a new query each
request), while N analysis jobs are kept in flight: the rendered sample recordings uploaded
through ``POST /v1/calls``, a new upload as soon as one finishes. One warm-up job runs
(and loads the models) before the window. ``--jobs 0`` is the same mix with no jobs (the
baseline); ``--mix 0,0,0`` runs the jobs with no readers.

An answer of 400 or above, and any connection error or timeout (``--timeout``), counts as
an error.
``--api-key KEY`` sends ``Authorization: Bearer KEY`` on every request, and starts the
server with that key in ``API_KEYS`` (role analyst) and rate limits off.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
# A finished job's status; anything else is still queued or running.
DONE = ("succeeded", "failed")

# Each wrk thread walks the paths from its own offset (two threads sending the same
# "distinct" query at once would share one embedding). Answers of 400 and above are wrk's
# own count (summary.errors.status): a Lua response() callback would hand every body to
# Lua, and wrk, on the same cores as the server, would take CPU from what it measures.
LUA = """
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local threads = {}
i = 0
setup = function(thread)
  thread:set("i", #threads * math.floor(#paths / %(threads)d))
  threads[#threads + 1] = thread
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  local out = io.open("%(out)s", "w")
  out:write(string.format(
    '{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, '
    .. '"max_ms": %%f, "errors": %%d, "non_2xx": %%d}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, non2xx))
  out:close()
end
"""


@dataclass
class Seeded:
    """A running server over a seeded database."""

    url: str
    ids: list[str]
    recordings: list[tuple[Path, float]]  # the rendered sample calls and their seconds
    tmp: Path
    headers: dict[str, str]
    server: Any


def seed(
    workdir: Path, env: dict[str, str], copies: int
) -> tuple[list[str], list[tuple[Path, float]]]:
    """Analyse the sample calls for real, then store copies of them under new ids.

    Returns the call ids and the rendered recordings (path, seconds)."""
    from bootstrap.container import build_container
    from bootstrap.settings import Settings
    from samples import load_script, render_call
    from samples.catalog import script_names

    os.environ.update(env)
    container = build_container(Settings(_env_file=None))  # type: ignore[call-arg]
    database = container.database()
    database.upgrade()
    service = container.analysis()
    originals, recordings = [], []
    for name in script_names():
        path = workdir / f"{name}.wav"
        truth = render_call(load_script(name), path)
        recordings.append((path, truth.duration))
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
    return ids, recordings


def server_auth(api_key: str | None) -> dict[str, str]:
    """With a key: the server knows it (as an analyst, who may read, search and upload) and
    has no rate limits, which would otherwise turn the load test into a rate-limit test."""
    if not api_key:
        return {}
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return {
        "API_KEYS": f"load-bench:analyst:{digest}",
        "RATE_LIMIT_UPLOADS_PER_MIN": "0",
        "RATE_LIMIT_SEARCHES_PER_MIN": "0",
    }


def seed_once(
    seed_dir: Path, env: dict[str, str], calls: int
) -> tuple[list[str], list[tuple[Path, float]]]:
    """Seed ``seed_dir`` (database, recordings, ``seed.json``) unless an earlier run did."""
    manifest = seed_dir / "seed.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        if saved["calls"] == calls:
            return saved["ids"], [(Path(p), s) for p, s in saved["recordings"]]
        raise SystemExit(f"{seed_dir} holds {saved['calls']} calls, not {calls}: another dir")
    ids, recordings = seed(seed_dir, env, calls)
    manifest.write_text(
        json.dumps({"calls": calls, "ids": ids, "recordings": [[str(p), s] for p, s in recordings]})
    )
    return ids, recordings


@contextmanager
def seeded_server(
    calls: int,
    database_url: str | None,
    api_key: str | None,
    *,
    seed_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Seeded]:
    """Seed a throwaway database, start `callytics serve` on it, warm up reads and search.

    ``seed_dir`` (SQLite only): keep the seeded database and recordings there and reuse
    them on the next run; ``extra_env``: more settings for the server."""
    from tests.support.processes import ServeProcess, child_env

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with tempfile.TemporaryDirectory(prefix="callytics-load-") as tmp_name:
        tmp = Path(tmp_name)
        data = seed_dir or tmp
        data.mkdir(parents=True, exist_ok=True)
        settings = dict(
            DATABASE_URL=database_url or f"sqlite:///{data}/callytics.db",
            STORAGE_DIR=str(data / "audio"),
            ASR_MODEL="tiny.en",
            LLM_PROVIDER="rules",
            **server_auth(api_key),
        )
        if seed_dir is not None and database_url is None:
            ids, recordings = seed_once(seed_dir, child_env(**settings), calls)
            # each run on its own copy: the jobs of one run add calls the next would read
            shutil.copy(seed_dir / "callytics.db", tmp / "callytics.db")
            settings.update(
                DATABASE_URL=f"sqlite:///{tmp}/callytics.db", STORAGE_DIR=str(tmp / "audio")
            )
        else:
            ids, recordings = seed(tmp, child_env(**settings), calls)
        env = child_env(**settings, **(extra_env or {}))
        server = ServeProcess(env, tmp / "serve.log").start()
        try:
            base = server.url
            # first requests: wait for start-up and load the search model, outside the timing
            get = httpx.get(f"{base}/v1/calls/{ids[0]}", headers=headers, timeout=300)
            get.raise_for_status()
            wait_ready(base)
            httpx.get(
                f"{base}/v1/search", params={"q": "hello"}, headers=headers, timeout=300
            ).raise_for_status()
            yield Seeded(base, ids, recordings, tmp, headers, server)
        except BaseException:
            print(server.log()[-4000:])
            raise
        finally:
            server.close()


def wait_ready(url: str, timeout_s: float = 300) -> None:
    """Until /health/ready says every stage is loaded, the search index built and the heap
    frozen: loading in the window would be measured as the reads' latency."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/health/ready", timeout=60).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server was not ready in {timeout_s:.0f} s")
        time.sleep(0.5)


def wrk_command(
    url: str,
    paths: list[str],
    connections: int,
    seconds: int,
    tmp: Path,
    name: str,
    threads: int,
    headers: dict[str, str],
    timeout: int,
) -> tuple[list[str], Path]:
    paths_file, out_file, script = (tmp / f"{name}.{s}" for s in ("paths", "json", "lua"))
    paths_file.write_text("\n".join(paths) + "\n")
    script.write_text(LUA % {"paths": paths_file, "out": out_file, "threads": threads})
    out_file.unlink(missing_ok=True)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    command += [f"--timeout={timeout}s", "-s", str(script)]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    return [*command, url], out_file


def run_wrk_many(runs: dict[str, tuple[list[str], Path]]) -> dict[str, dict]:
    """Run the wrk commands at the same time; each one's summary by name."""
    procs = {
        name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for name, (cmd, _) in runs.items()
    }
    results = {}
    for name, proc in procs.items():
        output, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"wrk {name} exited {proc.returncode}: {output.decode()}")
        results[name] = json.loads(runs[name][1].read_text())
    return results


def warm_reads(bench: Seeded) -> None:
    """Every call read once, so the reads measured are of cached documents (the first read
    of each is a database read, measured by ``bench profile``'s uncached read)."""
    with httpx.Client(base_url=bench.url, headers=bench.headers, timeout=60) as client:
        for call_id in bench.ids:
            client.get(f"/v1/calls/{call_id}").raise_for_status()


def search_path(query: str) -> str:
    return "/v1/search?" + str(httpx.QueryParams({"q": query, "k": 10}))


def distinct_searches(count: int = 20_000) -> list[str]:
    """A new query every request: each one runs the embedding model."""
    return [search_path(f"{QUERIES[n % len(QUERIES)]} {n}") for n in range(count)]


def list_paths(url: str, headers: dict[str, str]) -> list[str]:
    """List pages: the first page, a few filters, and pages further in (by cursor)."""
    paths = [
        "/v1/calls?limit=20",
        "/v1/calls?limit=20&sentiment=negative",
        "/v1/calls?limit=20&conflict=true",
        "/v1/calls?limit=50&resolution=resolved",
    ]
    cursor = None
    for _ in range(4):
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{url}/v1/calls", params=params, headers=headers, timeout=60)
        page.raise_for_status()
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
        paths.append("/v1/calls?" + str(httpx.QueryParams({"limit": 20, "cursor": cursor})))
    for path in paths:  # every one answers 200 before the timing starts
        httpx.get(url + path, headers=headers, timeout=60).raise_for_status()
    return paths


# --- jobs -----------------------------------------------------------------------------


def timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class JobRecord:
    job_id: str
    upload_ms: float
    audio_s: float
    status: str = "queued"
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class JobFeeder:
    """Keeps ``in_flight`` analysis jobs queued or running: uploads a recording through
    ``POST /v1/calls``, follows ``GET /v1/jobs/{id}`` until it ends, uploads the next."""

    url: str
    recordings: list[tuple[Path, float]]
    in_flight: int
    headers: dict[str, str]
    poll_s: float = 0.25
    jobs: list[JobRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # rejected uploads, failed polls

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._threads = [
            threading.Thread(target=self._loop, daemon=True) for _ in range(self.in_flight)
        ]

    def run_one(self, client: httpx.Client, recording: tuple[Path, float]) -> JobRecord:
        path, seconds = recording
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            reply = client.post(  # the recordings come round again: analysed each time
                "/v1/calls", files={"file": (path.name, f, "audio/wav")}, data={"force": "true"}
            )
        upload_ms = (time.perf_counter() - t0) * 1000
        if reply.status_code != 202:
            raise RuntimeError(f"upload {reply.status_code}: {reply.text[:300]}")
        record = JobRecord(reply.json()["job_id"], upload_ms, seconds)
        with self._lock:
            self.jobs.append(record)
        while True:
            answer = client.get(f"/v1/jobs/{record.job_id}")
            if answer.status_code != 200:
                raise RuntimeError(f"job poll {answer.status_code}: {answer.text[:300]}")
            job = answer.json()
            if job["status"] in DONE:
                record.status, record.error = job["status"], job["error"]
                record.started_at = timestamp(job["started_at"])
                record.finished_at = timestamp(job["finished_at"])
                return record
            time.sleep(self.poll_s)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=300) as client:
            while not self._stop.is_set():
                with self._lock:
                    recording = self.recordings[self._next % len(self.recordings)]
                    self._next += 1
                try:
                    self.run_one(client, recording)
                except (httpx.HTTPError, RuntimeError) as exc:
                    with self._lock:
                        self.failures.append(f"{type(exc).__name__}: {exc}")

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def wait_until_running(self, timeout: float = 120) -> None:
        """Until a job of this feeder has started (no-op without jobs)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=60) as client:
            while self.in_flight and time.monotonic() < deadline:
                with self._lock:
                    ids = [j.job_id for j in self.jobs]
                for job_id in ids:
                    if client.get(f"/v1/jobs/{job_id}").json()["status"] != "queued":
                        return
                time.sleep(self.poll_s)

    def stop(self) -> None:
        """No more uploads; the jobs in flight are followed to their end."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=600)


def job_summary(jobs: list[JobRecord], window: tuple[datetime, datetime]) -> dict[str, Any]:
    start, end = window
    in_window = [j for j in jobs if j.finished_at and start <= j.finished_at <= end]
    run_s = [(j.finished_at - j.started_at).total_seconds() for j in in_window if j.started_at]
    return {
        "submitted": len(jobs),
        "completed": len(in_window),
        "succeeded": sum(j.status == "succeeded" for j in in_window),
        "failed_in_window": sum(j.status == "failed" for j in in_window),
        "all_succeeded_after": all(j.status == "succeeded" for j in jobs),
        "failed_any": [(j.job_id, j.error) for j in jobs if j.status != "succeeded"],
        "audio_s": sum(j.audio_s for j in in_window if j.status == "succeeded"),
        "median_run_s": statistics.median(run_s) if run_s else None,
        "upload_ms_max": max((j.upload_ms for j in jobs), default=None),
    }


def warm_up_job(url: str, recording: tuple[Path, float], headers: dict[str, str]) -> None:
    """One job before the window: the analysis models load outside the timing."""
    feeder = JobFeeder(url, [recording], 0, headers)
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        record = feeder.run_one(client, recording)
    if record.status != "succeeded":
        raise RuntimeError(f"warm-up job {record.status}: {record.error}")


# --- the two modes ----------------------------------------------------------------------


def one_endpoint_at_a_time(bench: Seeded, args: argparse.Namespace) -> list[dict[str, Any]]:
    targets = {
        "GET /v1/calls/{id} (cached)": [f"/v1/calls/{i}" for i in bench.ids],
        "GET /v1/calls (list)": list_paths(bench.url, bench.headers),
        "GET /v1/search, distinct queries": distinct_searches(),
        # A few queries over and over: their vectors come from the query cache.
        "GET /v1/search, 5 repeated queries": [search_path(q) for q in QUERIES],
    }
    rows = []
    threads = min(2, args.connections)
    warm_reads(bench)
    for n, (name, paths) in enumerate(targets.items()):
        run = wrk_command(
            bench.url,
            paths,
            args.connections,
            args.duration,
            bench.tmp,
            f"wrk{n}",
            threads,
            bench.headers,
            args.timeout,
        )
        rows.append({"endpoint": name, **run_wrk_many({name: run})[name]})
    return rows


def mixed_with_jobs(bench: Seeded, args: argparse.Namespace) -> tuple[list[dict], dict]:
    reads, lists, searches = args.mix
    targets = {
        "GET /v1/calls/{id}": (reads, [f"/v1/calls/{i}" for i in bench.ids]),
        "GET /v1/calls (list)": (lists, list_paths(bench.url, bench.headers)),
        "GET /v1/search, distinct queries": (searches, distinct_searches()),
    }
    runs = {
        name: wrk_command(
            bench.url,
            paths,
            connections,
            args.duration,
            bench.tmp,
            f"mix{n}",
            1,
            bench.headers,
            args.timeout,
        )
        for n, (name, (connections, paths)) in enumerate(targets.items())
        if connections
    }
    warm_reads(bench)
    if args.jobs:
        warm_up_job(bench.url, bench.recordings[0], bench.headers)
    feeder = JobFeeder(bench.url, bench.recordings, args.jobs, bench.headers)
    feeder.start()
    feeder.wait_until_running()
    start = datetime.now(UTC)
    if runs:
        results = run_wrk_many(runs)
    else:
        time.sleep(args.duration)
        results = {}
    end = datetime.now(UTC)
    feeder.stop()
    rows = [{"endpoint": name, **r} for name, r in results.items()]
    if len(rows) > 1:
        total = sum(r["requests"] for r in rows)
        rows.append(
            {
                "endpoint": "all",
                "requests": total,
                "seconds": max(r["seconds"] for r in rows),
                "p50_ms": None,
                "p95_ms": None,
                "p99_ms": None,
                "max_ms": max(r["max_ms"] for r in rows),
                "errors": sum(r["errors"] for r in rows),
                "non_2xx": sum(r["non_2xx"] for r in rows),
            }
        )
    summary = job_summary(feeder.jobs, (start, end))
    summary["window_s"] = (end - start).total_seconds()
    summary["feeder_failures"] = feeder.failures
    return rows, summary


def embedding_ceiling(batch: int = 32, count: int = 640) -> tuple[float, int]:
    """What the embedding model alone embeds a second: ``count`` distinct queries in
    batches of ``batch``, in this process (the server idle), with torch's threads as the
    server has them. Returns (queries/s, threads): the ceiling of distinct searches."""
    import torch

    from services.embedding.local import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder()._load_sync()
    texts = [f"{QUERIES[n % len(QUERIES)]} {n}" for n in range(count)]
    model.encode(texts[:batch], batch_size=batch)  # warm
    started = time.perf_counter()
    for i in range(0, count, batch):
        model.encode(texts[i : i + batch], batch_size=batch, normalize_embeddings=True)
    return count / (time.perf_counter() - started), torch.get_num_threads()


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_rows(rows: list[dict[str, Any]]) -> None:
    print("| endpoint | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | 4xx/5xx |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['endpoint']} | {r['requests'] / r['seconds']:,.0f} | {fmt(r['p50_ms'])} | "
            f"{fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | "
            f"{r['errors']} | {r['non_2xx']} |"
        )


def parse_mix(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3 or min(parts) < 0:
        raise argparse.ArgumentTypeError("--mix is READS,LISTS,SEARCHES (connections each)")
    return parts[0], parts[1], parts[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--seed-dir",
        type=Path,
        help="SQLite: keep the seeded database here and reuse it on the next run",
    )
    parser.add_argument(
        "--api-key", help="an API key (cly_...), sent as `Authorization: Bearer KEY`"
    )
    parser.add_argument("--timeout", type=int, default=10, help="wrk's per-request timeout, s")
    parser.add_argument(
        "--jobs",
        type=int,
        help="one mixed window with this many analysis jobs kept in flight (0: none)",
    )
    parser.add_argument(
        "--mix",
        type=parse_mix,
        help="with --jobs: connections for reads,lists,searches (default: half, a fifth, "
        "the rest of --connections)",
    )
    args = parser.parse_args()
    if args.mix is None:
        reads, lists = args.connections // 2, args.connections // 5
        args.mix = (reads, lists, args.connections - reads - lists)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: sudo apt-get install wrk")
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with seeded_server(
        args.calls, args.database_url, args.api_key, seed_dir=args.seed_dir
    ) as bench:
        if args.jobs is None:
            rows = one_endpoint_at_a_time(bench, args)
            ceiling = embedding_ceiling()
        else:
            rows, jobs = mixed_with_jobs(bench, args)
        stats = httpx.get(f"{bench.url}/v1/cache/stats", headers=bench.headers, timeout=30)
        server_log = bench.server.log()
    if args.jobs is None:
        print(f"{args.calls} calls, {backend}, {args.connections} connections, ", end="")
        print(f"{args.duration} s each\n")
    else:
        reads, lists, searches = args.mix
        print(
            f"{args.calls} calls, {backend}, {reads} + {lists} + {searches} connections "
            f"(reads + lists + searches) at once, {args.jobs} job(s) in flight, "
            f"{args.duration} s window\n"
        )
    print_rows(rows)
    if args.jobs is None:
        print(
            f"\nthe embedding model alone (distinct queries, batches of 32, "
            f"{ceiling[1]} torch threads): {ceiling[0]:,.0f} queries/s"
        )
    if args.jobs is not None:
        median = jobs["median_run_s"]
        print(
            f"\njobs: {jobs['submitted']} submitted, {jobs['completed']} completed in the "
            f"{jobs['window_s']:.1f} s window ({jobs['succeeded']} succeeded, "
            f"{jobs['failed_in_window']} failed; {jobs['audio_s']:.0f} s of audio); "
            f"every job succeeded in the end: "
            f"{jobs['all_succeeded_after']}; median run "
            f"{'-' if median is None else f'{median:.1f} s'}; slowest upload "
            f"{fmt(jobs['upload_ms_max'])} ms"
        )
        for failure in jobs["failed_any"] + jobs["feeder_failures"]:
            print(f"  job problem: {failure}")
    print(f"\ncache after the run: {json.dumps(stats.json())}")
    errors = [line for line in server_log.splitlines() if "Traceback" in line or " 500" in line]
    if errors:
        print(f"server log: {len(errors)} error line(s), e.g. {errors[0]}")


if __name__ == "__main__":
    main()
