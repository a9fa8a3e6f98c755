"""Call scripts (what is said) and call truth (where it landed in the rendered file)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

ROLES = ("agent", "customer", "unknown")
SENTIMENTS = ("positive", "neutral", "negative")
SPEAKERS = ("A", "C", "T")


@dataclass(frozen=True)
class Turn:
    """One turn of a script.

    ``overlap_s``: this turn starts that many seconds *before* the previous turn ends (a
    planted interruption). ``pause_s``: the silence before this turn, instead of the
    seeded random 0.3-0.9 s.
    """

    speaker: str
    role: str
    text: str
    sentiment: str | None = None
    overlap_s: float | None = None
    pause_s: float | None = None

    def __post_init__(self) -> None:
        if self.speaker not in SPEAKERS:
            raise ValueError(f"speaker must be one of {SPEAKERS}: {self.speaker!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}: {self.role!r}")
        if self.sentiment is not None and self.sentiment not in SENTIMENTS:
            raise ValueError(f"sentiment must be one of {SENTIMENTS}: {self.sentiment!r}")
        if self.overlap_s is not None and self.pause_s is not None:
            raise ValueError("a turn has either overlap_s or pause_s, not both")
        if not self.text.strip():
            raise ValueError("empty turn text")


@dataclass(frozen=True)
class CallScript:
    """A whole call: turns plus what an analyst should find in it (``expected``)."""

    name: str
    title: str
    company: str
    turns: tuple[Turn, ...]
    expected: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.turns:
            raise ValueError(f"script {self.name!r} has no turns")
        if self.turns[0].overlap_s is not None:
            raise ValueError("the first turn cannot overlap anything")
        roles: dict[str, str] = {}
        for t in self.turns:
            if roles.setdefault(t.speaker, t.role) != t.role:
                raise ValueError(f"speaker {t.speaker} has two roles in {self.name!r}")

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns}, key=SPEAKERS.index)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallScript:
        return cls(
            name=data["name"],
            title=data.get("title", data["name"]),
            company=data.get("company", ""),
            turns=tuple(Turn(**t) for t in data["turns"]),
            expected=dict(data.get("expected", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class TurnTruth:
    index: int
    speaker: str
    role: str
    text: str
    start: float
    end: float
    sentiment: str | None = None
    channel: int | None = None  # None for mono files

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Interruption:
    """``interrupter`` started ``turn`` at ``at`` while ``interrupted`` was speaking."""

    turn: int
    interrupted_turn: int
    interrupter: str
    interrupted: str
    at: float
    overlap_s: float


@dataclass(frozen=True)
class CallTruth:
    """Ground truth of one rendered file: exact speech times in that file."""

    script: str
    duration: float
    sample_rate: int
    channels: int
    layout: str
    codec: str
    turns: tuple[TurnTruth, ...]
    interruptions: tuple[Interruption, ...]
    speakers: dict[str, dict[str, Any]]
    expected: dict[str, Any] = field(default_factory=dict)
    render_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> CallTruth:
        data = json.loads(text)
        data["turns"] = tuple(TurnTruth(**t) for t in data["turns"])
        data["interruptions"] = tuple(Interruption(**i) for i in data["interruptions"])
        return cls(**data)

    def to_rttm(self, file_id: str) -> str:
        """NIST RTTM, one SPEAKER line per turn, speakers named by their script letter."""
        lines = [
            f"SPEAKER {file_id} 1 {t.start:.3f} {t.duration:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
            for t in self.turns
        ]
        return "\n".join(lines) + "\n"
