"""A recording's metadata from the files around it. Three sources, later wins key by key:

1. its name, read by a pattern such as ``{date}_{agent}_{call_id}.wav``
   (:class:`FilenamePattern`: ``call_id`` becomes ``external_id``, ``date`` (and ``time``)
   ``started_at``, any other placeholder the key of its name, ``{_}`` a part to skip);
2. a ``metadata.csv`` in its folder or a folder above it, up to the ingested folder: a
   ``file`` column (the path from the CSV's folder) and one column per key; the nearest
   CSV that lists the file is used;
3. its sidecar JSON, ``call.wav.json``: an object of keys to values.

Each source goes through :func:`core.calls.metadata.parse_metadata`; a source that cannot
be read or has a bad value raises :class:`InvalidInputError` naming the file and the source,
which fails that recording only.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.calls.metadata import merge, parse_metadata
from core.errors import InvalidInputError
from core.ingest.files import sidecar_of

CSV_NAME = "metadata.csv"
CSV_FILE_COLUMN = "file"
# Placeholders that stand for a well-known key under another name.
ALIASES = {"call_id": "external_id"}
# Placeholders with a shape of their own (so that a separator inside them is no boundary).
DATE = r"\d{4}-?\d{2}-?\d{2}(?:[T_ -]?\d{2}[-:.]?\d{2}(?:[-:.]?\d{2})?)?"
TIME = r"\d{2}[-:.]?\d{2}(?:[-:.]?\d{2})?"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_KEY = re.compile(r"^[a-z0-9_-]{1,64}$")
PATTERN_HINT = (
    "Write the pattern as the file names are, with {placeholders} where the values are, "
    "e.g. '{date}_{agent}_{call_id}.wav'; {_} skips a part."
)


@dataclass(frozen=True)
class FilenamePattern:
    """A file-name pattern such as ``{date}_{agent}_{call_id}.wav``.

    A placeholder matches up to the next literal text (so separators should not occur in
    the values); ``{date}`` matches ``YYYYMMDD`` or ``YYYY-MM-DD`` with an optional time
    (``T0930``, ``_093015``, ``-09-30-15``), ``{time}`` ``HHMM[SS]``. A pattern with an
    extension is matched against the whole name (case-insensitively), one without against
    the name without its extension."""

    text: str
    regex: re.Pattern[str] = field(compare=False)
    keys: tuple[str, ...]
    with_suffix: bool

    @classmethod
    def compile(cls, text: str) -> FilenamePattern:
        """Raises :class:`InvalidInputError` for a pattern that cannot be used."""
        if not text.strip() or "/" in text or "\\" in text:
            raise InvalidInputError(f"--pattern {text!r} must be a file name.", PATTERN_HINT)
        parts: list[str] = []
        keys: list[str] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(re.escape(text[position : match.start()]))
            name = match.group(1).strip().lower()
            if name == "_":
                parts.append(".+?")
            elif not _KEY.match(name):
                raise InvalidInputError(
                    f"--pattern placeholder {{{match.group(1)}}} is not a metadata key "
                    "(a-z, 0-9, _ or -).",
                    PATTERN_HINT,
                )
            elif name in keys:
                raise InvalidInputError(f"--pattern has {{{name}}} twice.", PATTERN_HINT)
            else:
                keys.append(name)
                shape = DATE if name == "date" else TIME if name == "time" else ".+?"
                parts.append(f"(?P<{_group(name)}>{shape})")
            position = match.end()
        tail = text[position:]
        if any("{" in literal or "}" in literal for literal in _literals(text)):
            raise InvalidInputError(f"--pattern {text!r} has an unclosed brace.", PATTERN_HINT)
        parts.append(re.escape(tail))
        if not keys:
            raise InvalidInputError(f"--pattern {text!r} has no {{placeholder}}.", PATTERN_HINT)
        if "time" in keys and "date" not in keys:
            raise InvalidInputError("--pattern {time} needs a {date} too.", PATTERN_HINT)
        with_suffix = bool(re.search(r"\.[A-Za-z0-9]+$", tail))
        regex = re.compile("".join(parts), re.IGNORECASE)
        return cls(text, regex, tuple(keys), with_suffix)

    def read(self, name: str) -> dict[str, Any]:
        """The metadata in a file name; raises :class:`InvalidInputError` when the name does
        not match the pattern or a value is not what its key needs."""
        subject = name if self.with_suffix else Path(name).stem
        match = self.regex.fullmatch(subject)
        if match is None:
            raise InvalidInputError(
                f"{name} does not match the file-name pattern {self.text!r}.",
                "Rename the file, give its metadata in a sidecar JSON instead, or change "
                "--pattern.",
            )
        values = {key: match.group(_group(key)) for key in self.keys}
        metadata: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("date", "time"):
                continue
            metadata[ALIASES.get(key, key)] = value
        if "date" in values:
            metadata["started_at"] = _started_at(values["date"], values.get("time"), name)
        try:
            return parse_metadata(metadata)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{name} (file-name pattern): {exc.message}", exc.hint) from exc


def _group(key: str) -> str:
    return "k_" + key.replace("-", "__")


def _literals(text: str) -> list[str]:
    return _PLACEHOLDER.split(text)[::2]


def _started_at(date: str, time: str | None, name: str) -> str:
    digits = re.sub(r"\D", "", date) + re.sub(r"\D", "", time or "")
    if len(digits) not in (8, 12, 14):
        raise InvalidInputError(f"{name}: {date!r} is not a date and time.", PATTERN_HINT)
    year, month, day = digits[0:4], digits[4:6], digits[6:8]
    hour, minute, second = digits[8:10] or "00", digits[10:12] or "00", digits[12:14] or "00"
    iso = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    try:
        return str(parse_metadata({"started_at": iso})["started_at"])
    except InvalidInputError as exc:
        raise InvalidInputError(f"{name}: {date!r} is not a date.", exc.hint) from exc


def read_sidecar(path: Path) -> dict[str, Any]:
    """The metadata of a sidecar JSON file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InvalidInputError(
            f"sidecar {path.name} cannot be read as JSON ({reason}).",
            'Write it as one JSON object, e.g. {"agent": "a-17", "team": "billing"}.',
        ) from exc
    try:
        return parse_metadata(raw)
    except InvalidInputError as exc:
        raise InvalidInputError(f"sidecar {path.name}: {exc.message}", exc.hint) from exc


class FolderCsv:
    """The ``metadata.csv`` files of a tree, read once each (and again when they change)."""

    def __init__(self) -> None:
        self._tables: dict[Path, tuple[int, dict[str, dict[str, str]] | InvalidInputError]] = {}

    def lookup(self, path: Path, root: Path) -> dict[str, Any]:
        """The metadata the nearest ``metadata.csv`` (from the recording's folder up to
        ``root``) gives the recording; {} when none lists it."""
        root = root.resolve()
        folder = path.parent.resolve()
        while True:
            table = self._table(folder / CSV_NAME)
            if table is not None:
                key = path.resolve().relative_to(folder).as_posix()
                if isinstance(table, InvalidInputError):
                    raise table
                if key in table:
                    try:
                        return parse_metadata(table[key])
                    except InvalidInputError as exc:
                        raise InvalidInputError(
                            f"{folder / CSV_NAME}, row {key}: {exc.message}", exc.hint
                        ) from exc
            if folder == root or folder.parent == folder or root not in folder.parents:
                return {}
            folder = folder.parent

    def _table(self, csv_path: Path) -> dict[str, dict[str, str]] | InvalidInputError | None:
        try:
            mtime = csv_path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._tables.get(csv_path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        try:
            table: dict[str, dict[str, str]] | InvalidInputError = read_csv(csv_path)
        except InvalidInputError as exc:
            table = exc
        self._tables[csv_path] = (mtime, table)
        return table


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """A ``metadata.csv``: its rows by their ``file`` column."""
    hint = (
        f"Write {CSV_NAME} with a header row: a '{CSV_FILE_COLUMN}' column (the recording's "
        "name, or its path from the CSV's folder) and one column per metadata key."
    )
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if CSV_FILE_COLUMN not in columns:
                raise InvalidInputError(f"{path} has no '{CSV_FILE_COLUMN}' column.", hint)
            rows: dict[str, dict[str, str]] = {}
            for number, raw in enumerate(reader, start=2):
                row = {
                    (k or "").strip().lower(): (v or "").strip()
                    for k, v in raw.items()
                    if not isinstance(v, list)
                }
                name = Path(row.pop(CSV_FILE_COLUMN, "")).as_posix()
                if not name or name == ".":
                    continue
                if name in rows:
                    raise InvalidInputError(f"{path} lists {name} twice (line {number}).", hint)
                rows[name] = row
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInputError(f"{path} cannot be read as CSV ({exc}).", hint) from exc


class MetadataSources:
    """Everything a recording's metadata comes from: the pattern (if any), the CSV files
    and the sidecar, merged later-wins (:func:`core.calls.metadata.merge`)."""

    def __init__(self, pattern: FilenamePattern | None = None) -> None:
        self.pattern = pattern
        self.csv = FolderCsv()

    def metadata(self, path: Path, root: Path | None = None) -> dict[str, Any]:
        """Raises :class:`InvalidInputError` (naming the source) for the first bad one."""
        named = self.pattern.read(path.name) if self.pattern is not None else {}
        listed = self.csv.lookup(path, root or path.parent)
        sidecar = sidecar_of(path)
        beside = read_sidecar(sidecar) if sidecar is not None else {}
        return parse_metadata(merge(named, listed, beside))
