"""The README's commands, run as a user types them: real `callytics` processes on a fresh
database, with nothing in-process. tests/unit/test_readme_commands.py checks that every
command the README shows has a test here (or names the one elsewhere that runs it)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from samples import load_script, render_call
from services.llm.models import DEFAULT_LOCAL_MODEL
from tests.support.processes import (
    ROOT,
    LineReader,
    StageProcess,
    callytics_command,
    embedded_env,
    free_port,
    run_command,
    subscribe_job,
)

pytestmark = pytest.mark.slow

STAGES = ("diarization", "asr", "sentiment", "embedding", "llm")


def callytics(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_command([*callytics_command(), *args], env)


def clean_exit(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 0 and nothing on stderr that a user would take for a crash."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for crash in ("Traceback", "Exception ignored", "Event loop is closed", "Error in sys.exit"):
        assert crash not in output, output
    return output


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("calls")
    render_call(load_script("short"), folder / "stereo.wav", layout="stereo")
    render_call(load_script("short"), folder / "mono.mp3")
    return {"stereo": folder / "stereo.wav", "mono": folder / "mono.mp3"}


def stored_calls(home: Path) -> int:
    from sqlalchemy import func, select

    from core.persistence.database import Database
    from core.persistence.models import CallRow

    db = Database(f"sqlite:///{home}/callytics.db")
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(CallRow))
    db.dispose()
    return int(count or 0)


def test_db_upgrade_analyze_and_search_on_a_fresh_database(tmp_path, calls):
    env = embedded_env(tmp_path)
    upgraded = clean_exit(callytics("db", "upgrade", env=env))
    assert "up to date" in upgraded and (tmp_path / "callytics.db").is_file()

    out = tmp_path / "out.json"
    report = clean_exit(
        callytics("analyze", str(calls["stereo"]), str(calls["mono"]), "--json", str(out), env=env)
    )
    documents = json.loads(out.read_text())
    assert [d["audio"]["channels"] for d in documents] == [2, 1]
    assert all(d["status"] == "succeeded" and d["utterances"] for d in documents)
    assert "result written to" in report and "agent" in report.lower()
    assert stored_calls(tmp_path) == 2

    # the same recording again: a new call only with --force (else it is a duplicate)
    piped = callytics(
        "analyze", str(calls["stereo"]), "--json", "-", "--no-report", "--force", env=env
    )
    clean_exit(piped)
    documents.append(json.loads(piped.stdout))
    assert documents[-1]["audio"]["channels"] == 2 and stored_calls(tmp_path) == 3

    found = callytics("search", "is my flight on time", "--json", "-k", "3", env=env)
    clean_exit(found)
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and {h["call_id"] for h in hits} <= {d["id"] for d in documents}
    assert hits[0]["role"] == "customer" and "flight" in hits[0]["text"].lower()


@pytest.fixture(scope="module")
def stage_processes(tmp_path_factory) -> Iterator[dict[str, str]]:
    """`callytics stage <name> --port P` for all five stages, as the README starts them."""
    home = tmp_path_factory.mktemp("stages")
    env = embedded_env(home)
    processes = [StageProcess(s, free_port(), env, home / f"{s}.log") for s in STAGES]
    yield {p.stage: p.address for p in processes}
    for p in processes:
        p.stop()
    for p in processes:
        assert p.proc.returncode in (0, -15), p.log()  # a clean SIGTERM shutdown


def remote_env(home: Path, targets: dict[str, str]) -> dict[str, str]:
    flags = {f"USE_{s.upper()}_MS": "true" for s in targets}
    addresses = {f"{s.upper()}_GRPC_TARGET": a for s, a in targets.items()}
    return embedded_env(home, **flags, **addresses)


def test_analyze_and_search_with_every_stage_a_grpc_service(tmp_path, calls, stage_processes):
    """The CLI loads the stages and analyses several files over the same gRPC channels, then
    closes them: no `Event loop is closed`, no interceptor error at exit."""
    env = remote_env(tmp_path, stage_processes)
    out = tmp_path / "out.json"
    files = [str(calls["stereo"]), str(calls["mono"])]
    clean_exit(callytics("analyze", *files, "--json", str(out), "--no-report", env=env))
    documents = json.loads(out.read_text())
    assert len(documents) == 2 and all(d["utterances"] for d in documents)
    for document in documents:
        for stage, address in stage_processes.items():
            assert document["stages"][stage]["backend"] == "grpc", (stage, document["stages"])
            assert document["stages"][stage]["target"] == address

    found = callytics("search", "is my flight on time", "--json", env=env)
    clean_exit(found)
    assert json.loads(found.stdout)


class Serve(LineReader):
    """`callytics serve --port P` as typed; ready when uvicorn says so (its output and the
    access log, read line by line)."""

    name = "serve"

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [*callytics_command(), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        super().__init__(self.proc.stdout)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=60)
        self.reader.join(timeout=60)  # every line it printed is in the log
        return code


def test_serve_as_typed_takes_an_upload_and_serves_the_result(tmp_path, calls):
    port = free_port()
    server = Serve(embedded_env(tmp_path), port)
    try:
        server.wait_for("Uvicorn running on")  # printed once the socket is bound
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            with calls["stereo"].open("rb") as f:
                created = client.post(
                    "/v1/calls", files={"file": ("call.wav", f)}, data={"agent_channel": "0"}
                )
            assert created.status_code == 202, created.text
            ids = created.json()
            events = asyncio.run(subscribe_job(f"ws://127.0.0.1:{port}/graphql", ids["job_id"]))
            assert events[-1]["status"].lower() == "succeeded", (events, server.log())
            document = client.get(f"/v1/calls/{ids['call_id']}").json()
            assert document["utterances"] and document["audio"]["channels"] == 2
            text = client.get(f"/v1/calls/{ids['call_id']}/transcript", params={"format": "txt"})
            assert text.status_code == 200 and document["utterances"][0]["text"] in text.text
            assert "Callytics" in client.get("/", follow_redirects=True).text
    finally:
        code = server.stop()
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it: exit status -15
    assert code == -15 and "Application shutdown complete" in server.log(), server.log()
    assert "Traceback" not in server.log(), server.log()
    assert stored_calls(tmp_path) == 1


def test_keys_and_tokens_as_typed(tmp_path):
    env = embedded_env(tmp_path)
    created = callytics("keys", "create", "crm-sync", "--role", "admin", env=env)
    clean_exit(created)
    key = created.stdout.strip()
    assert key.startswith("cly_") and "created" in created.stderr
    listed = json.loads(clean_exit(callytics("keys", "list", "--json", env=env)))
    assert [(k["name"], k["role"], k["revoked_at"]) for k in listed] == [
        ("crm-sync", "admin", None)
    ]
    assert key not in json.dumps(listed)
    clean_exit(callytics("keys", "revoke", listed[0]["id"], env=env))
    assert json.loads(callytics("keys", "list", "--json", env=env).stdout)[0]["revoked_at"]

    refused = callytics("token", "maria", env=env)
    assert refused.returncode == 2 and "JWT_SECRET" in refused.stderr
    secret = "a-test-secret-of-at-least-32-bytes-long"
    signed = callytics(
        "token", "maria", "--role", "analyst", "--ttl", "600", env={**env, "JWT_SECRET": secret}
    )
    clean_exit(signed)
    claims = jwt.decode(signed.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["sub"] == "maria" and claims["role"] == "analyst"


def test_make_demo_as_typed(tmp_path):
    """The README's first command: renders the sample call, analyses it, writes the JSON."""
    demo = tmp_path / "demo_call.wav"
    env = embedded_env(tmp_path)
    del env["ASR_MODEL"]  # the demo's own model (base), as a newcomer gets it
    del env["LLM_PROVIDER"]  # and the analysis a newcomer gets: auto, the local model
    clean_exit(run_command(["make", "demo", f"DEMO={demo}"], env, timeout=900))
    document = json.loads(demo.with_suffix(".json").read_text())
    assert document["audio"]["channels"] == 2 and document["stages"]["asr"]["model"] == "base"
    analysis = document["analysis"]
    assert analysis["provider"] == f"llama:{DEFAULT_LOCAL_MODEL}"
    assert analysis["model"] == DEFAULT_LOCAL_MODEL
    assert document["stages"]["llm"]["engine"] == "llama.cpp"
    assert set(analysis["sources"].values()) <= {"model", "rules"}
    assert {s["role"] for s in document["speakers"]} == {"agent", "customer"}
    assert "late fee" in json.dumps(document["utterances"]).lower()
    assert stored_calls(tmp_path) == 1


@pytest.mark.postgres
def test_serve_prints_no_password_and_logs_no_credential_from_a_query_string(tmp_path):
    """The probe saw the database password in the start-up banner; an API key sent in a
    query string reached the access log."""
    from tests.support.databases import postgres_url

    with postgres_url() as url:
        with_password = url.replace("postgres@", "postgres:hunter2-secret@")
        port = free_port()
        server = Serve(embedded_env(tmp_path, DATABASE_URL=with_password), port)
        try:
            server.wait_for("Uvicorn running on")  # printed once the socket is bound
            key = "cly_0000abcd_not-a-real-key-but-a-secret"
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                assert client.get("/health/live", params={"api_key": key}).status_code == 200
                assert client.get("/v1/calls", params={"token": key}).status_code == 200
        finally:
            server.stop()
    log = server.log()
    assert "postgres:***@127.0.0.1" in log and "hunter2-secret" not in log, log
    assert "/health/live?api_key=*** " in log and key not in log, log
