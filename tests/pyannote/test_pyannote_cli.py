"""The pyannote venv runs Callytics as the README says: `.venv-pyannote/bin/callytics analyze`
with DIARIZATION_BACKEND=pyannote, and it holds every dependency the project declares.

Runs in ``.venv-pyannote`` (``make test-pyannote``): ``sys.executable`` is that venv's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os

import pytest
from packaging.requirements import Requirement

from bootstrap.requirements import project_requirements
from tests.conftest import ROOT, recordings_dir
from tests.support.processes import callytics_command, embedded_env, run_command

pytest.importorskip("pyannote.audio")
pytestmark = pytest.mark.slow


def test_every_project_dependency_is_installed_at_an_accepted_version():
    """pyproject.toml's list, less the torch pin this venv replaces (requirements-pyannote)."""
    missing = []
    for line in project_requirements(without=("torch",)):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(f"{line} (not installed)")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (have {version})")
    assert missing == [], "run `make pyannote` again: " + ", ".join(missing)


def test_the_pyannote_venv_runs_callytics_analyze(tmp_path):
    pipeline_dir = os.environ.get("CALLYTICS_PYANNOTE_DIR", str(ROOT / "models" / "pyannote"))
    env = embedded_env(
        tmp_path, DIARIZATION_BACKEND="pyannote", DIARIZATION_PYANNOTE_DIR=pipeline_dir
    )
    out = tmp_path / "out.json"
    clip = recordings_dir() / "audio" / "pyannote_sample.wav"
    command = [*callytics_command(), "analyze", str(clip), "--json", str(out), "--no-report"]
    result = run_command(command, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    document = json.loads(out.read_text())
    diarization = document["stages"]["diarization"]
    assert (diarization["engine"], diarization["method"]) == ("pyannote.audio", "pyannote")
    assert len(document["speakers"]) == 2 and document["utterances"]
