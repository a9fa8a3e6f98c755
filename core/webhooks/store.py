"""Webhook endpoints kept and looked after: add, list, remove, the delivery log, a ping.

The secret is write-only: it is returned once, by :meth:`WebhookStore.create` (generated when
none is given), and never again. Each method is its own transaction.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInputError, NotFoundError
from core.persistence.database import Database
from core.persistence.models import WebhookDeliveryRow, WebhookRow, utcnow
from core.persistence.repositories import as_utc
from core.persistence.unit_of_work import UnitOfWork
from core.webhooks import events as ev
from core.webhooks.signing import new_secret

MIN_SECRET = 16
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Webhook(BaseModel):
    """An endpoint as the API shows it (never its secret)."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: str
    events: list[str]
    description: str
    active: bool = Field(description="False once the endpoint answered 410 Gone.")
    disabled_reason: str | None
    created_at: datetime
    created_by: str | None


class NewWebhook(Webhook):
    secret: str = Field(description="The signing secret: shown this once.")


class Delivery(BaseModel):
    """One event for one endpoint: the outbox row, its attempts and outcome."""

    model_config = ConfigDict(frozen=True)

    id: int
    webhook_id: str
    event_id: str = Field(description="Sent as Callytics-Delivery; the same on a retry.")
    event_type: str
    status: str = Field(description="pending, delivered or failed.")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next (pending).")
    last_status: int | None = Field(description="The HTTP status of the last attempt.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=list(row.events or []),
        description=row.description or "",
        active=bool(row.active),
        disabled_reason=row.disabled_reason,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at) if row.status == "pending" else None,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=as_utc(row.created_at),
        delivered_at=as_utc(row.delivered_at) if row.delivered_at else None,
        payload=dict(row.payload or {}),
    )


def check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInputError(
            f"The webhook URL {url!r} is not an http or https URL with a host.",
            "Give an absolute URL such as https://hooks.example.com/callytics.",
        )
    if len(url) > 2048:
        raise InvalidInputError("The webhook URL is longer than 2048 characters.", "Shorten it.")
    return url


def check_events(events: builtins.list[str]) -> builtins.list[str]:
    wanted = list(dict.fromkeys(e.strip() for e in events or [] if e and e.strip()))
    valid = ", ".join(ev.EVENTS)
    if not wanted:
        raise InvalidInputError("A webhook needs at least one event.", f"Choose from: {valid}.")
    unknown = [e for e in wanted if e not in ev.EVENTS]
    if unknown:
        raise InvalidInputError(
            f"Unknown webhook event {', '.join(map(repr, unknown))}.", f"Choose from: {valid}."
        )
    return wanted


def check_secret(secret: str | None) -> str:
    if secret is None or secret == "":
        return new_secret()
    if len(secret) < MIN_SECRET or len(secret) > 200:
        raise InvalidInputError(
            f"A webhook secret must be {MIN_SECRET} to 200 characters long.",
            "Leave it out to have one generated.",
        )
    return secret


class WebhookStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(
        self,
        url: str,
        events: builtins.list[str],
        secret: str | None = None,
        description: str = "",
        created_by: str | None = None,
    ) -> NewWebhook:
        """Check and add an endpoint; the answer is the only one that holds its secret."""
        row = WebhookRow(
            id=str(uuid.uuid4()),
            url=check_url(url),
            events=check_events(events),
            secret=check_secret(secret),
            description=(description or "")[:1000],
            active=True,
            created_at=utcnow(),
            created_by=created_by,
        )
        with UnitOfWork(self.database) as uow:
            uow.webhooks.add(row)
        return NewWebhook(**_webhook(row).model_dump(), secret=row.secret)

    def list(self) -> builtins.list[Webhook]:
        with UnitOfWork(self.database) as uow:
            return [_webhook(r) for r in uow.webhooks.all()]

    def get(self, webhook_id: str) -> Webhook:
        with UnitOfWork(self.database) as uow:
            return _webhook(self._require(uow, webhook_id))

    def delete(self, webhook_id: str) -> None:
        """The endpoint and its delivery log (what was pending is not sent)."""
        with UnitOfWork(self.database) as uow:
            self._require(uow, webhook_id)
            uow.webhooks.delete(webhook_id)

    def deliveries(
        self, webhook_id: str, *, status: str | None = None, limit: int = 100
    ) -> builtins.list[Delivery]:
        """The endpoint's delivery log, newest first."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidInputError(
                f"Unknown delivery status {status!r}.",
                f"Choose from: {', '.join(DELIVERY_STATUSES)}.",
            )
        with UnitOfWork(self.database) as uow:
            self._require(uow, webhook_id)
            rows = uow.webhooks.deliveries(webhook_id, status=status, limit=limit)
            return [_delivery(r) for r in rows]

    def ping(self, webhook_id: str) -> str:
        """Queue a ``ping`` event for this endpoint alone; its event id."""
        with UnitOfWork(self.database) as uow:
            row = self._require(uow, webhook_id)
            if not row.active:
                raise InvalidInputError(
                    f"Webhook {webhook_id} is disabled: {row.disabled_reason}.",
                    "Delete it and add it again once the receiver is back.",
                )
            return ev.emit(
                uow, ev.PING, {"webhook_id": webhook_id, "url": row.url}, webhook_ids=[row.id]
            )

    @staticmethod
    def _require(uow: UnitOfWork, webhook_id: str) -> WebhookRow:
        row = uow.webhooks.get(webhook_id)
        if row is None:
            raise NotFoundError(f"No webhook {webhook_id}.", "List webhooks with GET /v1/webhooks.")
        return row
