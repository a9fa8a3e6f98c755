"""/v1/vocabularies: custom vocabularies, the company's words for the ASR stage (see
core/analysis/vocabulary.py and docs/vocabulary.md).

A vocabulary is global (every call) or a team's (the calls whose metadata ``team`` it
names). Changes apply to the calls analysed from then on; a stored call keeps its
transcript until it is analysed again (``POST /v1/calls/{id}/reanalyze``). Reading needs
the viewer role, creating and changing the analyst role, deleting the admin role (as
custom categories).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Response
from pydantic import ConfigDict
from starlette.exceptions import HTTPException

from api.auth import Admin, Analyst
from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.vocabularies.store import StoredVocabulary, VocabularyExistsError, VocabularyIn

router = APIRouter(prefix="/vocabularies", tags=["vocabularies"])

EXAMPLE: dict[str, Any] = {
    "name": "products",
    "description": "Our product and plan names",
    "scope": "global",
    "terms": ["Zentrix Plus", "Kalvora", "FlexiMax 300"],
    "replacements": [{"spoken": "flexi max", "written": "FlexiMax"}],
}


class VocabularyBody(VocabularyIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})


class VocabularyOut(StoredVocabulary):
    pass


def _conflict(exc: VocabularyExistsError) -> HTTPException:
    error = HTTPException(409, exc.message)
    error.error_code = exc.code  # type: ignore[attr-defined]  # read by api/errors.py
    error.hint = exc.hint  # type: ignore[attr-defined]
    return error


@router.get("", summary="List custom vocabularies", responses=error_responses())
async def list_vocabularies(runtime: RuntimeDep) -> list[VocabularyOut]:
    stored = await asyncio.to_thread(runtime.vocabularies.list)
    return [VocabularyOut.model_validate(v) for v in stored]


@router.post(
    "",
    status_code=201,
    summary="Create a custom vocabulary",
    description="Terms the ASR stage is given (faster-whisper's hotwords) and spoken forms "
    "replaced by written ones in the transcript, for every call (`scope: global`) or the "
    "calls of one team (`scope: team`, the metadata's `team`). Needs the analyst role.",
    responses=error_responses(409),
)
async def create_vocabulary(
    runtime: RuntimeDep, principal: Analyst, body: VocabularyBody
) -> VocabularyOut:
    try:
        stored = await asyncio.to_thread(runtime.vocabularies.create, body, principal.actor)
    except VocabularyExistsError as exc:
        raise _conflict(exc) from exc
    return VocabularyOut.model_validate(stored)


@router.get("/{vocabulary_id}", summary="One custom vocabulary", responses=error_responses(404))
async def get_vocabulary(runtime: RuntimeDep, vocabulary_id: str) -> VocabularyOut:
    stored = await asyncio.to_thread(runtime.vocabularies.get, vocabulary_id)
    return VocabularyOut.model_validate(stored)


@router.put(
    "/{vocabulary_id}",
    summary="Replace a custom vocabulary",
    description="Needs the analyst role. Calls analysed from now on use the new one; stored "
    "calls keep their transcript until they are analysed again.",
    responses=error_responses(404, 409),
)
async def update_vocabulary(
    runtime: RuntimeDep, _analyst: Analyst, vocabulary_id: str, body: VocabularyBody
) -> VocabularyOut:
    try:
        stored = await asyncio.to_thread(runtime.vocabularies.update, vocabulary_id, body)
    except VocabularyExistsError as exc:
        raise _conflict(exc) from exc
    return VocabularyOut.model_validate(stored)


@router.delete(
    "/{vocabulary_id}",
    status_code=204,
    summary="Delete a custom vocabulary",
    description="Needs the admin role.",
    responses=error_responses(404),
)
async def delete_vocabulary(runtime: RuntimeDep, _admin: Admin, vocabulary_id: str) -> Response:
    await asyncio.to_thread(runtime.vocabularies.delete, vocabulary_id)
    return Response(status_code=204)
