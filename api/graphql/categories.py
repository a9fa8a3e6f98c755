"""Custom categories over GraphQL: thin types over :mod:`core.categories.rules`.

The same rules and the same store as REST (``/v1/categories``); conditions travel as JSON
in the shape REST takes and are validated by the same model.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.derived import derived_type, from_model
from core.access.auth import AccessRole
from core.categories.rules import parse_rule
from core.categories.store import ApplyResult as ApplyData
from core.categories.store import Category as CategoryData
from core.errors import NotFoundError


@derived_type(
    CategoryData,
    "A custom category: a rule whose conditions must all hold.",
    {"conditions": "The conditions, as REST's /v1/categories takes them."},
)
class Category:
    id: strawberry.ID
    conditions: JSON


@derived_type(
    ApplyData,
    "What applying a category to the stored calls did.",
    {"scanned": None, "matched": None},
)
class ApplyResult:
    category_id: strawberry.ID


@strawberry.input(description="A custom category's definition.")
class CategoryInput:
    name: str = strawberry.field(description="Unique; letters, digits, `_` and `-`.")
    conditions: JSON = strawberry.field(
        description='A list such as [{"kind": "phrase", "phrases": ["cancel"], "role": '
        '"customer"}, {"kind": "silence", "over_s": 10, "negate": true}].'
    )
    description: str = ""

    def to_data(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "conditions": self.conditions}


async def _saved(info: Info, category: CategoryData, apply: bool) -> Category:
    if apply:
        await asyncio.to_thread(runtime_of(info).categories.apply, category.id)
        category = await asyncio.to_thread(runtime_of(info).categories.get, category.id)
    return from_model(Category, category)


ApplyArg = Annotated[
    bool,
    strawberry.argument(
        description="Also apply it to every stored call now (scans every call); false "
        "leaves the stored calls' tags as they are."
    ),
]


async def categories(info: Info) -> list[Category]:
    principal_of(info)
    stored = await asyncio.to_thread(runtime_of(info).categories.list)
    return [from_model(Category, c) for c in stored]


async def create_category(
    info: Info,
    input: CategoryInput,
    apply: ApplyArg = True,
) -> Category:
    principal = principal_of(info, AccessRole.ANALYST)
    rule = parse_rule(input.to_data())
    category = await asyncio.to_thread(runtime_of(info).categories.create, rule, principal.actor)
    return await _saved(info, category, apply)


async def update_category(
    info: Info,
    id: strawberry.ID,
    input: CategoryInput,
    apply: ApplyArg = True,
) -> Category:
    principal_of(info, AccessRole.ANALYST)
    rule = parse_rule(input.to_data())
    category = await asyncio.to_thread(runtime_of(info).categories.update, str(id), rule)
    return await _saved(info, category, apply)


async def delete_category(info: Info, id: strawberry.ID) -> bool:
    principal_of(info, AccessRole.ADMIN)
    try:
        await asyncio.to_thread(runtime_of(info).categories.delete, str(id))
    except NotFoundError:
        return False
    return True


async def apply_category(info: Info, id: strawberry.ID) -> ApplyResult:
    principal_of(info, AccessRole.ANALYST)
    result = await asyncio.to_thread(runtime_of(info).categories.apply, str(id))
    return from_model(ApplyResult, result)
