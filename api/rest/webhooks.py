"""/v1/webhooks: endpoints told of events, for administrators (docs/webhooks.md).

The same store as `callytics webhooks ...` and GraphQL's ``webhooks``/``createWebhook``. The
secret is write-only: given (or generated) at creation and shown in that answer alone.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin
from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.webhooks.events import EVENTS
from core.webhooks.store import Delivery, NewWebhook, Webhook

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

EXAMPLE: dict[str, Any] = {
    "url": "https://hooks.example.com/callytics",
    "events": ["job.succeeded", "job.failed"],
    "description": "CRM sync",
}


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    url: str = Field(description="An http or https URL the events are POSTed to.")
    events: list[str] = Field(description=f"Any of: {', '.join(EVENTS)}.")
    secret: str | None = Field(
        default=None,
        description="The signing secret (16 to 200 characters); generated when left out. "
        "Returned in this answer only.",
    )
    description: str = ""


class WebhookOut(Webhook):  # the core models under the names OpenAPI gives them
    pass


class NewWebhookOut(NewWebhook):
    pass


class DeliveryOut(Delivery):
    pass


class PingOut(BaseModel):
    event_id: str = Field(description="The ping's id (its Callytics-Delivery header).")


@router.get("", summary="List webhooks (never their secrets)", responses=error_responses())
async def list_webhooks(runtime: RuntimeDep, _admin: Admin) -> list[WebhookOut]:
    hooks = await asyncio.to_thread(runtime.webhooks.list)
    return [WebhookOut.model_validate(h.model_dump()) for h in hooks]


@router.post(
    "",
    status_code=201,
    summary="Add a webhook",
    description="Needs the admin role. Unknown events and URLs that are not http(s) are "
    "refused with 422. The answer holds the signing secret: it is not shown again.",
    responses=error_responses(422),
)
async def create_webhook(runtime: RuntimeDep, admin: Admin, body: WebhookIn) -> NewWebhookOut:
    hook = await asyncio.to_thread(
        runtime.webhooks.create,
        body.url,
        body.events,
        body.secret,
        body.description,
        admin.actor,
    )
    return NewWebhookOut.model_validate(hook.model_dump())


@router.get("/{webhook_id}", summary="One webhook", responses=error_responses(404))
async def get_webhook(runtime: RuntimeDep, _admin: Admin, webhook_id: str) -> WebhookOut:
    hook = await asyncio.to_thread(runtime.webhooks.get, webhook_id)
    return WebhookOut.model_validate(hook.model_dump())


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Remove a webhook and its delivery log",
    description="Needs the admin role; what was still pending is not sent.",
    responses=error_responses(404),
)
async def delete_webhook(runtime: RuntimeDep, _admin: Admin, webhook_id: str) -> Response:
    await asyncio.to_thread(runtime.webhooks.delete, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    summary="A webhook's delivery log, newest first",
    responses=error_responses(404, 422),
)
async def list_deliveries(
    runtime: RuntimeDep,
    _admin: Admin,
    webhook_id: str,
    status: Annotated[
        str | None, Query(description="pending, delivered or failed; all when left out.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    rows = await asyncio.to_thread(
        runtime.webhooks.deliveries, webhook_id, status=status, limit=limit
    )
    return [DeliveryOut.model_validate(d.model_dump()) for d in rows]


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    summary="Send a ping event to a webhook",
    description="Queues a `ping` event for this endpoint alone; follow it in its delivery log.",
    responses=error_responses(404, 422),
)
async def ping_webhook(runtime: RuntimeDep, _admin: Admin, webhook_id: str) -> PingOut:
    return PingOut(event_id=await asyncio.to_thread(runtime.webhooks.ping, webhook_id))
