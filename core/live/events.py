"""What a live call says while it runs: one event per change, in order (``seq``), on a bus.

``partial``: an utterance still being spoken (its committed words and the tentative tail);
``final``: an ended utterance with its words, speaker, role and sentiment; ``metrics``: the
running conversation figures; ``alert``: a category that matched, a negative streak or PII;
``dropped`` / ``resumed``: the streaming client went away / came back; ``ended``: the call
hung up and was handed to the post-call pipeline (its job and call ids).

Events travel on a :class:`core.jobs.events.Bus` (in-process, or Redis pub/sub with
``REDIS_URL``), so any API process can serve a ``liveCall`` subscription; the finals, alerts
and metrics are also kept in the live call's row, from which a late subscriber catches up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.jobs.events import Bus


class LiveEventType(StrEnum):
    STARTED = "started"
    PARTIAL = "partial"
    FINAL = "final"
    METRICS = "metrics"
    ALERT = "alert"
    DROPPED = "dropped"
    RESUMED = "resumed"
    ENDED = "ended"


@dataclass(frozen=True)
class LiveEvent:
    live_id: str
    seq: int
    type: LiveEventType
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.live_id

    @property
    def terminal(self) -> bool:
        return self.type == LiveEventType.ENDED

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.type.value
        data["at"] = self.at.isoformat()
        return data

    def to_json(self) -> str:
        return json.dumps(self.payload())

    @classmethod
    def from_json(cls, raw: str | bytes) -> LiveEvent:
        data = json.loads(raw)
        return cls(
            live_id=data["live_id"],
            seq=int(data["seq"]),
            type=LiveEventType(data["type"]),
            at=datetime.fromisoformat(data["at"]),
            data=data.get("data") or {},
        )


LiveBus = Bus[LiveEvent]
