"""Fault: the disk that holds the audio fills up while a recording is stored.

STORAGE_DIR is a real 1 MiB tmpfs (skipped where mounting is not permitted). A recording
bigger than the free space is refused with 507 ``storage_full`` (GraphQL: the same code),
nothing of it is left behind, no call or job is written, and the server goes on serving.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from core.errors import StorageFullError
from core.persistence.models import CallRow, JobRow
from tests.support.app import fake_container, make_settings, wav_bytes
from tests.support.waiting import wait_until

BIG = wav_bytes(40)  # 1.28 MB: more than the whole disk
ANALYZE = "mutation($file: Upload!) { analyzeCall(file: $file) { callId jobId status } }"


@pytest.fixture
def tiny_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test."""
    mount_point = tmp_path / "audio"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def rows(client: TestClient) -> tuple[int, int]:
    database = client.app.state.runtime.database  # type: ignore[attr-defined]
    with database.session() as s:
        return (
            s.scalar(select(func.count()).select_from(CallRow)),
            s.scalar(select(func.count()).select_from(JobRow)),
        )


def graphql_upload(client: TestClient, content: bytes) -> dict[str, Any]:
    operations = {"query": ANALYZE, "variables": {"file": None}}
    reply = client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("call.wav", content, "audio/wav")},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_recording_bigger_than_the_free_space_is_refused_cleanly(tmp_path, tiny_disk):
    settings = make_settings(tmp_path, storage_dir=tiny_disk)
    with TestClient(create_app(container=fake_container(settings))) as client:
        reply = client.post("/v1/calls", files={"file": ("big.wav", BIG, "audio/wav")})
        assert reply.status_code == 507, reply.text
        error = reply.json()["error"]
        assert error["code"] == "storage_full" and error["hint"], error
        assert files_in(tiny_disk) == [] and rows(client) == (0, 0)

        body = graphql_upload(client, BIG)
        assert body["data"] is None, body
        (failure,) = body["errors"]
        assert failure["extensions"]["code"] == "storage_full", failure
        assert failure["extensions"]["hint"] and failure["path"] == ["analyzeCall"]
        assert files_in(tiny_disk) == [] and rows(client) == (0, 0)

        # A recording copied in from elsewhere (the CLI's path) is refused the same way.
        source = tmp_path / "elsewhere.wav"
        source.write_bytes(BIG)
        service = client.app.state.runtime.service  # type: ignore[attr-defined]
        with pytest.raises(StorageFullError):
            service.submit(source, filename="elsewhere.wav")
        assert source.exists() and files_in(tiny_disk) == [] and rows(client) == (0, 0)

        # The server goes on: a recording that fits is stored and analysed.
        reply = client.post("/v1/calls", files={"file": ("small.wav", wav_bytes(2), "audio/wav")})
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["job_id"]
        wait_until(
            lambda: client.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded",
            30,
            "the small recording's job succeeds",
            diagnose=lambda: client.get(f"/v1/jobs/{job_id}").text,
        )
        assert rows(client) == (1, 1) and len(files_in(tiny_disk)) == 1
