"""The stage registry: every stage of the analysis, once, in the order a call goes through.

The pipeline reports progress under these names in this order; the container builds one
engine per ``served`` stage and ``USE_<STAGE>_MS`` swaps it for the stage's gRPC client; the
gRPC entry points (``callytics stage <name>``) serve exactly those; the health report
counts ``required`` stages as the ones a call cannot do without; the CLI's progress bars and
the web page's stage rows (``GET /ui/stages.js``) are drawn from the same list.

``metrics`` are computed before ``llm`` (the model reads the talk-time figures) and finish
after it: where the model's speaker roles or sentiment replace the rules', they are
recomputed, and only then reported done.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str
    label: str  # what a person reads for it (the web page's stage rows)
    required: bool  # a call fails without it; an optional stage degrades into a warning
    served: bool  # an engine behind a port: in-process, or a gRPC service (USE_<NAME>_MS)


STAGES: tuple[Stage, ...] = (
    Stage("decode", "Decode", required=True, served=False),
    Stage("diarization", "Who spoke when", required=True, served=True),
    Stage("asr", "Transcribe", required=True, served=True),
    Stage("roles", "Agent and customer", required=False, served=False),
    Stage("sentiment", "Sentiment", required=False, served=True),
    Stage("embedding", "Search index", required=False, served=True),
    Stage("llm", "Summary and topics", required=False, served=True),
    Stage("metrics", "Metrics", required=False, served=False),
)

#: Progress order: the stage names a job's events carry, in the order they finish.
PROGRESS_ORDER: tuple[str, ...] = tuple(s.name for s in STAGES)
#: The stages with an engine: what the container switches and ``callytics stage`` serves.
SERVED: tuple[str, ...] = tuple(s.name for s in STAGES if s.served)
#: Served stages a call cannot do without (the health report's "required").
REQUIRED_SERVED: tuple[str, ...] = tuple(s.name for s in STAGES if s.served and s.required)
#: Served stages that degrade into a warning when down.
OPTIONAL_SERVED: tuple[str, ...] = tuple(s.name for s in STAGES if s.served and not s.required)


def stage(name: str) -> Stage:
    """The stage called ``name``; KeyError for a name that is not one."""
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(name)
