"""Transcript exports of a call document: JSON, plain text, SubRip (SRT) and WebVTT."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, get_args

from core.errors import InvalidInputError

ExportFormat = Literal["json", "txt", "srt", "vtt"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


def timestamp(seconds: float, *, separator: str = ".", digits: int = 3) -> str:
    """``HH:MM:SS<separator>fff`` (``digits`` fraction digits); negative times read as 0."""
    scale = 10**digits
    units = round(max(0.0, float(seconds)) * scale)
    whole, fraction = divmod(units, scale)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{fraction:0{digits}d}"


def speaker_label(utterance: dict[str, Any]) -> str:
    """``agent (S1)``: the speaker's role, then its id."""
    return f"{utterance.get('role') or 'unknown'} ({utterance['speaker']})"


def _line(text: str) -> str:
    """One line of cue text: whitespace (newlines included) collapsed."""
    return " ".join(str(text).split())


def _json(document: dict[str, Any]) -> str:
    keys = ("index", "speaker", "role", "start", "end", "text", "sentiment", "words")
    body = {
        "call_id": document.get("id"),
        "filename": document.get("filename"),
        "language": document.get("language"),
        "utterances": [{k: u.get(k) for k in keys} for u in document["utterances"]],
    }
    return json.dumps(body, ensure_ascii=False, indent=2)


def _txt(document: dict[str, Any]) -> str:
    return "".join(
        f"[{timestamp(u['start'], digits=2)}] {speaker_label(u)}: {_line(u['text'])}\n"
        for u in document["utterances"]
    )


def _cues(document: dict[str, Any], separator: str, escape: Callable[[str], str]) -> list[str]:
    cues = []
    for u in document["utterances"]:
        start, end = float(u["start"]), max(float(u["start"]), float(u["end"]))
        span = f"{timestamp(start, separator=separator)} --> {timestamp(end, separator=separator)}"
        text = escape(f"{speaker_label(u)}: {_line(u['text'])}")
        cues.append(f"{span}\n{text}\n")
    return cues


def _srt(document: dict[str, Any]) -> str:
    cues = _cues(document, ",", lambda text: text.replace("-->", "->"))
    return "\n".join(f"{n}\n{cue}" for n, cue in enumerate(cues, start=1))


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt(document: dict[str, Any]) -> str:
    return "\n".join(["WEBVTT\n", *_cues(document, ".", _vtt_escape)])


_RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": _json,
    "txt": _txt,
    "srt": _srt,
    "vtt": _vtt,
}


def render_transcript(document: dict[str, Any], fmt: str) -> tuple[str, str]:
    """The transcript of a call document in ``fmt``, and its media type."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise InvalidInputError(
            f"Unknown transcript format {fmt!r}.", f"Use one of {', '.join(EXPORT_FORMATS)}."
        )
    return renderer(document), MEDIA_TYPES[fmt]
