"""/v1/keys: API keys, for administrators (the same as `callytics keys ...`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Admin
from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.access.auth import AccessRole, KeyInfo

router = APIRouter(prefix="/keys", tags=["keys"])


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["reporting-dashboard"])
    role: AccessRole = AccessRole.VIEWER


class KeyOut(KeyInfo):  # KeyInfo under the name OpenAPI has always given it
    pass


class NewKey(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


@router.get("", summary="List API keys (never the keys themselves)", responses=error_responses())
async def list_keys(runtime: RuntimeDep, _admin: Admin) -> list[KeyOut]:
    keys = await asyncio.to_thread(runtime.api_keys.list)
    return [KeyOut.model_validate(info) for info in keys]


@router.post("", status_code=201, summary="Create an API key", responses=error_responses())
async def create_key(runtime: RuntimeDep, admin: Admin, body: KeyIn) -> NewKey:
    issued = await asyncio.to_thread(runtime.api_keys.create, body.name, body.role, admin.actor)
    runtime.auth.refresh()  # the first key turns authentication on in this process
    return NewKey(**issued.info.model_dump(), key=issued.key)


@router.delete(
    "/{key_id}",
    summary="Revoke an API key (at once here, within 5 s elsewhere)",
    responses=error_responses(404),
)
async def revoke_key(runtime: RuntimeDep, admin: Admin, key_id: str) -> KeyOut:
    info = await asyncio.to_thread(runtime.api_keys.revoke, key_id, admin.actor)
    runtime.auth.refresh()
    return KeyOut.model_validate(info)
