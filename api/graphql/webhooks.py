"""Webhooks over GraphQL (admin role): thin types over :mod:`core.webhooks.store`, the same
store as REST's /v1/webhooks. The secret is in ``createWebhook``'s answer alone."""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.derived import derived_type, from_model
from core.access.auth import AccessRole
from core.errors import NotFoundError
from core.webhooks.store import Delivery as DeliveryData
from core.webhooks.store import NewWebhook as NewWebhookData
from core.webhooks.store import Webhook as WebhookData


@derived_type(WebhookData, "An endpoint told of events (its secret is never shown again).")
class Webhook:
    id: strawberry.ID


@derived_type(NewWebhookData, "A webhook just added, with its signing secret: shown this once.")
class NewWebhook:
    id: strawberry.ID


@derived_type(DeliveryData, "One event for one endpoint: its attempts and outcome.")
class WebhookDelivery:
    payload: JSON


@strawberry.input(description="A webhook to add.")
class WebhookInput:
    url: str = strawberry.field(description="An http or https URL the events are POSTed to.")
    events: list[str] = strawberry.field(
        description="Any of job.succeeded, job.failed, call.deleted, category.matched, live.alert."
    )
    secret: str | None = strawberry.field(
        default=None, description="The signing secret; generated when left out."
    )
    description: str = ""


async def webhooks(info: Info) -> list[Webhook]:
    principal_of(info, AccessRole.ADMIN)
    stored = await asyncio.to_thread(runtime_of(info).webhooks.list)
    return [from_model(Webhook, h) for h in stored]


async def webhook_deliveries(
    info: Info, id: strawberry.ID, status: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    principal_of(info, AccessRole.ADMIN)
    rows = await asyncio.to_thread(
        runtime_of(info).webhooks.deliveries, str(id), status=status, limit=min(limit, 1000)
    )
    return [from_model(WebhookDelivery, d) for d in rows]


async def create_webhook(info: Info, input: WebhookInput) -> NewWebhook:
    principal = principal_of(info, AccessRole.ADMIN)
    hook = await asyncio.to_thread(
        runtime_of(info).webhooks.create,
        input.url,
        list(input.events),
        input.secret,
        input.description,
        principal.actor,
    )
    return from_model(NewWebhook, hook)


async def delete_webhook(info: Info, id: strawberry.ID) -> bool:
    principal_of(info, AccessRole.ADMIN)
    try:
        await asyncio.to_thread(runtime_of(info).webhooks.delete, str(id))
    except NotFoundError:
        return False
    return True
