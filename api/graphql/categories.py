"""Custom categories over GraphQL: thin types over :mod:`core.categories`.

The same rules and the same store as REST (``/v1/categories``); conditions travel as JSON
in the shape REST takes and are validated by the same model.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info, principal_of, runtime_of
from core.auth import AccessRole
from core.categories import Category as CategoryData
from core.categories import CategoryStore, parse_rule
from core.errors import NotFoundError


@strawberry.type(description="A custom category: a rule whose conditions must all hold.")
class Category:
    id: strawberry.ID
    name: str
    description: str
    conditions: JSON = strawberry.field(
        description="The conditions, as REST's /v1/categories takes them."
    )
    created_at: datetime
    created_by: str | None
    updated_at: datetime
    calls: int = strawberry.field(description="Stored calls tagged with it now.")

    @classmethod
    def from_data(cls, c: CategoryData) -> Category:
        return cls(
            id=strawberry.ID(c.id),
            name=c.name,
            description=c.description,
            conditions=JSON(c.conditions),
            created_at=c.created_at,
            created_by=c.created_by,
            updated_at=c.updated_at,
            calls=c.calls,
        )


@strawberry.type(description="What applying a category to the stored calls did.")
class ApplyResult:
    category_id: strawberry.ID
    name: str
    scanned: int
    matched: int


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


def _store(info: Info) -> CategoryStore:
    return CategoryStore(runtime_of(info).database)


async def _saved(info: Info, category: CategoryData, apply: bool) -> Category:
    if apply:
        await asyncio.to_thread(_store(info).apply, category.id)
        category = await asyncio.to_thread(_store(info).get, category.id)
    return Category.from_data(category)


ApplyArg = Annotated[
    bool,
    strawberry.argument(
        description="Also apply it to every stored call now (scans every call); false "
        "leaves the stored calls' tags as they are."
    ),
]


async def categories(info: Info) -> list[Category]:
    principal_of(info)
    return [Category.from_data(c) for c in await asyncio.to_thread(_store(info).list)]


async def create_category(
    info: Info,
    input: CategoryInput,
    apply: ApplyArg = True,
) -> Category:
    principal = principal_of(info, AccessRole.ANALYST)
    rule = parse_rule(input.to_data())
    category = await asyncio.to_thread(_store(info).create, rule, principal.actor)
    return await _saved(info, category, apply)


async def update_category(
    info: Info,
    id: strawberry.ID,
    input: CategoryInput,
    apply: ApplyArg = True,
) -> Category:
    principal_of(info, AccessRole.ANALYST)
    rule = parse_rule(input.to_data())
    category = await asyncio.to_thread(_store(info).update, str(id), rule)
    return await _saved(info, category, apply)


async def delete_category(info: Info, id: strawberry.ID) -> bool:
    principal_of(info, AccessRole.ADMIN)
    try:
        await asyncio.to_thread(_store(info).delete, str(id))
    except NotFoundError:
        return False
    return True


async def apply_category(info: Info, id: strawberry.ID) -> ApplyResult:
    principal_of(info, AccessRole.ANALYST)
    result = await asyncio.to_thread(_store(info).apply, str(id))
    return ApplyResult(
        category_id=strawberry.ID(result.category_id),
        name=result.name,
        scanned=result.scanned,
        matched=result.matched,
    )
