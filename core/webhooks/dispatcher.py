"""The dispatcher: sends what the outbox holds, signed, and retries with backoff.

Each serving process (``callytics serve``, ``callytics worker``) runs one as an asyncio task.
A round claims a batch of due deliveries with a lease (core/persistence/repositories/
webhooks.py: two dispatchers never hold one row at once), POSTs each with a timeout, and
records the outcome: 2xx delivered; anything else (an error, a timeout, a redirect, a 4xx or
5xx) is tried again after an exponential backoff with jitter, up to ``max_attempts`` tries,
then failed. A 410 Gone disables the endpoint: it gets no new events and what it had
pending fails (delete it and add it again to resume). A process that dies mid-send leaves
a lease that expires; the row is sent again then: delivery is at least once, and the
``Callytics-Delivery`` header (the event id) lets a receiver drop a repeat.

The clock and the jitter are injected, so tests drive the schedule without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.persistence.database import Database
from core.persistence.models import WebhookDeliveryRow, WebhookRow, utcnow
from core.persistence.unit_of_work import UnitOfWork
from core.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
USER_AGENT = "Callytics-Webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    """``base_s`` doubles with each failed try up to ``max_s``; the wait is that delay's
    upper half at random ("equal jitter"), so endpoints that failed together spread out."""

    base_s: float = 5.0
    max_s: float = 3600.0
    max_attempts: int = 15

    def delay(self, failed: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``failed``-th failed try (1, 2, ...)."""
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(0, failed - 1))
        return ceiling / 2 + ceiling / 2 * rng()


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None
    error: str | None
    gone: bool = False


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        *,
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        poll_s: float = 1.0,
        batch: int = 20,
        clock: Clock = utcnow,
        rng: Callable[[], float] = random.random,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.database = database
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.batch = batch
        self.clock = clock
        self.rng = rng
        # A crashed sender's rows are sent again once this passes (longer than any send).
        self.lease = timedelta(seconds=3 * timeout_s + 5)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._client = client
        self._own_client = client is None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again next round
                log.warning("webhook dispatcher: %s", exc)
                sent = 0
            if sent < self.batch:
                await asyncio.sleep(self.poll_s)  # the poll interval, not a synchronisation

    # ------------------------------------------------------------------ one round
    async def run_once(self) -> int:
        """Claim the due deliveries (one batch), send them, record each outcome; how many
        were attempted."""
        now = self.clock()
        claimed = await asyncio.to_thread(self._claim, now)
        if not claimed:
            return 0
        try:
            outcomes = await asyncio.gather(*(self._send(d, w) for d, w in claimed))
        except asyncio.CancelledError:  # shutting down: the next process sends them at once
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(self._release, claimed))
            raise
        await asyncio.to_thread(self._settle, claimed, outcomes)
        return len(claimed)

    def _release(self, claimed: list[tuple[WebhookDeliveryRow, WebhookRow]]) -> None:
        with UnitOfWork(self.database) as uow:
            for delivery, _ in claimed:
                uow.webhooks.settle(delivery.id, self.worker)

    def _claim(self, now: datetime) -> list[tuple[WebhookDeliveryRow, WebhookRow]]:
        with UnitOfWork(self.database) as uow:
            return uow.webhooks.claim(now, now + self.lease, self.worker, self.batch)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_s,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    async def _send(self, delivery: WebhookDeliveryRow, webhook: WebhookRow) -> Outcome:
        body = body_of(delivery.payload)
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: delivery.event_type,
            DELIVERY_HEADER: delivery.event_id,
            SIGNATURE_HEADER: signature_header(webhook.secret, timestamp, body),
        }
        try:
            response = await self.client().post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500] or "error")
        status = response.status_code
        if 200 <= status < 300:
            return Outcome(True, status, None)
        error = f"HTTP {status}: {response.text[:200]}".strip()
        return Outcome(False, status, error, gone=status == 410)

    def _settle(
        self,
        claimed: list[tuple[WebhookDeliveryRow, WebhookRow]],
        outcomes: list[Outcome],
    ) -> None:
        now = self.clock()
        gone: dict[str, str] = {}
        with UnitOfWork(self.database) as uow:
            for (delivery, webhook), outcome in zip(claimed, outcomes, strict=True):
                attempts = delivery.attempts + 1
                fields: dict[str, Any] = {
                    "attempts": attempts,
                    "last_status": outcome.status,
                    "last_error": outcome.error,
                }
                if outcome.delivered:
                    fields.update(status="delivered", delivered_at=now)
                elif outcome.gone or attempts >= self.policy.max_attempts:
                    fields["status"] = "failed"
                else:
                    wait = self.policy.delay(attempts, self.rng)
                    fields["next_attempt_at"] = now + timedelta(seconds=wait)
                if not uow.webhooks.settle(delivery.id, self.worker, **fields):
                    log.warning("webhook delivery %d: lease lost while sending", delivery.id)
                    continue
                if outcome.gone:
                    gone[webhook.id] = f"{webhook.url} answered 410 Gone: disabled"
                elif not outcome.delivered:
                    log.info(
                        "webhook delivery %d (%s) attempt %d failed: %s",
                        delivery.id,
                        delivery.event_type,
                        attempts,
                        outcome.error,
                    )
            for webhook_id, reason in gone.items():  # once this batch's rows are settled
                log.warning("webhook %s: %s", webhook_id, reason)
                uow.webhooks.disable(webhook_id, reason)
