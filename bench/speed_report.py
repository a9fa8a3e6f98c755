"""The pure helpers of bench/speed.py: real-time factors, formatting, the targets check,
the child's result line, and the per-file medians the tables are built from (no models, no
timing).

The targets (the project's brief): end to end >= 4x real time with base, everything except
ASR <= 25% of ASR time, peak RSS < 2 GB with base. GB here is 10^9 bytes (ru_maxrss KiB *
1024).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGE_ORDER = ("diarization", "asr", "roles", "sentiment", "embedding", "metrics", "llm")
LOAD_ORDER = ("diarization", "asr", "sentiment", "embedding", "llm")
MARKER = "BENCH_SPEED_RESULT "

# The targets (the project's brief): checked with Whisper base.
TARGET_MODEL = "base"
TARGET_RTF = 4.0  # end to end, x real time, at least
TARGET_NON_ASR_SHARE = 0.25  # everything but ASR, as a share of ASR time, at most
TARGET_RSS_BYTES = 2_000_000_000  # peak RSS, less than


# ---------------------------------------------------------------------- pure helpers
def median(values: Iterable[float]) -> float:
    items = [float(v) for v in values]
    if not items:
        raise ValueError("median of no values")
    return float(statistics.median(items))


def rtf(audio_s: float, wall_s: float) -> float | None:
    """Real-time factor: seconds of audio per second of wall time (None: no time taken)."""
    if wall_s <= 0:
        return None
    return audio_s / wall_s


def fmt_x(value: float | None) -> str:
    """A real-time factor for a table: ``264x``, ``26.4x``, ``4.21x``; ``-`` when unmeasurable."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def stage_cell(audio_s: float, seconds: float | None) -> str:
    """``0.31 (264x)``; a stage under 10 ms (the document keeps milliseconds) shows no factor."""
    if seconds is None:
        return "-"
    if seconds < 0.01:
        return "<0.01"
    return f"{seconds:.2f} ({fmt_x(rtf(audio_s, seconds))})"


def fmt_gb(rss_bytes: float) -> str:
    return f"{rss_bytes / 1e9:.2f} GB"


def calls_per_hour(calls: int, wall_s: float) -> float:
    if wall_s <= 0:
        raise ValueError("wall time must be positive")
    return calls / wall_s * 3600


def non_asr_share(e2e_s: float, asr_s: float) -> float | None:
    """Everything but ASR (decode, store, every other stage) as a share of ASR time."""
    if asr_s <= 0:
        return None
    return max(0.0, e2e_s - asr_s) / asr_s


def parse_child_output(stdout: str) -> dict[str, Any]:
    """The result a child printed: the JSON after the last ``MARKER`` line."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            value = json.loads(line[len(MARKER) :])
            if not isinstance(value, dict):
                raise ValueError("the child's result is not a JSON object")
            return value
    raise ValueError("the child printed no result line (see its stderr above)")


@dataclass(frozen=True)
class TargetRow:
    target: str
    figure: str
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "not met")


def check_targets(
    e2e_rtf: float | None,
    share: float | None,
    rss_bytes: float | None,
    *,
    model: str = TARGET_MODEL,
    note: str = "",
) -> list[TargetRow]:
    """Met / not met for the three targets; a figure of None was not measured. ``note`` is
    added to the end-to-end figure (say, the slowest file)."""
    rows = []
    rows.append(
        TargetRow(
            f"end to end >= {TARGET_RTF:g}x real time ({model})",
            "n/a" if e2e_rtf is None else fmt_x(e2e_rtf) + (f" ({note})" if note else ""),
            None if e2e_rtf is None else e2e_rtf >= TARGET_RTF,
        )
    )
    rows.append(
        TargetRow(
            f"everything except ASR <= {TARGET_NON_ASR_SHARE:.0%} of ASR time ({model})",
            "n/a" if share is None else f"{share:.1%}",
            None if share is None else share <= TARGET_NON_ASR_SHARE,
        )
    )
    rows.append(
        TargetRow(
            f"peak RSS < {fmt_gb(TARGET_RSS_BYTES)} ({model})",
            "n/a" if rss_bytes is None else fmt_gb(rss_bytes),
            None if rss_bytes is None else rss_bytes < TARGET_RSS_BYTES,
        )
    )
    return rows


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------- per file
@dataclass
class ModelResult:
    model: str
    pipeline: dict[str, Any]
    pipeline_rss: int
    peer: dict[str, Any]
    peer_rss: int
    throughput: dict[str, Any] | None = None
    throughput_rss: int | None = None


def per_file(model: ModelResult) -> list[dict[str, Any]]:
    """Each file's medians, pipeline and peer together."""
    peers = {f["file"]: f for f in model.peer["files"]}
    rows = []
    for f in model.pipeline["files"]:
        peer = peers[f["file"]]
        stages = {name: median(v) for name, v in f["stages"].items()}
        rows.append(
            {
                "name": Path(f["file"]).name,
                "audio_s": f["audio_s"],
                "channels": f["channels"],
                "per_channel": f["method"] == "channel",
                "wall_s": median(f["wall_s"]),
                "stages": stages,
                "peer_decode_s": median(peer["decode_s"]),
                "peer_asr_s": median(peer["asr_s"]),
                "peer_wall_s": median(
                    a + b for a, b in zip(peer["decode_s"], peer["asr_s"], strict=True)
                ),
                "words": f["words"],
                "peer_words": peer["words"],
            }
        )
    return rows


def aggregate(rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """Sum over the file set: audio seconds, end-to-end wall, ASR-stage seconds."""
    audio = sum(r["audio_s"] for r in rows)
    wall = sum(r["wall_s"] for r in rows)
    asr = sum(r["stages"].get("asr", 0.0) for r in rows)
    return audio, wall, asr
