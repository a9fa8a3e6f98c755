"""Which files of a folder are recordings, and when one is fully written.

A recording is a file whose extension is an audio or video container's (``AUDIO_SUFFIXES``).
Never taken: hidden names (``.call.wav``, and everything under a hidden folder such as the
watcher's ``.done/`` and ``.failed/``), names a writer uses while it is still writing
(``.part``, ``.tmp``, ``.partial``, ``.crdownload``, ``~``), and the metadata files beside the
recordings (sidecar ``.json``, ``metadata.csv``: their suffixes are not audio).

A file is fully written when its size and modification time (and those of its sidecar) are
the same at two polls in a row (:class:`Stability`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = frozenset(
    {
        ".wav",
        ".wave",
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".aac",
        ".mp4",
        ".webm",
        ".mka",
        ".mkv",
        ".wma",
        ".amr",
        ".3gp",
        ".aif",
        ".aiff",
        ".au",
        ".caf",
        ".spx",
    }
)
# A writer still at work: a browser's or a copier's temporary name.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", "~")


def is_recording(name: str) -> bool:
    """Whether a file of this name is taken as a recording."""
    lower = name.lower()
    if lower.startswith((".", "~")) or lower.endswith(PARTIAL_SUFFIXES):
        return False
    return Path(lower).suffix in AUDIO_SUFFIXES


def recordings(
    folder: Path, *, recursive: bool = False, exclude: Iterable[Path] = ()
) -> list[Path]:
    """The recordings in ``folder`` (its whole tree with ``recursive``), sorted by path.

    Hidden folders, and the folders in ``exclude`` (the watcher's done and failed folders
    when they are inside it), are not entered."""
    skipped = {p.resolve() for p in exclude}
    return sorted(_walk(folder, recursive, skipped))


def _walk(folder: Path, recursive: bool, skipped: set[Path]) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:  # removed while we looked
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=True) and is_recording(entry.name):
            yield Path(entry.path)
        elif (
            recursive
            and entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(".")
            and Path(entry.path).resolve() not in skipped
        ):
            yield from _walk(Path(entry.path), recursive, skipped)


def sidecar_of(path: Path) -> Path | None:
    """The recording's sidecar JSON, if it has one: ``call.wav.json``. Never ``call.json``:
    that is where ``callytics analyze call.wav --json call.json`` (``make demo``) writes its
    result, which would then be read back as the recording's metadata."""
    candidate = path.with_name(path.name + ".json")
    return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class Signature:
    """What changes while a file is written: its size and modification time, and its
    sidecar's (a sidecar written after the recording holds the recording back too)."""

    size: int
    mtime_ns: int
    sidecar: tuple[int, int] | None

    @classmethod
    def of(cls, path: Path) -> Signature | None:
        """None when the file is gone."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        sidecar = sidecar_of(path)
        side: tuple[int, int] | None = None
        if sidecar is not None:
            try:
                s = sidecar.stat()
                side = (s.st_size, s.st_mtime_ns)
            except FileNotFoundError:
                side = None
        return cls(stat.st_size, stat.st_mtime_ns, side)


class Stability:
    """The stability rule: a file is ready once its :class:`Signature` is the same at two
    polls in a row. Feed it every poll's candidates; it forgets files that went away."""

    def __init__(self) -> None:
        self._seen: dict[Path, Signature] = {}

    def ready(self, paths: Iterable[Path]) -> list[Path]:
        """Of ``paths`` (this poll's candidates), those unchanged since the previous poll."""
        seen: dict[Path, Signature] = {}
        stable: list[Path] = []
        for path in paths:
            signature = Signature.of(path)
            if signature is None:
                continue
            if self._seen.get(path) == signature:
                stable.append(path)
            seen[path] = signature
        self._seen = seen
        return stable

    def forget(self, path: Path) -> None:
        """Look at ``path`` afresh (it is watched again from its next poll)."""
        self._seen.pop(path, None)

    @property
    def pending(self) -> int:
        """Files seen at the last poll (ready or still changing)."""
        return len(self._seen)
