"""Regenerate the gRPC code from the .proto files beside it.

    .venv/bin/python -m shared.stubs.generate [--check]

The generated modules are committed. ``--check`` regenerates into a temporary folder and
fails if anything differs from what is committed (tests/contract/test_stubs.py runs it).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # protos import each other from the repo root
PROTO_DIR = Path(__file__).resolve().parent / "callytics"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def protos() -> list[Path]:
    return sorted(PROTO_DIR.rglob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Write the generated modules of every proto under ``out`` (mirroring the repo)."""
    from grpc_tools import protoc

    files = [str(p.relative_to(ROOT)) for p in protos()]
    args = ["protoc", f"-I{ROOT}", f"--python_out={out}", f"--pyi_out={out}"]
    args += [f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = out / PROTO_DIR.relative_to(ROOT)
    return sorted(p for p in generated.rglob("*") if p.name.endswith(SUFFIXES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="diff against the committed code")
    args = parser.parse_args()
    if not args.check:
        for path in generate(ROOT):
            print(path.relative_to(ROOT))
        return
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = []
        for path in fresh:
            committed = ROOT / path.relative_to(tmp)
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(str(path.relative_to(tmp)))
        on_disk = {p.relative_to(ROOT) for p in PROTO_DIR.rglob("*") if p.name.endswith(SUFFIXES)}
        orphans = sorted(str(p) for p in on_disk - {p.relative_to(tmp) for p in fresh})
    if stale or orphans:
        print("out of date: " + ", ".join(stale + orphans), file=sys.stderr)
        print("run: .venv/bin/python -m shared.stubs.generate", file=sys.stderr)
        raise SystemExit(1)
    print(f"{len(fresh)} generated modules match their protos")


if __name__ == "__main__":
    main()
