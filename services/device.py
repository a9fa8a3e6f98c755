"""Device and compute-type policy, in one place for every engine.

``auto`` means CUDA with float16 when a GPU is present, otherwise CPU with int8.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@cache
def cuda_available() -> bool:
    try:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return True
    except Exception:  # pragma: no cover - ctranslate2 missing or broken
        pass
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover
        return False


@dataclass(frozen=True)
class DevicePolicy:
    device: str  # cpu | cuda
    compute_type: str  # int8 | float16 | float32 | int8_float16 ...


def resolve_device(device: str = "auto", compute_type: str = "auto") -> DevicePolicy:
    """Turn the ``*_DEVICE`` / ``*_COMPUTE_TYPE`` settings into a concrete choice."""
    if device not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    chosen = ("cuda" if cuda_available() else "cpu") if device == "auto" else device
    if compute_type == "auto":
        compute_type = "float16" if chosen == "cuda" else "int8"
    return DevicePolicy(chosen, compute_type)
