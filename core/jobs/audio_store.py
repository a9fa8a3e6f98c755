"""The audio store: each recording kept under a generated name, and its content hash."""

from __future__ import annotations

import errno
import hashlib
import shutil
from pathlib import Path

from core.errors import CallyticsError, StorageFullError


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class AudioStore:
    """Keeps the original recording under a generated name (never a client's path).

    A disk with no room left (full, over quota, file too large) raises
    :class:`core.errors.StorageFullError`, and nothing of the copy is left behind.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, key: str, source: Path, *, suffix: str = "", move: bool = False) -> Path:
        """Store ``source`` as ``<key><suffix>``; ``suffix`` only ever keeps [a-z0-9.]."""
        clean = "".join(c for c in suffix.lower() if c.isascii() and (c.isalnum() or c == "."))
        target = self.root / f"{key}{clean[:8]}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if move:  # a rename on the same disk; a copy, then a delete, across disks
                shutil.move(str(source), target)
            else:
                shutil.copyfile(source, target)
        except OSError as exc:
            target.unlink(missing_ok=True)  # a new name: only a partial copy can be there
            if (full := self.storage_full(exc)) is not None:
                raise full from exc
            raise
        return target

    @staticmethod
    def storage_full(exc: OSError) -> CallyticsError | None:
        """The error for the client when ``exc`` says the disk has no room; None otherwise."""
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return None
        return StorageFullError(
            "There is no room left to store the recording.",
            "Nothing was kept. Try again once space is freed on the server's audio storage "
            "(STORAGE_DIR).",
        )

    def owns(self, path: str | Path | None) -> bool:
        if not path:
            return False
        return Path(path).resolve().parent == self.root.resolve()

    def remove(self, path: str | Path | None) -> None:
        if path:
            Path(path).unlink(missing_ok=True)
