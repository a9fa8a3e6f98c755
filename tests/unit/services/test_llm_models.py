"""Assembling a local model from its part wheels: size and sha256 pinned, a mismatch refused."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ModelNotFoundError
from services.llm import models
from services.llm.models import GgufModel, assemble, local_model_available, resolve_gguf

ROOT = Path(__file__).resolve().parents[3]


def parts(tmp_path: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for i, chunk in enumerate(chunks, 1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def pinned(chunks: list[bytes]) -> GgufModel:
    whole = b"".join(chunks)
    return GgufModel(
        "tiny", "tiny_part", len(chunks), len(whole), hashlib.sha256(whole).hexdigest()
    )


def test_parts_join_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [b"GGUF", b"-middle-", b"end"]
    model = pinned(chunks)
    monkeypatch.setattr(models, "_part_paths", lambda m: parts(tmp_path, chunks))
    path = assemble(model, tmp_path / "cache")
    assert path == tmp_path / "cache" / "llm" / "tiny.gguf"
    assert path.read_bytes() == b"GGUF-middle-end"
    monkeypatch.setattr(models, "_part_paths", lambda m: pytest.fail("assembled twice"))
    assert assemble(model, tmp_path / "cache") == path


def test_parts_that_do_not_match_the_pin_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = pinned([b"GGUF", b"good"])
    monkeypatch.setattr(models, "_part_paths", lambda m: parts(tmp_path, [b"GGUF", b"evil"]))
    with pytest.raises(ModelNotFoundError, match="not the pinned model") as caught:
        assemble(model, tmp_path / "cache")
    assert "make llm" in caught.value.hint
    assert list((tmp_path / "cache" / "llm").iterdir()) == []  # nothing half-written kept


def test_a_missing_part_wheel_says_how_to_install_it(tmp_path: Path) -> None:
    model = GgufModel("absent", "no_such_model_part", 2, 10, "0" * 64)
    with pytest.raises(ModelNotFoundError, match="no_such_model_part1") as caught:
        assemble(model, tmp_path)
    assert "make llm" in caught.value.hint
    assert not local_model_available("absent", tmp_path)


def test_names_and_paths(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_gguf(str(gguf), tmp_path) == gguf
    with pytest.raises(ModelNotFoundError, match="neither a known model nor a GGUF file"):
        resolve_gguf("llama-9000", tmp_path)
    assert models.model_by_name("qwen-1.5b") is models.QWEN_1_5B


@pytest.mark.skipif(not models.parts_installed(models.QWEN_0_5B), reason="make llm not run")
def test_assemble_as_make_runs_it(tmp_path: Path) -> None:
    """``python -m bootstrap.models assemble NAME`` (the Makefile's step), into a fresh cache."""
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap.models", "assemble", models.QWEN_0_5B.name],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "MODEL_CACHE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sha256" in done.stdout and "ok" in done.stdout
    path = tmp_path / "llm" / models.QWEN_0_5B.filename
    assert path.stat().st_size == models.QWEN_0_5B.size
