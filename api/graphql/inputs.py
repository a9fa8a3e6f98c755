"""GraphQL inputs, and their conversion into the core's own option and filter objects."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.enums import Resolution, SentimentLabel
from api.graphql.vocabularies import ReplacementInput
from core.analysis.pipeline import AnalysisOptions
from core.calls.catalog import CallFilters
from core.calls.metadata_filter import MetadataPairs, combine
from core.vocabularies.store import parse_call_vocabulary


@strawberry.input(description="A metadata key and the exact value it must have.")
class MetadataPairInput:
    key: str = strawberry.field(description="A metadata key: a-z, 0-9, _ or -.")
    value: str = strawberry.field(
        description="Its value as text (booleans as `true`/`false`), exactly."
    )


def metadata_pairs(
    pairs: list[MetadataPairInput] | None, team: str | None = None, queue: str | None = None
) -> MetadataPairs:
    """The pairs, checked (an `invalid_input` error says what is wrong), with the team and
    queue shortcuts."""
    return combine([(p.key, p.value) for p in pairs or []], {"team": team, "queue": queue})


@strawberry.input(description="Which calls `calls` lists; every field given must match.")
class CallFilter:
    topic: str | None = strawberry.field(
        default=None, description="A topic the analysis found (case-insensitive, exact)."
    )
    sentiment: SentimentLabel | None = strawberry.field(
        default=None, description="The customer's overall sentiment."
    )
    conflict: bool | None = None
    resolution: Resolution | None = None
    created_after: datetime | None = strawberry.field(
        default=None, description="Uploaded at or after this time."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Uploaded before this time."
    )
    category: str | None = strawberry.field(
        default=None, description="Tagged with this custom category (its name)."
    )
    agent: str | None = strawberry.field(
        default=None, description="Handled by this agent (as given at upload)."
    )
    team: str | None = strawberry.field(
        default=None, description="Same as the metadata pair `team`."
    )
    queue: str | None = strawberry.field(
        default=None, description="Same as the metadata pair `queue`."
    )
    metadata: list[MetadataPairInput] | None = strawberry.field(
        default=None, description="Metadata pairs, all of which must hold."
    )

    def to_filters(self) -> CallFilters:
        return CallFilters(
            topic=self.topic,
            sentiment=self.sentiment.value if self.sentiment else None,
            conflict=self.conflict,
            resolution=self.resolution.value if self.resolution else None,
            created_after=self.created_after,
            created_before=self.created_before,
            category=self.category,
            agent=self.agent,
            metadata=metadata_pairs(self.metadata, self.team, self.queue),
        )


@strawberry.input(description="How to analyse a recording; everything is optional.")
class AnalyzeOptionsInput:
    language: str | None = strawberry.field(
        default=None, description="ISO code such as `en`; detected when absent."
    )
    num_speakers: int | None = strawberry.field(
        default=None, description="Exact number of speakers (1..20), when known."
    )
    min_speakers: int | None = None
    max_speakers: int | None = None
    agent_channel: int | None = strawberry.field(
        default=None, description="Stereo calls: the channel (0 or 1) that holds the agent."
    )
    redact_pii: bool | None = strawberry.field(
        default=None,
        description="Tag personal data in the transcript and silence it in the stored "
        "recording; absent: the REDACT_PII setting.",
    )
    terms: list[str] | None = strawberry.field(
        default=None,
        description="This call's own vocabulary terms (with its team's and the global ones).",
    )
    replacements: list[ReplacementInput] | None = strawberry.field(
        default=None, description="This call's own replacements (spoken -> written)."
    )

    def to_options(self) -> AnalysisOptions:
        terms, replacements = parse_call_vocabulary(
            self.terms,
            [{"spoken": r.spoken, "written": r.written} for r in self.replacements or []],
        )
        return AnalysisOptions(
            terms=terms,
            replacements=replacements,
            language=self.language,
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            agent_channel=self.agent_channel,
            redact_pii=self.redact_pii,
        )


def analysis_options(options: AnalyzeOptionsInput | None) -> AnalysisOptions:
    return options.to_options() if options else AnalysisOptions()
