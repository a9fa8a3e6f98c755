"""The real recordings the tests read ship with the repository, intact (tests/data)."""

from __future__ import annotations

import hashlib

from bench.scoring import jfk_text
from tests.conftest import ROOT, recordings_dir

DATA = ROOT / "tests" / "data"


def listed() -> dict[str, str]:
    lines = (DATA / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines)}


def test_every_recording_is_in_the_clone_with_its_recorded_checksum():
    sums = listed()
    present = {f"audio/{p.name}" for p in (DATA / "audio").iterdir()}
    assert present == set(sums)
    for name, digest in sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_the_tests_read_the_clone_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("CALLYTICS_SHARED_DATA", raising=False)
    assert recordings_dir() == DATA
    (tmp_path / "audio").mkdir()
    monkeypatch.setenv("CALLYTICS_SHARED_DATA", str(tmp_path))
    assert recordings_dir() == tmp_path


def test_the_readme_carries_the_truth_and_the_licences():
    readme = DATA / "README.md"
    assert jfk_text(readme).startswith("And so my fellow Americans")
    text = readme.read_text()
    for name in listed():
        stem = name.removeprefix("audio/").split(".")[0]
        assert stem.split("_dev")[0] in text, name
    assert text.count("MIT License") >= 2 and "CC BY 4.0" in text
