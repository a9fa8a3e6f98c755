"""The `callytics` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from api import cli_webhooks as webhooks_cli
from core.analysis.pipeline import AnalysisOptions
from core.domain import ProgressEvent
from core.errors import CallyticsError, InvalidInputError, ModelNotFoundError
from core.stages import PROGRESS_ORDER, SERVED

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Call analytics, offline.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys: create (shown once, stored hashed), list, revoke. The first key turns "
    "authentication on.",
)
app.add_typer(keys_app, name="keys")
live_app = typer.Typer(no_args_is_help=True, help="Live calls: stream a recording to a server.")
app.add_typer(live_app, name="live")
app.add_typer(webhooks_cli.app, name="webhooks")

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

# The options `analyze` and `ingest` share (core/ingest).
PatternOption = Annotated[
    str | None,
    typer.Option(help="Metadata from file names, e.g. '{date}_{agent}_{call_id}.wav'."),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Analyse again what was analysed already.")
]


def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _settings(**updates: Any):  # type: ignore[no-untyped-def]
    """Settings from the environment and `.env`, read afresh for each command."""
    from bootstrap.settings import Settings

    updates = {k: v for k, v in updates.items() if v is not None}
    return Settings().model_copy(update=updates)


class StageBars:
    """One progress bar per pipeline stage, fed by the job's progress events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {
            stage: progress.add_task(stage, total=1.0, start=False, status="")
            for stage in PROGRESS_ORDER
        }

    def __call__(self, event: ProgressEvent) -> None:
        task = self.tasks.get(event.stage)
        if task is None:
            return
        self.progress.start_task(task)
        self.progress.update(task, completed=event.progress, status=event.message[:40])


@app.command()
def analyze(
    files: Annotated[list[Path], typer.Argument(help="Recordings to analyse, or folders of them.")],
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="Write the result document(s) here ('-' for stdout)."),
    ] = None,
    num_speakers: Annotated[int | None, typer.Option(min=1, max=20)] = None,
    min_speakers: Annotated[int | None, typer.Option(min=1, max=20)] = None,
    max_speakers: Annotated[int | None, typer.Option(min=1, max=20)] = None,
    model: Annotated[
        str | None, typer.Option(help="ASR model: base, tiny.en or a CTranslate2 directory.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language code; detected if omitted.")
    ] = None,
    agent_channel: Annotated[
        int | None, typer.Option(min=0, max=1, help="Channel holding the agent in stereo calls.")
    ] = None,
    report: Annotated[bool, typer.Option(help="Print the readable report.")] = True,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Folders: their whole tree.")
    ] = False,
    pattern: PatternOption = None,
    force: ForceOption = False,
) -> None:
    """Analyse call recordings: who spoke when, what was said, how it went.

    Metadata comes from --pattern, metadata.csv and sidecar JSON files (docs/ingest.md)."""
    _quiet_libraries()
    if min_speakers and max_speakers and min_speakers > max_speakers:
        _fail_usage("--min-speakers must not exceed --max-speakers.")
    from api.ingest_cli import collect, sources_for

    try:  # before any model loads: a missing path or a bad pattern is a usage error
        targets = collect(files, recursive=recursive)
        sources = sources_for(pattern)
    except InvalidInputError as exc:
        _fail_usage(str(exc))
    from dependency_injector import providers

    from bootstrap.container import build_container
    from core.jobs.events import LocalEventBus

    settings = _settings(asr_model=model)
    container = build_container(settings)
    # Progress goes to this terminal's bars only: the in-process bus, even with REDIS_URL.
    container.event_bus.override(providers.Object(LocalEventBus()))
    container.database().upgrade()
    service = container.analysis()
    to_stdout = json_out == "-"
    console = Console(stderr=to_stdout)
    options = AnalysisOptions(language, num_speakers, min_speakers, max_speakers, agent_channel)
    # One event loop for loading and every file: a gRPC stage's channel (USE_<STAGE>_MS)
    # belongs to the loop that opened it.
    documents, exit_code = asyncio.run(
        _analyze_files(
            service,
            targets,
            sources,
            options,
            console,
            show_report=report and not to_stdout,
            dedupe=not force,
        )
    )
    if json_out and documents:
        payload = documents[0] if len(files) == 1 and files[0].is_file() else documents
        text = json.dumps(payload, indent=2, ensure_ascii=False)
        if to_stdout:
            sys.stdout.write(text + "\n")
        else:
            Path(json_out).write_text(text + "\n", encoding="utf-8")
            console.print(f"result written to {json_out}")
    raise typer.Exit(exit_code)


async def _analyze_files(
    service: Any,
    targets: list[Any],
    sources: Any,
    options: AnalysisOptions,
    console: Console,
    show_report: bool,
    dedupe: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """Load the stages, analyse each file in turn (a duplicate is not analysed again: its
    stored document is), then close the stages' connections."""
    from api.ingest_cli import Summary
    from api.report import render

    documents: list[dict[str, Any]] = []
    exit_code = 0
    summary = Summary()
    try:
        try:
            with console.status("loading models"):
                await service.pipeline.load()
        except ModelNotFoundError as exc:
            _fail_usage(str(exc))
        for target in targets:
            path = target.path
            try:
                metadata = sources.metadata(path, target.root)
                outcome = await _analyze_one(service, path, options, console, metadata, dedupe)
            except InvalidInputError as exc:
                console.print(f"[red]error[/] {path}: {exc.message}")
                if exc.hint:
                    console.print(f"  {exc.hint}")
                exit_code = max(exit_code, EXIT_BAD_INPUT)
                summary.failed += 1
                continue
            except CallyticsError as exc:
                console.print(f"[red]failed[/] {path}: {exc}")
                exit_code = max(exit_code, EXIT_FAILED)
                summary.failed += 1
                continue
            if outcome.document is not None:
                documents.append(outcome.document)
            if outcome.duplicate:
                summary.duplicates += 1
                console.print(
                    f"[yellow]duplicate[/] {path}: already analysed as call {outcome.call_id} "
                    "(--force analyses it again)"
                )
            else:
                summary.analysed += 1
            if show_report and outcome.document is not None:  # a duplicate's: the stored one
                render(outcome.document, console)
    finally:
        await service.pipeline.aclose()
    console.print(summary.line())
    return documents, exit_code


async def _analyze_one(
    service: Any,
    path: Path,
    options: AnalysisOptions,
    console: Console,
    metadata: dict[str, Any],
    dedupe: bool,
) -> Any:
    """Analyse ``path`` here with stage bars: a core.ingest.batch.Outcome."""
    from core.ingest.batch import analyze_now

    columns = (
        TextColumn("{task.description:>12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[status]}"),
    )
    console.print(f"[bold]{path}[/]")
    with Progress(*columns, console=console, transient=False) as progress:
        bars = StageBars(progress)
        return await analyze_now(
            service, path, options=options, metadata=metadata, dedupe=dedupe, on_event=bars
        )


def _fail_usage(message: str) -> None:
    Console(stderr=True).print(f"[red]error[/] {message}")
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API processes. Default: one per core with JOB_BACKEND=arq (jobs run in "
            "`callytics worker`s), else 1 (the in-process job queue lives in one process).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option()] = "info",
    fd: Annotated[
        int | None, typer.Option(help="Serve on an already-bound socket (a supervisor's).")
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            help="Listen beyond loopback without authentication (only behind a proxy that "
            "authenticates)."
        ),
    ] = False,
) -> None:
    """Serve the REST API (/v1, /docs) and GraphQL (/graphql).

    Without authentication configured (no key, no JWT_SECRET) it listens on loopback only."""
    _quiet_libraries()
    import uvicorn

    from bootstrap.container import build_container
    from bootstrap.settings import redacted
    from bootstrap.tracing import install_access_log_redaction, install_log_filter
    from core.access.auth import check_bind

    install_log_filter()  # log lines carry trace and job ids (tracing: create_app)
    install_access_log_redaction()  # no credentials from query strings in the access log
    settings = _settings()
    container = build_container(settings)
    try:
        container.database().upgrade()  # the api_keys table says whether keys exist
        bound = host if fd is None else _bound_host(fd)
        notice = check_bind([bound], container.authenticator(), allow_open=allow_unauthenticated)
    except CallyticsError as exc:
        _fail_usage(str(exc))
    finally:
        container.database().dispose()
    if workers is None:
        workers = default_workers(settings.job_backend)
    if workers > 1 and settings.job_backend != "arq":
        _fail_usage(
            "Several API processes would each run the in-process job queue. "
            "Use --workers 1, or REDIS_URL with JOB_BACKEND=arq and `callytics worker`."
        )
    if workers > 1:
        prepare_multiprocess_metrics()
    spool_in(Path(settings.storage_dir) / "incoming")
    Console(stderr=True).print(
        f"Callytics on http://{host}:{port}  (web page /, docs /docs, GraphQL /graphql; "
        f"database {redacted(settings.database_url)}, jobs {settings.job_backend}, "
        f"{workers} API process{'es' if workers > 1 else ''})\n{notice}"
    )
    from api.serving import install_repeat_filter, raise_open_file_limit

    raise_open_file_limit()
    os.environ["HTTP_HEADER_TIMEOUT_S"] = str(settings.http_header_timeout_s)
    os.environ["HTTP_BODY_TIMEOUT_S"] = str(settings.http_body_timeout_s)
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": log_level,
        "ws": "websockets-sansio",
        "loop": "uvloop",
        # httptools parses; slow and idle clients are cut off; past the cap: 503
        "http": "api.serving:GuardedHttpToolsProtocol",
        "limit_concurrency": settings.max_connections,
    }
    if workers == 1:
        # uvicorn's loggers go through this process's handlers, where no message can flood
        options["log_config"] = None
        install_repeat_filter()
    if fd is None or workers > 1:
        uvicorn.run("api.app:app_from_env", fd=fd, **options)
        return
    config = uvicorn.Config("api.app:app_from_env", **options)
    uvicorn.Server(config).run(sockets=[inherited_socket(fd)])


def default_workers(job_backend: str) -> int:
    """One API process per core this process may run on when jobs run elsewhere (arq);
    with the in-process queue one, which holds the queue, the live calls and job progress."""
    if job_backend != "arq":
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _bound_host(fd: int) -> str:
    """The address a supervisor's socket is bound to (a Unix socket counts as loopback)."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        if sock.family == socket.AF_UNIX:
            return "localhost"
        return str(sock.getsockname()[0])


def spool_in(folder: Path) -> None:
    """Every temporary file of the server (the multipart parser spools uploads to one) in
    ``folder``, under STORAGE_DIR, where a full disk is answered 507; for its workers too."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(folder.resolve())
    tempfile.tempdir = str(folder.resolve())


def prepare_multiprocess_metrics() -> str:
    """A fresh directory for the workers' metric files, in ``PROMETHEUS_MULTIPROC_DIR``.

    Set before uvicorn starts the workers (and before anything imports prometheus_client
    here), so each worker writes its values there and ``/metrics`` sums them all.
    """
    path = tempfile.mkdtemp(prefix="callytics-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket a supervisor handed over, opened as the family it really is.

    uvicorn's own ``fd=`` opens it as a Unix socket, so asyncio leaves Nagle on for TCP
    clients, and a keep-alive client waits ~40 ms (delayed ACK) for every response.
    """
    return socket.socket(fileno=fd)


@app.command()
def stage(
    name: Annotated[str, typer.Argument(help="diarization, asr, sentiment, embedding or llm.")],
    host: Annotated[
        str, typer.Option(help="Interface to bind (beyond loopback: needs JWT_SECRET or API_KEYS).")
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Default: the port of <STAGE>_GRPC_TARGET."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Prometheus /metrics port (default: gRPC port + 1000; 0: off)."
        ),
    ] = None,
    allow_unauthenticated: Annotated[
        bool, typer.Option(help="Listen beyond loopback without authentication.")
    ] = False,
) -> None:
    """Serve one stage's engine over gRPC (for USE_<STAGE>_MS=true elsewhere).

    With JWT_SECRET (the API's) or API_KEYS set, every call must carry a token or key."""
    _quiet_libraries()
    from bootstrap.tracing import install_log_filter, setup_tracing

    install_log_filter(logging.INFO)  # log lines carry trace and job ids
    from bootstrap.stage_process import METRICS_PORT_OFFSET, default_port, serve_stage

    if name not in SERVED:
        _fail_usage(f"No stage {name!r}: use one of {', '.join(SERVED)}.")
    settings = _settings()
    setup_tracing(settings, f"callytics-stage-{name}")
    port = port or default_port(name, settings)
    if metrics_port is None:
        metrics_port = port + METRICS_PORT_OFFSET if port + METRICS_PORT_OFFSET <= 65535 else 0
    try:
        asyncio.run(
            serve_stage(
                name,
                settings,
                host=host,
                port=port,
                metrics_port=metrics_port,
                allow_open=allow_unauthenticated,
            )
        )
    except CallyticsError as exc:
        _fail_usage(str(exc))


@app.command()
def worker(
    metrics_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Prometheus /metrics port (0: off).")
    ] = 9100,
) -> None:
    """Run analysis jobs from Redis (scale-out mode: REDIS_URL and JOB_BACKEND=arq)."""
    _quiet_libraries()
    from bootstrap.tracing import install_log_filter

    install_log_filter(logging.INFO)  # log lines carry trace and job ids
    from bootstrap.worker import run_worker

    try:
        run_worker(_settings(), metrics_port=metrics_port)
    except CallyticsError as exc:
        _fail_usage(str(exc))


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(help="The folder the recordings are put in.")],
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep watching for new files until Ctrl-C or SIGTERM.")
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Its sub-folders too.")
    ] = False,
    pattern: PatternOption = None,
    done_dir: Annotated[
        Path | None, typer.Option(help="Where analysed files go (default: FOLDER/.done).")
    ] = None,
    failed_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where failed files go, with <name>.error.txt (default: FOLDER/.failed)."
        ),
    ] = None,
    poll_s: Annotated[
        float,
        typer.Option(
            min=0.1, help="Seconds between looks; a file is taken once unchanged across one."
        ),
    ] = 2.0,
    force: ForceOption = False,
) -> None:
    """Analyse every recording put in a folder, once each, then move it to the done folder.

    Jobs run in this process, or with JOB_BACKEND=arq in `callytics worker`s; a restart
    submits nothing twice (docs/ingest.md)."""
    _quiet_libraries()
    from api.ingest_cli import run_ingest

    try:
        code = run_ingest(
            _settings(),
            folder,
            watch=watch,
            recursive=recursive,
            pattern=pattern,
            done_dir=done_dir,
            failed_dir=failed_dir,
            poll_s=poll_s,
            force=force,
        )
    except CallyticsError as exc:
        _fail_usage(str(exc))
    raise typer.Exit(code)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many utterances.")] = 10,
    call_id: Annotated[str | None, typer.Option("--call", help="Only this call.")] = None,
    role: Annotated[str | None, typer.Option(help="Only agent or customer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the stored calls' utterances by meaning."""
    _quiet_libraries()
    from dataclasses import asdict

    from rich.table import Table

    from bootstrap.container import build_container
    from core.ports import close_stage

    container = build_container(_settings())
    container.database().upgrade()
    engine = container.search()

    async def run() -> list[Any]:
        try:
            return list(await engine.search(query, k, call_id=call_id, role=role))
        finally:
            await close_stage(container.embedder())  # USE_EMBEDDING_MS: in this loop

    try:
        hits = asyncio.run(run())
    except InvalidInputError as exc:
        _fail_usage(str(exc))
    if as_json:
        sys.stdout.write(json.dumps([asdict(h) for h in hits], default=str, indent=2) + "\n")
        return
    table = Table("score", "call", "at", "role", "text", title=f"search: {query}")
    for h in hits:
        table.add_row(f"{h.score:.3f}", h.call_id[:8], f"{h.start:.1f}s", h.role, h.text[:100])
    Console().print(table)


@app.command()
def export(
    folder: Annotated[
        Path, typer.Argument(help="Where calls.<format> and utterances.<format> go.")
    ],
    since: Annotated[
        str | None, typer.Option(help="Calls stored at or after this ISO 8601 time (UTC if naive).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Calls stored before this time.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's calls.")] = None,
    category: Annotated[str | None, typer.Option(help="Only calls in this category.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Export the stored calls for BI: a row per call, a row per utterance (docs/exports.md)."""
    from bootstrap.container import build_container
    from core.calls.bi_stream import BiExport, check_format, parse_time
    from core.calls.catalog import CallFilters

    try:
        chosen = check_format(fmt)
        filters = CallFilters(
            created_after=parse_time(since, "--since"),
            created_before=parse_time(until, "--until"),
            agent=agent,
            category=category,
        )
        criteria = BiExport.criteria(filters)
    except InvalidInputError as exc:
        _fail_usage(f"{exc.message} {exc.hint or ''}".strip())
    if folder.exists() and not folder.is_dir():
        _fail_usage(f"{folder} is a file; give a folder for calls.{fmt} and utterances.{fmt}.")
    database = build_container(_settings()).database()
    database.upgrade()
    counts = BiExport(database).write(folder, chosen, criteria)
    Console().print(
        f"{counts['calls']} calls -> {folder / f'calls.{fmt}'}, "
        f"{counts['utterances']} utterances -> {folder / f'utterances.{fmt}'}"
    )


def _key_store():  # type: ignore[no-untyped-def]
    from bootstrap.container import build_container

    container = build_container(_settings())
    container.database().upgrade()
    return container.api_keys()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'crm-sync'.")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    env: Annotated[
        bool,
        typer.Option(
            "--env",
            help="Store nothing: print an API_KEYS entry (name:role:sha256) for the "
            "environment instead (for stages and database-less deployments).",
        ),
    ] = False,
) -> None:
    """Create an API key. It is printed once; only its SHA-256 is kept."""
    from core.access.auth import AccessRole, hash_key, new_key

    try:
        access = AccessRole.parse(role)
        if env:
            _, key = new_key()
            entry = f"{name}:{access.value}:{hash_key(key)}"
            sys.stdout.write(f"{key}\n")
            Console(stderr=True).print(f"add to API_KEYS: {entry}")
            return
        issued = _key_store().create(name, access, created_by="cli")
    except CallyticsError as exc:
        _fail_usage(str(exc))
    sys.stdout.write(f"{issued.key}\n")
    Console(stderr=True).print(
        f"key {issued.info.id} ({issued.info.role.value}) created: store it now, it is not "
        "shown again. Send it as `Authorization: Bearer <key>`. Restart a running server "
        "that had no keys yet: authentication turns on at start."
    )


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the keys (never the keys themselves): id, name, role, created, revoked, last used."""
    from rich.table import Table

    keys = _key_store().list()
    if as_json:
        sys.stdout.write(json.dumps([k.model_dump() for k in keys], default=str, indent=2) + "\n")
        return
    table = Table("id", "name", "role", "created", "revoked", "last used")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.role.value,
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")],
) -> None:
    """Revoke a key: refused within 5 s by every running server."""
    try:
        info = _key_store().revoke(key_id, revoked_by="cli")
    except CallyticsError as exc:
        _fail_usage(str(exc))
    Console(stderr=True).print(f"key {info.id} ({info.name}) revoked")


@app.command()
def token(
    subject: Annotated[str, typer.Argument(help="Who the token is for (the `sub` claim).")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    ttl: Annotated[float, typer.Option(min=1, help="Seconds until it expires.")] = 3600,
) -> None:
    """Sign a JWT with JWT_SECRET (for scripts and tests; an identity provider that signs
    with the same secret works the same way)."""
    from core.access.auth import AccessRole, TokenCodec

    settings = _settings()
    if not settings.jwt_secret:
        _fail_usage("JWT_SECRET is not set: there is nothing to sign tokens with.")
    try:
        codec = TokenCodec(settings.jwt_secret, settings.jwt_max_ttl_s)
        signed = codec.issue(subject, AccessRole.parse(role), ttl)
    except CallyticsError as exc:
        _fail_usage(str(exc))
    sys.stdout.write(signed + "\n")


@live_app.command("simulate")
def live_simulate(
    file: Annotated[
        Path, typer.Argument(help="A recording (8/16 kHz PCM16 or mu-law WAV is sent as it is).")
    ],
    server: Annotated[
        str, typer.Option(help="The server `callytics serve` runs.")
    ] = "http://127.0.0.1:8000",
    speed: Annotated[
        float,
        typer.Option(min=0, help="1: real time; 4: four times as fast; 0: as fast as it goes."),
    ] = 1.0,
    frame_ms: Annotated[int, typer.Option(min=10, max=1000, help="Audio per frame.")] = 100,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CALLYTICS_API_KEY", help="An analyst key, when the server requires one."
        ),
    ] = None,
    agent_channel: Annotated[int, typer.Option(min=0, max=1)] = 0,
    agent: Annotated[str | None, typer.Option(help="The agent who handled the call.")] = None,
    language: Annotated[
        str | None, typer.Option(help="The call's language (unset: detect).")
    ] = None,
    partials: Annotated[
        bool, typer.Option("--partials", help="Print partial utterances too.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Every event as a JSON line on stdout.")
    ] = False,
) -> None:
    """Stream a recording to a server's /v1/live as a phone line would, and print the live
    transcript, sentiment and alerts as they come back; at hang-up, the stored call's id."""
    from api.live_client import LiveRefused, load_recording, simulate

    _quiet_libraries()
    if not file.is_file():
        _fail_usage(f"{file} does not exist.")
    try:
        recording = load_recording(file)
    except CallyticsError as exc:
        _fail_usage(str(exc))
    console = Console(stderr=as_json)
    fmt = recording.format
    console.print(
        f"streaming {file.name}: {recording.seconds:.1f} s, {fmt.encoding} "
        f"{fmt.sample_rate} Hz x{fmt.channels}, at {speed:g}x to {server}"
    )

    def show(event: dict[str, Any]) -> None:
        kind = event.get("type")
        if as_json:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()
            return
        if kind == "final":
            u = event["utterance"]
            mood = u.get("sentiment") or {}
            feel = f" [{mood['label']} {mood['score']:+.2f}]" if mood else ""
            console.print(
                f"{u['start']:7.1f}s {u['role']:>8}: {u['text']}{feel}",
                markup=False,
                highlight=False,
            )
        elif kind == "partial" and partials:
            console.print(f"        {event['role']:>8}… {event['text']}", style="dim", markup=False)
        elif kind == "alert":
            a = event["alert"]
            console.print(
                f"{a['at_s']:7.1f}s ALERT {a['kind']}: {a['message']}",
                style="bold red",
                markup=False,
            )
        elif kind == "started":
            console.print(f"live call {event['live_id']}")

    try:
        ended = asyncio.run(
            simulate(
                server,
                recording,
                speed=speed,
                frame_ms=frame_ms,
                api_key=api_key,
                start={"agent_channel": agent_channel, "agent": agent, "language": language},
                on_event=show,
            )
        )
    except LiveRefused as exc:
        _fail_usage(f"the server refused the live call: {exc}")
    except OSError as exc:
        _fail_usage(f"cannot reach {server}: {exc}. Is `callytics serve` running?")
    if ended.get("error"):
        _fail_usage(f"the call ended but its recording was not analysed: {ended['error']}")
    console.print(
        f"hung up after {ended.get('duration_s', 0):.1f} s: job {ended.get('job_id')}, "
        f"call {ended.get('call_id')} (the post-call analysis replaces the live draft)"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from bootstrap.container import build_container
    from bootstrap.settings import redacted

    container = build_container(_settings())
    container.database().upgrade()
    Console().print(f"database at {redacted(container.database().url)} is up to date")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
