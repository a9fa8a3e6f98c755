"""/v1/categories: custom categories, rules that tag calls (see core/categories/rules.py).

Every analysed call is tagged with the categories it matches when it is stored (and again
when it is re-analysed). A category that is created or changed is applied to the calls
already stored when ``apply=true`` (the default), in the request itself: that scans every
stored call, so with many calls pass ``apply=false`` and call ``POST …/{id}/apply`` later.
With ``apply=false`` a changed category keeps its old tags until it is applied.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import ConfigDict
from starlette.exceptions import HTTPException

from api.auth import Admin, Analyst
from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from api.runtime import Runtime
from core.categories.rules import CategoryExistsError, CategoryRule
from core.categories.store import ApplyResult, Category

router = APIRouter(prefix="/categories", tags=["categories"])

APPLY = Annotated[
    bool,
    Query(
        description="Also evaluate the category over every stored call now and replace its "
        "tags (scans every call; `false` leaves the stored calls' tags as they are)."
    ),
]

EXAMPLE: dict[str, Any] = {
    "name": "cancellation-risk",
    "description": "An unhappy customer who talks about cancelling",
    "conditions": [
        {"kind": "phrase", "phrases": ["cancel", "close my account"], "role": "customer"},
        {"kind": "sentiment", "subject": "customer", "below": -0.2},
        {"kind": "phrase", "phrases": ["anything else"], "role": "agent", "negate": True},
    ],
}


class CategoryIn(CategoryRule):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})


# The core models under the names the OpenAPI document has always given them.
class CategoryOut(Category):
    pass


class ApplyOut(ApplyResult):
    pass


def _conflict(exc: CategoryExistsError) -> HTTPException:
    error = HTTPException(409, exc.message)
    error.error_code = exc.code  # type: ignore[attr-defined]  # read by api/errors.py
    error.hint = exc.hint  # type: ignore[attr-defined]
    return error


async def _saved(runtime: Runtime, category: Category, apply: bool) -> CategoryOut:
    store = runtime.categories
    if apply:
        await asyncio.to_thread(store.apply, category.id)
        category = await asyncio.to_thread(store.get, category.id)
    return CategoryOut.model_validate(category)


@router.get("", summary="List custom categories", responses=error_responses())
async def list_categories(runtime: RuntimeDep) -> list[CategoryOut]:
    categories = await asyncio.to_thread(runtime.categories.list)
    return [CategoryOut.model_validate(c) for c in categories]


@router.post(
    "",
    status_code=201,
    summary="Create a custom category",
    description="A rule whose conditions must all hold (each may be negated). Needs the "
    "analyst role. With `apply=true` (the default) it is applied to every stored call "
    "before the answer; new calls are tagged when they are analysed.",
    responses=error_responses(409),
)
async def create_category(
    runtime: RuntimeDep, principal: Analyst, body: CategoryIn, apply: APPLY = True
) -> CategoryOut:
    try:
        category = await asyncio.to_thread(runtime.categories.create, body, principal.actor)
    except CategoryExistsError as exc:
        raise _conflict(exc) from exc
    return await _saved(runtime, category, apply)


@router.get("/{category_id}", summary="One custom category", responses=error_responses(404))
async def get_category(runtime: RuntimeDep, category_id: str) -> CategoryOut:
    return CategoryOut.model_validate(await asyncio.to_thread(runtime.categories.get, category_id))


@router.put(
    "/{category_id}",
    summary="Replace a custom category's name, description and conditions",
    description="Needs the analyst role. With `apply=true` (the default) every stored call "
    "is evaluated again; with `apply=false` the calls keep their tags until the next apply.",
    responses=error_responses(404, 409),
)
async def update_category(
    runtime: RuntimeDep, _analyst: Analyst, category_id: str, body: CategoryIn, apply: APPLY = True
) -> CategoryOut:
    try:
        category = await asyncio.to_thread(runtime.categories.update, category_id, body)
    except CategoryExistsError as exc:
        raise _conflict(exc) from exc
    return await _saved(runtime, category, apply)


@router.delete(
    "/{category_id}",
    status_code=204,
    summary="Delete a custom category and its tags",
    description="Needs the admin role.",
    responses=error_responses(404),
)
async def delete_category(runtime: RuntimeDep, _admin: Admin, category_id: str) -> Response:
    await asyncio.to_thread(runtime.categories.delete, category_id)
    return Response(status_code=204)


@router.post(
    "/{category_id}/apply",
    summary="Apply a custom category to every stored call",
    description="Evaluates the category over every stored (not deleted) call, in this "
    "request, and replaces its tags: it scans every call, so it takes longer the more calls "
    "there are. Needs the analyst role.",
    responses=error_responses(404),
)
async def apply_category(runtime: RuntimeDep, _analyst: Analyst, category_id: str) -> ApplyOut:
    result = await asyncio.to_thread(runtime.categories.apply, category_id)
    return ApplyOut.model_validate(result)
