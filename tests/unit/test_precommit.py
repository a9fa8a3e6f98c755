"""The git pre-commit hook (.pre-commit-config.yaml) is valid and runs tools that exist."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".pre-commit-config.yaml"


def hooks() -> list[dict]:
    return [h for repo in yaml.safe_load(CONFIG.read_text())["repos"] for h in repo["hooks"]]


def test_the_config_is_valid() -> None:
    tool = Path(sys.executable).parent / "pre-commit"
    result = subprocess.run(
        [str(tool), "validate-config", str(CONFIG)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hook_runs_a_tool_and_files_that_exist() -> None:
    """Local hooks only (nothing fetched), each an executable of the project's venv, and
    every test file a hook names is in the repository."""
    found = hooks()
    assert {h["id"] for h in found} >= {"ruff", "ruff-format", "mypy", "layers"}
    for hook in found:
        assert hook["language"] == "system", hook["id"]
        argv = shlex.split(hook["entry"])
        assert (ROOT / argv[0]).is_file(), f"{hook['id']}: no {argv[0]}"
        for arg in argv[1:]:
            if arg.startswith("tests/"):
                assert (ROOT / arg).is_file(), f"{hook['id']}: no {arg}"
