"""Custom vocabularies kept (table ``vocabularies``) and found for a call.

A vocabulary is global (every call) or a team's (the calls whose metadata has that
``team``). The terms and replacements themselves, how they are merged with a call's own and
how they are applied: core/analysis/vocabulary.py.
"""

from __future__ import annotations

import builtins
import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.exc import IntegrityError

from core.analysis.vocabulary import (
    HINT,
    MAX_PROMPT_TOKENS,
    MAX_REPLACEMENTS,
    MAX_TERMS,
    Replacement,
    Vocabulary,
    clean_replacements,
    clean_terms,
    estimate_tokens,
    hotwords,
)
from core.categories.rules import describe_errors
from core.errors import InvalidInputError, NotFoundError
from core.persistence.database import Database
from core.persistence.models import VocabularyRow, utcnow
from core.persistence.repositories import as_utc
from core.persistence.unit_of_work import UnitOfWork

NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,100}$")


class VocabularyExistsError(InvalidInputError):
    """Another vocabulary already has this name (REST answers 409)."""

    code = "vocabulary_exists"


class ReplacementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spoken: str = Field(
        min_length=1,
        max_length=200,
        description="What Whisper writes (case-insensitive).",
        examples=["flexi max"],
    )
    written: str = Field(
        min_length=1, max_length=60, description="What it stands for.", examples=["FlexiMax"]
    )


class VocabularyIn(BaseModel):
    """A vocabulary as a client defines it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Unique; letters, digits, `_` and `-` (stored lower-case).",
        examples=["products"],
    )
    description: str = Field(default="", max_length=2000)
    scope: Literal["global", "team"] = Field(
        default="global",
        description="`global`: every call; `team`: the calls whose metadata `team` is `team`.",
    )
    team: str | None = Field(
        default=None, max_length=200, description="The team, with scope `team` (only then)."
    )
    terms: list[str] = Field(
        default_factory=list,
        max_length=MAX_TERMS,
        description=f"Names the ASR should recognise (at most {MAX_TERMS}, each at most 60 "
        f"characters, together about {MAX_PROMPT_TOKENS} Whisper tokens).",
        examples=[["Zentrix Plus", "Kalvora", "FlexiMax 300"]],
    )
    replacements: list[ReplacementIn] = Field(
        default_factory=list,
        max_length=MAX_REPLACEMENTS,
        description="Spoken forms and what to write instead (whole words, any case).",
        examples=[[{"spoken": "flexi max", "written": "FlexiMax"}]],
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        name = name.strip().lower()
        if not NAME_PATTERN.match(name):
            raise ValueError("use 1 to 100 letters, digits, '_' or '-'")
        return name

    @field_validator("terms")
    @classmethod
    def _terms(cls, terms: list[str]) -> list[str]:
        try:
            cleaned = list(clean_terms(terms))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from exc
        tokens = estimate_tokens(hotwords(cleaned))
        if tokens > MAX_PROMPT_TOKENS:
            raise ValueError(
                f"the terms come to about {tokens} Whisper tokens, over the "
                f"{MAX_PROMPT_TOKENS} its prompt holds: keep the names the ASR gets wrong, "
                "or split them into team vocabularies"
            )
        return cleaned

    @field_validator("replacements")
    @classmethod
    def _replacements(cls, items: list[ReplacementIn]) -> list[ReplacementIn]:
        try:
            cleaned = clean_replacements(i.model_dump() for i in items)
        except InvalidInputError as exc:
            raise ValueError(exc.message) from exc
        return [ReplacementIn(spoken=r.spoken, written=r.written) for r in cleaned]

    @model_validator(mode="after")
    def _scope(self) -> Self:
        self.team = (self.team or "").strip() or None
        if self.scope == "team" and self.team is None:
            raise ValueError("a vocabulary of scope `team` needs `team`")
        if self.scope == "global" and self.team is not None:
            raise ValueError("a global vocabulary has no `team` (use scope `team`)")
        if not self.terms and not self.replacements:
            raise ValueError("a vocabulary needs terms, replacements or both")
        return self


def parse_vocabulary(data: Any) -> VocabularyIn:
    """A vocabulary from plain data (GraphQL); InvalidInputError says what is wrong."""
    try:
        return VocabularyIn.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc), HINT) from exc


class StoredVocabulary(BaseModel):
    """A stored vocabulary (REST answers with it; GraphQL's type is derived from it)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    name: str
    description: str
    scope: str = Field(description="`global` or `team`.")
    team: str | None
    terms: list[str]
    replacements: list[dict[str, str]] = Field(description="[{spoken, written}].")
    created_at: datetime
    created_by: str | None
    updated_at: datetime


def _stored(row: VocabularyRow) -> StoredVocabulary:
    return StoredVocabulary(
        id=row.id,
        name=row.name,
        description=row.description,
        scope=row.scope,
        team=row.team,
        terms=list(row.terms or []),
        replacements=list(row.replacements or []),
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        updated_at=as_utc(row.updated_at),
    )


def _vocabulary(row: VocabularyRow) -> Vocabulary:
    source = f"team:{row.team}" if row.scope == "team" else f"global:{row.name}"
    return Vocabulary(
        tuple(row.terms or ()),
        tuple(Replacement(r["spoken"], r["written"]) for r in row.replacements or ()),
        source,
    )


class VocabularyStore:
    """The vocabularies. Every method is its own transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def list(self) -> list[StoredVocabulary]:
        with UnitOfWork(self.database) as uow:
            return [_stored(r) for r in uow.vocabularies.all()]

    def get(self, vocabulary_id: str) -> StoredVocabulary:
        with UnitOfWork(self.database) as uow:
            return _stored(self._require(uow, vocabulary_id))

    def create(self, data: VocabularyIn, created_by: str | None = None) -> StoredVocabulary:
        try:
            with UnitOfWork(self.database) as uow:
                self._check_name(uow, data.name)
                row = uow.vocabularies.add(
                    str(uuid.uuid4()),
                    name=data.name,
                    description=data.description,
                    scope=data.scope,
                    team=data.team,
                    terms=list(data.terms),
                    replacements=[r.model_dump() for r in data.replacements],
                    created_by=created_by,
                    at=utcnow(),
                )
        except IntegrityError as exc:  # created at the same time elsewhere
            raise self._exists(data.name) from exc
        return _stored(row)

    def update(self, vocabulary_id: str, data: VocabularyIn) -> StoredVocabulary:
        """Replace a vocabulary whole; calls analysed from now on use the new one."""
        try:
            with UnitOfWork(self.database) as uow:
                row = self._require(uow, vocabulary_id)
                if data.name != row.name:
                    self._check_name(uow, data.name)
                row.name = data.name
                row.description = data.description
                row.scope = data.scope
                row.team = data.team
                row.terms = list(data.terms)
                row.replacements = [r.model_dump() for r in data.replacements]
                row.updated_at = utcnow()
                uow.flush()
                return _stored(row)
        except IntegrityError as exc:
            raise self._exists(data.name) from exc

    def delete(self, vocabulary_id: str) -> None:
        with UnitOfWork(self.database) as uow:
            self._require(uow, vocabulary_id)
            uow.vocabularies.delete(vocabulary_id)

    def for_call(self, team: str | None) -> builtins.list[Vocabulary]:
        """The vocabularies of a call of ``team``: the team's, then the global ones
        (:class:`core.analysis.vocabulary.VocabularySource`)."""
        with UnitOfWork(self.database) as uow:
            return [_vocabulary(r) for r in uow.vocabularies.for_team(team)]

    @staticmethod
    def _require(uow: UnitOfWork, vocabulary_id: str) -> VocabularyRow:
        row = uow.vocabularies.get(vocabulary_id)
        if row is None:
            raise NotFoundError(
                f"No vocabulary {vocabulary_id}.", "List vocabularies with GET /v1/vocabularies."
            )
        return row

    def _check_name(self, uow: UnitOfWork, name: str) -> None:
        if uow.vocabularies.name_taken(name):
            raise self._exists(name)

    @staticmethod
    def _exists(name: str) -> VocabularyExistsError:
        return VocabularyExistsError(
            f"A vocabulary named {name!r} already exists.",
            "Choose another name, or change that one with PUT /v1/vocabularies/{id}.",
        )


# ---------------------------------------------------------------- a call's own, on upload
def _check_call_terms(terms: list[str]) -> list[str]:
    return VocabularyIn._terms(terms)  # the same limits as a stored vocabulary's


def _json_items(value: Any) -> Any:
    """A form sends each replacement as text: a JSON object, or one JSON array of them."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return value
    items: list[Any] = []
    for item in value:
        if isinstance(item, str):
            try:
                item = json.loads(item) if item.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(
                    'each replacement is a JSON object such as {"spoken": "flexi max", '
                    f'"written": "FlexiMax"}} ({exc.msg})'
                ) from exc
        items.extend(item if isinstance(item, list) else [item])
    return items


def _check_call_replacements(items: list[ReplacementIn]) -> list[ReplacementIn]:
    return VocabularyIn._replacements(items)


CallTerms = Annotated[
    list[str],
    AfterValidator(_check_call_terms),
    Field(
        description="This call's own vocabulary terms, with its team's and the global "
        "vocabularies' (GET /v1/vocabularies): names the ASR should recognise. A form sends "
        "one field per term.",
        examples=[["Zentrix Plus", "Kalvora"]],
    ),
]
CallReplacements = Annotated[
    list[ReplacementIn],
    BeforeValidator(_json_items),
    AfterValidator(_check_call_replacements),
    Field(
        description="This call's own replacements: spoken forms and their written forms. A "
        'form sends a JSON array, or one field per JSON object ({"spoken": …, "written": …}).',
    ),
]


class _CallVocabulary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: CallTerms = Field(default_factory=list)
    replacements: CallReplacements = Field(default_factory=list)


def parse_call_vocabulary(
    terms: Any, replacements: Any
) -> tuple[tuple[str, ...], tuple[dict[str, str], ...]]:
    """A call's own terms and replacements from plain data (GraphQL), checked as REST
    checks them; InvalidInputError says what is wrong."""
    try:
        checked = _CallVocabulary.model_validate(
            {"terms": terms or [], "replacements": replacements or []}
        )
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc), HINT) from exc
    return tuple(checked.terms), tuple(r.model_dump() for r in checked.replacements)
