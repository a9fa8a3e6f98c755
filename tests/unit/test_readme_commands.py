"""The README (and docs/) and the product cannot drift apart: the README's quick start is what
CI runs, and every `callytics` command the README or a docs/*.md page shows exists with the
options it shows, and is run as typed by a named test (tests/integration/test_commands.py,
mostly)."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
# The README and the documentation it links to: every page that can show a command.
DOCUMENTS = [README, *(page.read_text() for page in sorted((ROOT / "docs").glob("*.md")))]
COMMANDS_TEST = "tests/integration/test_commands.py"

# Each command the README or docs/ shows -> the test that runs it as a user types it.
RUN_BY = {
    "analyze": f"{COMMANDS_TEST}::test_db_upgrade_analyze_and_search_on_a_fresh_database",
    "db upgrade": f"{COMMANDS_TEST}::test_db_upgrade_analyze_and_search_on_a_fresh_database",
    "search": f"{COMMANDS_TEST}::test_db_upgrade_analyze_and_search_on_a_fresh_database",
    "stage": f"{COMMANDS_TEST}::test_analyze_and_search_with_every_stage_a_grpc_service",
    "serve": f"{COMMANDS_TEST}::test_serve_as_typed_takes_an_upload_and_serves_the_result",
    "keys create": f"{COMMANDS_TEST}::test_keys_and_tokens_as_typed",
    "keys list": f"{COMMANDS_TEST}::test_keys_and_tokens_as_typed",
    "keys revoke": f"{COMMANDS_TEST}::test_keys_and_tokens_as_typed",
    "token": f"{COMMANDS_TEST}::test_keys_and_tokens_as_typed",
    "ingest": "tests/integration/test_ingest.py::"
    "test_a_watched_folder_takes_every_call_once_across_a_kill",
    "worker": "tests/integration/test_arq_mode.py::"
    "test_two_workers_run_jobs_and_progress_travels_over_redis",
    "export": "tests/integration/test_export_command.py::test_export_as_typed_writes_both_tables",
    "live simulate": "tests/integration/test_live_e2e.py::"
    "test_a_simulated_call_is_live_on_graphql_and_stored_as_its_upload_would_be",
    "webhooks add": "tests/integration/test_webhooks.py::test_webhooks_commands_as_typed",
    "webhooks list": "tests/integration/test_webhooks.py::test_webhooks_commands_as_typed",
    "webhooks deliveries": "tests/integration/test_webhooks.py::test_webhooks_commands_as_typed",
    "webhooks remove": "tests/integration/test_webhooks.py::test_webhooks_commands_as_typed",
    # `.venv-pyannote/bin/callytics analyze` with DIARIZATION_BACKEND=pyannote
    "pyannote analyze": "tests/pyannote/test_pyannote_cli.py::"
    "test_the_pyannote_venv_runs_callytics_analyze",
}
GROUPS = {"db", "keys", "live", "webhooks"}  # commands with subcommands


def shown_commands() -> list[tuple[str, list[str], str]]:
    """(command, its --options, the line) for each `callytics ...` the README and docs/*.md
    show, in shell blocks and in inline code."""
    lines: list[str] = []
    for text in DOCUMENTS:
        blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
        lines += [line for block in blocks for line in block.splitlines()]
        lines += re.findall(r"`([^`\n]*\bcallytics [^`\n]*)`", text)
    found = []
    for line in lines:
        code = line.split(" # ")[0].split("#  ")[0]
        match = re.search(r"(?:^|[\s/])callytics ([^|;]*)", code)
        if not match or "<" in match.group(1).split()[0]:
            continue
        words = shlex.split(match.group(1).replace("<", "").replace(">", ""))
        command = words[0] if words[0] not in GROUPS else " ".join(words[:2])
        if ".venv-pyannote" in code:
            command = f"pyannote {command}"
        found.append((command, [w.split("=")[0] for w in words if w.startswith("--")], line))
    return found


def test_the_quick_start_is_two_commands_and_ci_runs_the_second():
    first_block = re.search(r"```bash\n(.*?)```", README, flags=re.S)
    assert first_block is not None and README.index(first_block.group(0)) < README.index("## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]
    ci = [
        line.strip()
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci[-1] == "make test"
    makefile = (ROOT / "Makefile").read_text()
    test_target = re.search(r"^test: (.*)$", makefile, flags=re.M)
    assert test_target and set(test_target.group(1).split()) == {
        "lint",
        "test-main",
        "test-pyannote",
    }
    demo = re.search(r"^demo: .*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert demo and "callytics analyze $(DEMO)" in demo.group(1)


def test_the_readme_shows_commands_at_all():
    commands = {command for command, _, _ in shown_commands()}
    assert {"analyze", "serve", "stage", "worker", "search", "db upgrade", "token"} <= commands


@pytest.mark.parametrize(
    ("command", "options", "line"), shown_commands(), ids=lambda v: str(v)[:40]
)
def test_each_shown_command_exists_with_its_options_and_a_test_runs_it(command, options, line):
    assert command in RUN_BY, f"no test runs the README's `{line.strip()}`; add one to RUN_BY"
    path, name = RUN_BY[command].split("::")
    assert f"def {name}(" in (ROOT / path).read_text(), RUN_BY[command]
    cli_words = command.removeprefix("pyannote ").split()
    shown = CliRunner().invoke(app, [*cli_words, "--help"], env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    for option in options:
        assert option in shown.output, f"`callytics {command}` has no {option} ({line})"
