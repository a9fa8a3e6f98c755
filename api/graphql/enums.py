"""The core's enums (core/domain.py) as GraphQL's: registered here, with GraphQL's
descriptions; clients send and read the members' names.

GraphQL code imports them from this module, not from core.domain: strawberry would register
an enum it meets unregistered by itself (without a description), and a second registration
afterwards would then be a second GraphQL type of the same name.
"""

from __future__ import annotations

import strawberry

from core.domain import Resolution, Role, SentimentLabel
from core.live.events import LiveEventType

__all__ = ["LiveEventType", "Resolution", "Role", "SentimentLabel"]

strawberry.enum(Role, description="Who a speaker is in the call.")
strawberry.enum(
    SentimentLabel, description="The tone of an utterance, or of a customer over a whole call."
)
strawberry.enum(Resolution, description="Whether the customer's issue was resolved.")
strawberry.enum(
    LiveEventType,
    description="What a live call event says: started, partial, final, metrics, alert, dropped, "
    "resumed or ended.",
)
