"""GraphQL object types derived from the pydantic models that REST answers with.

:func:`derived_type` is strawberry's pydantic integration
(``strawberry.experimental.pydantic.type`` with ``all_fields=True``): the GraphQL type gets
every field of the model, in the model's order, with its name, type and nullability; a
nested model, a list of them or an enum becomes the GraphQL type registered for it. A field
annotated on the class keeps that annotation's type instead (``strawberry.ID``, ``JSON``, or
a GraphQL shape of its own, whose ``from_pydantic`` then converts the model's value).

Two things the integration does not do are added here:

- It gives each field the model's description, which is OpenAPI's, and ignores a
  ``strawberry.field(description=...)`` on the class. GraphQL words some fields its own way
  (or not at all): ``descriptions`` sets those, ``None`` for none.
- mypy does not see the ``from_pydantic`` that the decorator adds; :func:`from_model` calls
  it, typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import strawberry.experimental.pydantic
from pydantic import BaseModel
from strawberry.types import get_object_definition

T = TypeVar("T")


def derived_type(
    model: type[BaseModel],
    description: str,
    descriptions: Mapping[str, str | None] | None = None,
) -> Callable[[type[T]], type[T]]:
    """The GraphQL object type of ``model``, described by ``description``; ``descriptions``:
    GraphQL's own description of a field, where it is not the model's."""

    def wrap(cls: type[T]) -> type[T]:
        derive = strawberry.experimental.pydantic.type(
            model=model, description=description, all_fields=True
        )
        derived = derive(cls)
        definition = get_object_definition(derived, strict=True)
        fields = {f.python_name: f for f in definition.fields}
        for name, text in (descriptions or {}).items():
            fields[name].description = text  # a KeyError here: no such field
        return cast(type[T], derived)

    return wrap


def from_model(type_: type[T], instance: Any) -> T:
    """``type_.from_pydantic(instance)``: the GraphQL object of a model's instance."""
    convert = cast(Callable[[Any], T], type_.from_pydantic)  # type: ignore[attr-defined]
    return convert(instance)
