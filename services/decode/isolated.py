"""Decode untrusted files in a child process, so that a native crash in FFmpeg or PyAV fails
one file instead of the server that received it.

The child (``python -m services.decode.isolated``) runs :func:`services.decode.local.decode`
or :func:`~services.decode.local.probe`, writes the samples as raw float32 (channel after
channel) into a scratch folder, and prints a JSON line: the audio's info, or the domain error
it raised. The parent reads the samples back (one copy, no pickling) and removes the file.
A child that dies by a signal, or outlives its time limit, becomes an
:class:`UnsupportedAudioError` that names what happened.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from core.domain import Audio, AudioInfo
from core.errors import (
    AudioTooLongError,
    CallyticsError,
    StorageFullError,
    UnsupportedAudioError,
)
from services.decode.local import (
    SUPPORTED_HINT,
    InvalidPath,
    audio_from_samples,
    decode,
    probe,
)

ERRORS: dict[str, type[CallyticsError]] = {
    cls.code: cls
    for cls in (UnsupportedAudioError, AudioTooLongError, InvalidPath, StorageFullError)
}
# Decoding runs at hundreds of times real time: a child still busy after this long is stuck.
DEFAULT_TIMEOUT_S = 600.0


class IsolatedDecoder:
    """``decode(path)`` and ``probe(path)`` as the container's decoder and prober use them."""

    def __init__(
        self,
        *,
        max_seconds: float | None = None,
        scratch_dir: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        python: str = sys.executable,
    ) -> None:
        """``python``: the interpreter that runs the child (this one)."""
        self.python = python
        self.max_seconds = max_seconds
        self.scratch_dir = scratch_dir
        self.timeout_s = timeout_s

    def decode(self, path: Path) -> Audio:
        if self.scratch_dir is not None:
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="decode-", dir=self.scratch_dir) as scratch:
            samples = Path(scratch) / "samples.f32"
            reply = self._run("decode", path, samples)
            info = AudioInfo(**reply["info"])
            data = np.fromfile(samples, dtype=np.float32).reshape(int(reply["kept"]), -1)
        return audio_from_samples(data, info)

    def probe(self, path: Path) -> AudioInfo:
        return AudioInfo(**self._run("probe", path, None)["info"])

    def _run(self, action: str, path: Path, samples: Path | None) -> dict[str, Any]:
        command = [self.python, "-m", "services.decode.isolated", action, str(path)]
        if samples is not None:
            command += ["--out", str(samples)]
        if self.max_seconds:
            command += ["--max-seconds", str(self.max_seconds)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise UnsupportedAudioError(
                f"Decoding the file took over {self.timeout_s:.0f} s and was stopped.",
                SUPPORTED_HINT,
            ) from exc
        if done.returncode < 0:
            raise UnsupportedAudioError(
                f"The decoder crashed on this file (signal {-done.returncode}); the file is "
                "damaged or of a kind it cannot read.",
                "Convert it to wav or flac (e.g. `ffmpeg -i in -ac 2 out.wav`) and send it again.",
            )
        lines = done.stdout.strip().splitlines()
        reply = json.loads(lines[-1]) if lines else {}
        if "error" in reply:
            error = ERRORS.get(str(reply["error"]), UnsupportedAudioError)
            raise error(str(reply["message"]), str(reply.get("hint", "")))
        if done.returncode != 0 or "info" not in reply:
            raise UnsupportedAudioError(
                f"The decoder failed on this file (exit {done.returncode}): "
                f"{done.stderr.strip()[-300:]}",
                SUPPORTED_HINT,
            )
        return reply


def _child(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Decode or probe one file (the child side).")
    parser.add_argument("action", choices=("decode", "probe"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--max-seconds", type=float)
    args = parser.parse_args(argv)
    try:
        if args.action == "probe":
            reply: dict[str, object] = {
                "info": dataclasses.asdict(probe(args.path, max_seconds=args.max_seconds))
            }
        else:
            audio = decode(args.path, max_seconds=args.max_seconds)
            with open(args.out, "wb") as f:
                for channel in audio.channels:
                    channel.astype(np.float32, copy=False).tofile(f)
            reply = {"info": dataclasses.asdict(audio.info), "kept": len(audio.channels)}
    except CallyticsError as exc:
        reply = {"error": exc.code, "message": exc.message, "hint": exc.hint}
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        reply = {
            "error": StorageFullError.code,
            "message": "There is no room left to decode the recording.",
            "hint": "Try again once space is freed on the server's audio storage (STORAGE_DIR).",
        }
    sys.stdout.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_child())
