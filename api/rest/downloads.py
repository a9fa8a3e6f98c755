"""Download names and media types: nothing a client sent reaches a header unsanitised."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

AUDIO_MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".aac": "audio/aac",
    ".webm": "audio/webm",
    ".amr": "audio/amr",
    ".wma": "audio/x-ms-wma",
    ".aiff": "audio/aiff",
    ".aif": "audio/aiff",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, fallback: str) -> str:
    """``name`` as plain ASCII letters, digits, ``._-`` (a stem of at most 100, an extension
    of at most 12), or ``fallback`` when no letter of its stem survives (``😀.wav``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = Path(ascii_name.replace("\\", "/")).name
    dot = base.rfind(".")
    stem, suffix = (base[:dot], base[dot + 1 :]) if dot >= 0 else (base, "")
    stem = _UNSAFE.sub("_", stem).strip("._")[:100]
    suffix = _UNSAFE.sub("", suffix)[:11]
    if not stem:
        return fallback
    return f"{stem}.{suffix}" if suffix else stem


def audio_media_type(path: Path) -> str:
    return AUDIO_MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")


def attachment(filename: str) -> dict[str, str]:
    """The Content-Disposition header for a download saved as ``filename`` (already safe)."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
