"""Who created, last changed and deleted a stored call, and when (kept after a delete):
what :meth:`core.calls.catalog.CallCatalog.audit` reads, as REST and GraphQL show it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class CallAudit(BaseModel):
    """Who created, last changed and deleted a call ("key:<id>", "jwt:<subject>", or
    "local" with authentication off), and when."""

    call_id: str
    status: Literal["active", "deleted"]
    created_at: datetime
    created_by: str | None
    updated_at: datetime | None
    updated_by: str | None
    deleted_at: datetime | None
    deleted_by: str | None
