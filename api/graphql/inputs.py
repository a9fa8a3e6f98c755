"""GraphQL inputs, and their conversion into the core's own option and filter objects."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.enums import Resolution, SentimentLabel
from core.analysis.pipeline import AnalysisOptions
from core.calls.catalog import CallFilters


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

    def to_options(self) -> AnalysisOptions:
        return AnalysisOptions(
            language=self.language,
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            agent_channel=self.agent_channel,
            redact_pii=self.redact_pii,
        )


def analysis_options(options: AnalyzeOptionsInput | None) -> AnalysisOptions:
    return options.to_options() if options else AnalysisOptions()
