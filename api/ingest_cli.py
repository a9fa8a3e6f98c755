"""The command-line side of bulk ingest (core/ingest): the recordings `callytics analyze`
is given (files and folders), and `callytics ingest`'s watched folder."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from core.errors import InvalidInputError
from core.ingest.files import recordings
from core.ingest.sources import FilenamePattern, MetadataSources
from core.ingest.watcher import INGEST_ACTOR, FolderWatcher, Tally


@dataclass(frozen=True)
class Target:
    """A recording to analyse, and the folder given for it (where ``metadata.csv`` files
    are looked for, from the recording's folder up)."""

    path: Path
    root: Path


@dataclass
class Summary:
    analysed: int = 0
    duplicates: int = 0
    failed: int = 0

    def line(self) -> str:
        return f"{self.analysed} analysed, {self.duplicates} duplicate(s), {self.failed} failed"


def sources_for(pattern: str | None) -> MetadataSources:
    """Raises :class:`InvalidInputError` for a pattern that cannot be used."""
    return MetadataSources(FilenamePattern.compile(pattern) if pattern else None)


def collect(paths: list[Path], *, recursive: bool) -> list[Target]:
    """The recordings to analyse: each file as given, each folder's own recordings (its
    whole tree with ``recursive``). Raises :class:`InvalidInputError` when a path does not
    exist or nothing is left to analyse."""
    for path in paths:
        if not path.exists():
            raise InvalidInputError(
                f"{path} does not exist.", "Give recordings, or folders that hold them."
            )
    targets: list[Target] = []
    for path in paths:
        if path.is_dir():
            targets += [Target(p, path) for p in recordings(path, recursive=recursive)]
        else:
            targets.append(Target(path, path.parent))
    if not targets:
        where = ", ".join(str(p) for p in paths)
        hint = "Add --recursive to look in sub-folders too." if not recursive else ""
        raise InvalidInputError(f"No recordings in {where}.", hint)
    return targets


# ---------------------------------------------------------------------- ingest
def run_ingest(
    settings: Any,
    folder: Path,
    *,
    watch: bool,
    recursive: bool,
    pattern: str | None,
    done_dir: Path | None,
    failed_dir: Path | None,
    poll_s: float,
    force: bool,
) -> int:
    """`callytics ingest`: the exit code (1 when a file failed or was left in place).
    Raises :class:`core.errors.CallyticsError` for bad options or a missing model."""
    from bootstrap.container import build_container

    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder.", "Give the folder to ingest.")
    sources = sources_for(pattern)
    container = build_container(settings)
    container.database().upgrade()
    service = container.analysis()
    if settings.job_backend == "arq":
        queue = container.job_queue()  # `callytics worker`s run the jobs
    else:
        from core.jobs.queue import LocalJobQueue

        # Jobs run here; at start it takes over only the unfinished jobs of an ingest
        # (never those of a server on the same database).
        queue = LocalJobQueue(
            service,
            settings.job_concurrency,
            claim=lambda job: job.submitted_by == INGEST_ACTOR,
        )
    console = Console(stderr=True, highlight=False)

    def report(what: str, name: str, detail: str) -> None:
        colour = {"failed": "red", "duplicate": "yellow", "analysed": "green"}.get(what, "dim")
        console.print(f"[{colour}]{what:>9}[/] {name}  {detail}", soft_wrap=True)

    watcher = FolderWatcher(
        service,
        queue,
        folder,
        sources=sources,
        recursive=recursive,
        done_dir=done_dir,
        failed_dir=failed_dir,
        poll_s=poll_s,
        dedupe=not force,
        report=report,
        # Here, the models load before the first file that is not a duplicate.
        prepare=service.pipeline.load if settings.job_backend != "arq" else None,
    )
    try:
        tally = asyncio.run(_ingest(watcher, local=settings.job_backend != "arq", watch=watch))
    finally:
        container.database().dispose()
    console.print(
        f"ingest: {tally.analysed} analysed, {tally.duplicates} duplicate(s), "
        f"{tally.failed} failed" + (f", {tally.left} left in place" if tally.left else "")
    )
    return 1 if tally.failed or tally.left else 0


async def _ingest(watcher: FolderWatcher, *, local: bool, watch: bool) -> Tally:
    console = Console(stderr=True, highlight=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    service = watcher.service
    try:
        where = f"{watcher.root} every {watcher.poll_s:g} s" if watch else str(watcher.root)
        backend = "arq workers" if not local else "this process"
        console.print(
            f"ingest: {'watching' if watch else 'reading'} {where} (jobs run in {backend})"
        )
        return await watcher.run(watch=watch, stop=stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await service.bus.close()
        await service.pipeline.aclose()
