"""Bulk ingest as a user runs it: `callytics ingest DIR --watch` on a folder of 20 synthetic
calls with sidecar metadata, killed (SIGKILL) mid-way and started again, and
`callytics analyze DIR --recursive` as the README types it. Real processes, a fresh SQLite
database, the tiny ASR model (the point is the plumbing)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from core.calls.catalog import CallCatalog, CallFilters
from core.persistence.database import Database
from core.persistence.models import CallRow, IngestFileRow, JobRow
from samples import render_call
from samples.model import CallScript, Turn
from tests.support.processes import (
    ROOT,
    LineReader,
    callytics_command,
    embedded_env,
    run_command,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CALLS = 20
AGENTS = ("a-ana", "a-ben", "a-cy")


def short_call(number: int) -> CallScript:
    """A few seconds: two turns that differ from call to call (so does their audio)."""
    return CallScript(
        name=f"ingest-{number}",
        title=f"Order {number}",
        company="Northwind",
        turns=(
            Turn("A", "agent", f"Northwind, this is call {number}."),
            Turn("C", "customer", f"Hello, my order {number} is late."),
        ),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("rendered")
    paths = [folder / f"call-{i:02d}.wav" for i in range(CALLS)]
    for i, path in enumerate(paths):
        render_call(short_call(i + 1), path)
    return paths


def sidecar(i: int) -> dict[str, str]:
    return {"agent": AGENTS[i % 3], "external_id": f"C-{i:02d}", "team": "orders"}


def drop(source: Path, folder: Path, i: int) -> None:
    """Put call ``i`` in the watched folder as a copier does: its sidecar first, then the
    recording under a temporary name, renamed once complete."""
    name = f"call-{i:02d}.wav"
    (folder / f"{name}.json").write_text(json.dumps(sidecar(i)))
    shutil.copyfile(source, folder / f"{name}.part")
    (folder / f"{name}.part").rename(folder / name)


class IngestProcess(LineReader):
    name = "callytics ingest"

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*callytics_command(), "ingest", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        super().__init__(self.proc.stderr)

    def signal(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)


class Store:
    """The test's view of the database the processes share (read-only)."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)

    def jobs(self) -> list[JobRow]:
        with self.database.session() as s:
            return list(s.scalars(select(JobRow)))

    def calls(self) -> list[CallRow]:
        with self.database.session() as s:
            return list(s.scalars(select(CallRow)))

    def files(self) -> list[IngestFileRow]:
        with self.database.session() as s:
            return list(s.scalars(select(IngestFileRow)))

    def running(self) -> list[str]:
        return [j.id for j in self.jobs() if j.status == "running"]


def done_files(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / ".done").glob("*.wav"))


def test_a_watched_folder_takes_every_call_once_across_a_kill(tmp_path, rendered):
    folder = tmp_path / "incoming"
    folder.mkdir()
    env = embedded_env(tmp_path, COLUMNS="200")
    store = Store(f"sqlite:///{tmp_path}/callytics.db")
    for i in range(12):
        drop(rendered[i], folder, i)
    watch = ("--watch", "--poll-s", "0.3")

    first = IngestProcess(env, str(folder), *watch)
    try:
        first.wait_for("ingest: watching")
        wait_until(lambda: done_files(folder), 240, "a first call analysed", diagnose=first.log)
        for i in range(12, 17):  # more arrive while it works
            drop(rendered[i], folder, i)
        # killed mid-job, with files submitted but not yet moved
        wait_until(
            lambda: len(done_files(folder)) >= 6 and store.running(),
            240,
            "six calls analysed and a seventh running",
            diagnose=first.log,
        )
        first.signal(signal.SIGKILL)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    interrupted = store.running()  # the process is dead: this is what it left
    assert len(interrupted) == 1, first.log()
    assert len(done_files(folder)) < 17  # work was left for the restart
    for i in range(17, CALLS):  # and more arrive while nothing watches
        drop(rendered[i], folder, i)

    second = IngestProcess(env, str(folder), *watch)
    try:
        wait_until(
            lambda: len(done_files(folder)) == CALLS,
            300,
            "every call analysed after the restart",
            diagnose=lambda: first.log() + second.log(),
        )
        assert second.signal(signal.SIGTERM) == 0, second.log()
    finally:
        if second.proc.poll() is None:
            second.proc.kill()
    output = second.log()
    assert "Traceback" not in output and "ingest: " in output.splitlines()[-1], output
    assert "resumed" in output  # the files the kill left in flight were not submitted again

    # Every call analysed exactly once, with its sidecar's metadata.
    jobs = store.jobs()
    assert len(jobs) == CALLS and {j.status for j in jobs} == {"succeeded"}
    assert {j.kind for j in jobs} == {"analyze"}
    assert len({j.content_sha256 for j in jobs}) == CALLS  # no audio twice
    (resumed,) = [j for j in jobs if j.id in interrupted]
    assert resumed.attempts == 2  # the job the kill interrupted ran again, as the same job
    calls = store.calls()
    assert len(calls) == CALLS and len({c.content_sha256 for c in calls}) == CALLS
    by_external = {c.external_id: c for c in calls}
    for i in range(CALLS):
        call = by_external[f"C-{i:02d}"]
        assert call.meta == sidecar(i) and call.agent == AGENTS[i % 3]
        assert call.created_by == "ingest" and call.filename == f"call-{i:02d}.wav"
    assert sorted(f.status for f in store.files()) == ["done"] * CALLS

    # The files moved, with their sidecars, and nothing left behind.
    assert done_files(folder) == [f"call-{i:02d}.wav" for i in range(CALLS)]
    assert len(list((folder / ".done").glob("*.wav.json"))) == CALLS
    assert [p.name for p in folder.iterdir()] == [".done"]

    # Filterable by agent (the catalog the API and the web page list calls with).
    catalog = CallCatalog(store.database)
    per_agent = {a: catalog.list(CallFilters(agent=a), limit=100).total for a in AGENTS}
    assert per_agent == {"a-ana": 7, "a-ben": 7, "a-cy": 6}
    listed = catalog.list(CallFilters(agent="a-cy"), limit=100).items
    assert {c.metadata["external_id"] for c in listed} == {
        f"C-{i:02d}" for i in (2, 5, 8, 11, 14, 17)
    }

    # The same files ingested again add nothing: duplicates, moved to .done.
    for i in range(5):
        drop(rendered[i], folder, i)
    again = run_command([*callytics_command(), "ingest", str(folder), "--poll-s", "0.3"], env)
    assert again.returncode == 0, again.stderr
    assert "0 analysed, 5 duplicate(s), 0 failed" in again.stderr, again.stderr
    assert len(store.jobs()) == CALLS and len(store.calls()) == CALLS
    assert len(done_files(folder)) == CALLS + 5 and not list(folder.glob("*.wav"))
    store.database.dispose()


def test_analyze_a_folder_recursively_with_a_pattern_as_the_readme_shows(tmp_path, rendered):
    folder = tmp_path / "recordings"
    (folder / "monday").mkdir(parents=True)
    shutil.copyfile(rendered[0], folder / "20261201_a-ana_C-1.wav")
    shutil.copyfile(rendered[1], folder / "monday" / "20261130-0915_a-ben_C-2.wav")
    (folder / "monday" / "20261130-0915_a-ben_C-2.wav.json").write_text('{"team": "billing"}')
    (folder / "metadata.csv").write_text(
        "file,queue,direction\nmonday/20261130-0915_a-ben_C-2.wav,returns,inbound\n"
    )
    (folder / "notes.txt").write_text("not a recording")
    env = embedded_env(tmp_path, COLUMNS="200")
    out = tmp_path / "out.json"
    pattern = "{date}_{agent}_{call_id}.wav"

    def analyze(*args: str) -> subprocess.CompletedProcess[str]:
        return run_command([*callytics_command(), "analyze", *args], env)

    # (its duplicates and its folders without --recursive: tests/unit/ingest/test_batch.py)
    first = analyze(str(folder), "--recursive", "--pattern", pattern, "--json", str(out))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 analysed, 0 duplicate(s), 0 failed" in first.stdout
    documents = {d["filename"]: d for d in json.loads(out.read_text())}
    assert documents["20261201_a-ana_C-1.wav"]["metadata"] == {
        "agent": "a-ana",
        "external_id": "C-1",
        "started_at": "2026-12-01T00:00:00+00:00",
    }
    assert documents["20261130-0915_a-ben_C-2.wav"]["metadata"] == {
        "agent": "a-ben",
        "external_id": "C-2",
        "started_at": "2026-11-30T09:15:00+00:00",
        "queue": "returns",  # metadata.csv
        "direction": "inbound",
        "team": "billing",  # the sidecar
    }

    missing = analyze(str(tmp_path / "nowhere"), "--recursive")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    store = Store(f"sqlite:///{tmp_path}/callytics.db")
    assert Counter(c.agent for c in store.calls()) == {"a-ana": 1, "a-ben": 1}
    store.database.dispose()
