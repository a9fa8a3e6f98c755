"""The webhook aggregate: endpoints (``webhooks``) and their outbox (``webhook_deliveries``).

:meth:`WebhookRepository.enqueue` is called inside the unit of work of the change an event
reports, so the outbox row and the change commit (or roll back) together. Dispatchers take
due rows with :meth:`claim`: a conditional UPDATE per row sets a lease, so two processes
never hold (and send) the same row at once, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from core.persistence.models import WebhookDeliveryRow, WebhookRow


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ----------------------------------------------------------- endpoints
    def add(self, row: WebhookRow) -> WebhookRow:
        self.session.add(row)
        self.session.flush()
        return row

    def get(self, webhook_id: str) -> WebhookRow | None:
        return self.session.get(WebhookRow, webhook_id)

    def all(self) -> list[WebhookRow]:
        """Oldest first."""
        return list(self.session.scalars(select(WebhookRow).order_by(WebhookRow.created_at)))

    def delete(self, webhook_id: str) -> None:
        """The endpoint and its delivery log."""
        self.session.execute(
            delete(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
        )
        self.session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))

    def disable(self, webhook_id: str, reason: str) -> None:
        """Stop sending to an endpoint: it gets no new events, and what was pending fails."""
        self.session.execute(
            update(WebhookRow)
            .where(WebhookRow.id == webhook_id)
            .values(active=False, disabled_reason=reason)
        )
        self.session.execute(
            update(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.webhook_id == webhook_id,
                WebhookDeliveryRow.status == "pending",
            )
            .values(status="failed", last_error=reason, locked_until=None, locked_by=None)
        )

    # ----------------------------------------------------------- the outbox
    def enqueue(
        self,
        event_id: str,
        event_type: str,
        payload: dict[str, Any],
        at: datetime,
        webhook_ids: Sequence[str] | None = None,
    ) -> int:
        """Stage the event for every active endpoint subscribed to its type (or for the
        endpoints ``webhook_ids``); how many rows that is (0 without webhooks)."""
        query = select(WebhookRow.id, WebhookRow.events).where(WebhookRow.active.is_(True))
        if webhook_ids is not None:
            query = query.where(WebhookRow.id.in_(list(webhook_ids)))
        targets = [
            webhook_id
            for webhook_id, events in self.session.execute(query)
            if webhook_ids is not None or event_type in (events or [])
        ]
        for webhook_id in targets:
            self.session.add(
                WebhookDeliveryRow(
                    webhook_id=webhook_id,
                    event_id=event_id,
                    event_type=event_type,
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        return len(targets)

    def claim(
        self, now: datetime, lease_until: datetime, worker: str, limit: int
    ) -> list[tuple[WebhookDeliveryRow, WebhookRow]]:
        """Lease up to ``limit`` due deliveries (pending, their time come, no live lease) to
        ``worker`` and return them with their endpoint. A row another dispatcher leased
        between the read and the update is skipped (its UPDATE matches nothing)."""
        free = or_(WebhookDeliveryRow.locked_until.is_(None), WebhookDeliveryRow.locked_until < now)
        due = (
            select(WebhookDeliveryRow.id)
            .where(
                WebhookDeliveryRow.status == "pending",
                WebhookDeliveryRow.next_attempt_at <= now,
                free,
            )
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
            .limit(limit)
        )
        claimed: list[int] = []
        for delivery_id in list(self.session.scalars(due)):
            result = self.session.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == delivery_id,
                    WebhookDeliveryRow.status == "pending",
                    free,
                )
                .values(locked_until=lease_until, locked_by=worker)
                .execution_options(synchronize_session=False)
            )
            if int(result.rowcount) == 1:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
        if not claimed:
            return []
        rows = self.session.execute(
            select(WebhookDeliveryRow, WebhookRow)
            .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
            .where(WebhookDeliveryRow.id.in_(claimed))
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        )
        return [(delivery, webhook) for delivery, webhook in rows.tuples()]

    def settle(self, delivery_id: int, worker: str, **fields: Any) -> bool:
        """Record an attempt's outcome and release the lease, if ``worker`` still holds it
        (a lease that expired and was taken by another dispatcher is that one's now)."""
        result = self.session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id == delivery_id, WebhookDeliveryRow.locked_by == worker)
            .values(locked_until=None, locked_by=None, **fields)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def deliveries(
        self, webhook_id: str, *, status: str | None = None, limit: int = 100
    ) -> list[WebhookDeliveryRow]:
        """An endpoint's delivery log, newest first."""
        query = (
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.webhook_id == webhook_id)
            .order_by(WebhookDeliveryRow.id.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookDeliveryRow.status == status)
        return list(self.session.scalars(query))
