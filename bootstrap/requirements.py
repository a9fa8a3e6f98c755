"""The project's dependencies from ``pyproject.toml``, as a pip requirements list.

``pyproject.toml`` is the one list of what Callytics needs. A venv that must differ from it
in one pin (the pyannote.audio venv runs the torch 2.9 line, MODELS.md) installs this list
with that package left out, beside its own file (``requirements-pyannote.txt``) that pins
it, so the two never drift apart::

    python3 -m bootstrap.requirements --without torch --extra dev > reqs.txt

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def requirement_name(requirement: str) -> str:
    """The normalised project name a requirement string is about (PEP 503)."""
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not found:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", found.group(1)).lower()


def project_requirements(
    *, extras: tuple[str, ...] = (), without: tuple[str, ...] = (), pyproject: Path = PYPROJECT
) -> list[str]:
    """``[project].dependencies`` plus the named extras, less the packages in ``without``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    listed = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r} (has: {', '.join(optional)})")
        listed += optional[extra]
    dropped = {requirement_name(name) for name in without}
    return [r for r in listed if requirement_name(r) not in dropped]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="add an extra's list")
    parser.add_argument("--without", action="append", default=[], help="leave a package out")
    args = parser.parse_args(argv)
    for requirement in project_requirements(extras=tuple(args.extra), without=tuple(args.without)):
        print(requirement)


if __name__ == "__main__":
    main()
