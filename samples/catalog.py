"""The bundled call scripts: one JSON file per call in ``samples/scripts/``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from samples.model import CallScript

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"


def script_names() -> list[str]:
    return sorted(p.stem for p in SCRIPTS_DIR.glob("*.json"))


@cache
def load_script(name: str) -> CallScript:
    path = SCRIPTS_DIR / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"unknown script {name!r}; known: {', '.join(script_names())}")
    script = CallScript.from_dict(json.loads(path.read_text(encoding="utf-8")))
    if script.name != name:
        raise ValueError(f"{path.name} declares name {script.name!r}")
    return script
