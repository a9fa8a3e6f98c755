"""Alembic migrations (run by ``Database.upgrade``)."""

from __future__ import annotations


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out what core.calls.search adds at run time on pgvector (the vector column and its
    indexes), so that autogenerate never proposes dropping them."""
    return not (name or "").startswith(("embedding_v", "ix_utterances_embedding_v"))
