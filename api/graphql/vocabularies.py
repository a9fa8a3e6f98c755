"""Custom vocabularies over GraphQL: thin types over :mod:`core.vocabularies.store`.

The same checks and the same store as REST (``/v1/vocabularies``).
"""

from __future__ import annotations

import asyncio

import strawberry
from strawberry.scalars import JSON

from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.derived import derived_type, from_model
from core.access.auth import AccessRole
from core.errors import NotFoundError
from core.vocabularies.store import StoredVocabulary, parse_vocabulary


@derived_type(
    StoredVocabulary,
    "A custom vocabulary: terms for the ASR stage and a replacement table, for every call "
    "or one team's.",
    {"replacements": "[{spoken, written}]: spoken forms and what is written instead."},
)
class Vocabulary:
    id: strawberry.ID
    replacements: JSON


@strawberry.input(description="A spoken form and the written form it stands for.")
class ReplacementInput:
    spoken: str = strawberry.field(description="What the ASR writes (any case, whole words).")
    written: str


@strawberry.input(description="A custom vocabulary's definition.")
class VocabularyInput:
    name: str = strawberry.field(description="Unique; letters, digits, `_` and `-`.")
    scope: str = strawberry.field(
        default="global", description="`global` (every call) or `team` (the metadata's team)."
    )
    team: str | None = strawberry.field(default=None, description="With scope `team`.")
    terms: list[str] = strawberry.field(
        default_factory=list, description="Names the ASR stage should recognise."
    )
    replacements: list[ReplacementInput] = strawberry.field(default_factory=list)
    description: str = ""

    def to_data(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "scope": self.scope,
            "team": self.team,
            "terms": list(self.terms),
            "replacements": [{"spoken": r.spoken, "written": r.written} for r in self.replacements],
        }


async def vocabularies(info: Info) -> list[Vocabulary]:
    principal_of(info)
    stored = await asyncio.to_thread(runtime_of(info).vocabularies.list)
    return [from_model(Vocabulary, v) for v in stored]


async def create_vocabulary(info: Info, input: VocabularyInput) -> Vocabulary:
    principal = principal_of(info, AccessRole.ANALYST)
    data = parse_vocabulary(input.to_data())
    stored = await asyncio.to_thread(runtime_of(info).vocabularies.create, data, principal.actor)
    return from_model(Vocabulary, stored)


async def update_vocabulary(info: Info, id: strawberry.ID, input: VocabularyInput) -> Vocabulary:
    principal_of(info, AccessRole.ANALYST)
    data = parse_vocabulary(input.to_data())
    stored = await asyncio.to_thread(runtime_of(info).vocabularies.update, str(id), data)
    return from_model(Vocabulary, stored)


async def delete_vocabulary(info: Info, id: strawberry.ID) -> bool:
    principal_of(info, AccessRole.ADMIN)
    try:
        await asyncio.to_thread(runtime_of(info).vocabularies.delete, str(id))
    except NotFoundError:
        return False
    return True
