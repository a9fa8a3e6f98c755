"""`callytics export` as docs/exports.md shows it: a real process over a database of stored
calls writes calls.<format> and utterances.<format>, and refuses bad options with exit 2.
(The calls are stored directly, not analysed: the point is the export, not the models.)"""

from __future__ import annotations

import asyncio
import csv
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.persistence.database import Database
from tests.support.processes import ROOT, callytics_command, embedded_env, run_command
from tests.unit.analysis.test_document_schema import stored_document
from tests.unit.calls.test_bi_stream import seed


def callytics(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # wide enough that no message is wrapped inside a path
    return run_command([*callytics_command(), *args], {**env, "COLUMNS": "400"}, timeout=300)


def docs_example() -> str:
    """The Python example of docs/exports.md."""
    page = (ROOT / "docs" / "exports.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert len(blocks) == 1
    return str(blocks[0])


@pytest.fixture
def home(tmp_path) -> tuple[Path, dict[str, str]]:
    """A home with seven stored calls (tests/unit/calls/test_bi_stream.py's), one deleted."""
    env = embedded_env(tmp_path)
    database = Database(env["DATABASE_URL"])
    database.upgrade()
    seed(database, asyncio.run(stored_document()))
    database.dispose()
    return tmp_path, env


def test_export_as_typed_writes_both_tables(home, monkeypatch, capsys):
    tmp_path, env = home
    out = tmp_path / "exports"

    result = callytics(
        "export", "--since", "2026-12-01T09:02:00Z", "--agent", "a-1", "--format", "parquet",
        str(out), env=env,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 calls" in result.stdout and "6 utterances" in result.stdout
    calls = pq.read_table(out / "calls.parquet")
    utterances = pq.read_table(out / "utterances.parquet")
    assert calls.column("id").to_pylist() == ["call-5", "call-4", "call-2"]
    assert sorted(set(utterances.column("call_id").to_pylist())) == ["call-2", "call-4", "call-5"]
    assert utterances.num_rows == 6
    monkeypatch.chdir(tmp_path)  # the docs' example reads exports/, as the docs' command wrote
    exec(docs_example(), {})
    assert "3 calls, 6 utterances" in capsys.readouterr().out

    again = callytics("export", "--until", "2026-12-01T09:02:00Z", str(out), env=env)

    assert again.returncode == 0, again.stdout + again.stderr
    with (out / "calls.csv").open(newline="") as file:
        assert [r["id"] for r in csv.DictReader(file)] == ["call-1", "call-0"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--format", "xlsx"], "csv or parquet"),
        (["--since", "yesterday"], "--since 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_bad_options_exit_2_and_say_why(home, args, says):
    tmp_path, env = home

    result = callytics("export", *args, str(tmp_path / "out"), env=env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_file_where_the_folder_should_be_exits_2(home):
    tmp_path, env = home
    (tmp_path / "taken").write_text("")
    result = callytics("export", str(tmp_path / "taken"), env=env)
    assert result.returncode == 2
    assert "taken is a file; give a folder" in result.stderr
